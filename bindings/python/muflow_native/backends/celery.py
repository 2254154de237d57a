"""Running plans on Celery workers, with a Redis broker and result backend.

Two modes:

- ``mode="levels"`` (the default, muflow's): the plan's topological levels become a
  chain of chords, each level a group that waits for the whole previous level. The
  node messages are muflow's (``[node_key, payload, bucket]``, immutable), so muflow's
  and muflow_native's workers can serve the same queues.
- ``mode="dependencies"``: a node is queued the moment its own dependencies have
  finished. Each node's count of unfinished dependencies lives in Redis; the worker
  that finishes a node decrements its dependents' counts atomically and queues those
  that reach zero, so the submitting process may exit once submit_plan returns. Nodes
  already complete are settled at submission and never queued.

In both modes a node is complete by the core's stale-input rule on S3 (see
_celery_cache.py): its manifest records the inputs it would have now, or none (muflow's).
A stale node runs again; a node whose dependency runs first is queued and checked by its
worker; only current nodes are settled, and level mode leaves them out of its chords.

In both modes the PlanHandle's plan_id is a run id whose state the result backend
holds (pending, started, success, failure, revoked), so `PlanHandle.get_state()`
answers from any process. Storage is an S3 bucket (``bucket=``) or a directory that
every worker mounts at the same path (``shared_directory=``).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import TYPE_CHECKING, Optional

from .. import _ffi, registry
from ..plan import TaskPlan, plan_view
from ._celery_cache import settled_entries, submission_states
from ._celery_messages import _RECHECK, _headers, send_nodes
from ._celery_runs import RunStore, node_task_id, plan_identity
from ._celery_storage import CeleryStorage
from ._celery_worker import NodeRunner
from .callbacks import CeleryCompletionCallback
from .handle import PlanHandle, celery_state

if TYPE_CHECKING:
    from ..plan import TaskNode
    from .callbacks import CompletionCallback

_log = logging.getLogger(__name__)

MODES = ("levels", "dependencies")


class CeleryBackend:
    """Submits plans to Celery workers started with `create_celery_task`.

    Give `bucket` for S3 storage (muflow's) or `shared_directory` for a directory
    every worker mounts; `mode` is "levels" (muflow's chords, the default) or
    "dependencies". The app's result backend must be Redis.
    """

    def __init__(
        self,
        celery_app,
        bucket: Optional[str] = None,
        base_prefix: str = "muflow",
        task_name: str = "muflow.execute_node",
        *,
        mode: str = "levels",
        shared_directory: Optional[str] = None,
    ):
        if mode not in MODES:
            raise ValueError(f"Unknown mode {mode!r}: expected 'levels' or 'dependencies'")
        self._app = celery_app
        self._storage = CeleryStorage.choose(bucket, shared_directory)
        self._bucket = self._storage.message_bucket
        self._base_prefix = base_prefix
        self._task_name = task_name
        self.mode = mode
        self._plan_results: dict[str, object] = {}  # plan_id -> AsyncResult, as in muflow
        self._runs: Optional[RunStore] = None

    @property
    def runs(self) -> RunStore:
        if self._runs is None:
            self._runs = RunStore(self._app)
        return self._runs

    def submit_plan(self, plan: "TaskPlan", completion_callback: Optional["CompletionCallback"] = None) -> "PlanHandle":
        """Queues the plan and returns at once with its handle."""
        if completion_callback is not None and not isinstance(completion_callback, CeleryCompletionCallback):
            raise TypeError(
                "CeleryBackend notifies completion through Celery: pass a CeleryCompletionCallback, "
                f"not {type(completion_callback).__name__}, or poll the PlanHandle"
            )
        if not isinstance(plan, TaskPlan):
            plan = TaskPlan.from_json(plan.to_json())
        run_id = str(uuid.uuid4())
        callback = None
        if completion_callback is not None:
            callback = {"task": completion_callback._task_name, "queue": completion_callback._queue,
                        "plan": plan.root_key}
        identity = plan_identity(plan.root_key, self._storage.to_header() or f"s3:{self._storage.location}")
        if self.mode == "levels":
            self._submit_levels(plan, run_id, identity, callback)
        else:
            self._submit_dependencies(plan, run_id, identity, callback)
        self._plan_results[run_id] = self._app.AsyncResult(run_id)
        return PlanHandle.model_construct(
            backend="celery",
            plan_id=run_id,
            node_prefixes=plan_view(plan).storage_prefixes(),
            storage_type=self._storage.kind,
            storage_config=self._storage.handle_config,
        )

    def get_plan_state(self, plan_id: str) -> str:
        """"pending", "running", "success" or "failure" (a cancelled plan: "failure")."""
        return celery_state(self._app, plan_id)

    def stale_nodes(self, plan_id: str) -> int:
        """How many nodes of the run were found stale (complete, but recorded with inputs
        that have changed since) and run again: at submission and by workers."""
        return self.runs.stale(plan_id)

    def cancel_plan(self, plan_id: str) -> None:
        """No further node of the plan starts; its queued nodes are revoked."""
        self.runs.cancel(plan_id)
        _log.info("Cancelled plan %s", plan_id)

    # -- Level mode (muflow's) -------------------------------------------------------------

    def _compute_levels(self, plan: "TaskPlan") -> list[list["TaskNode"]]:
        """The plan's nodes by topological level, from the native plan."""
        plan = _native_plan(plan)
        return [[plan.nodes[key] for key in level] for level in plan.levels()]

    def _build_celery_task(self, levels: list[list["TaskNode"]], plan: "TaskPlan"):
        """muflow's canvas: one group per level, each level a chord over the previous."""
        return self._level_canvas([[self._make_node_task(node, plan) for node in level] for level in levels], None)

    def _make_node_task(self, node: "TaskNode", plan: "TaskPlan"):
        """The immutable message of one node, sent to the queue its task was registered
        with ("default" for an unregistered task, such as a pipeline's sentinel root)."""
        payload = {
            "task_name": node.function,
            "kwargs": node.kwargs,
            "storage_prefix": node.storage_prefix,
            "dependency_prefixes": node.dependency_access_map,
        }
        return self._app.signature(self._task_name, args=[node.key, payload, self._bucket],
                                   queue=_queue_of(node.function), immutable=True)

    @staticmethod
    def _level_canvas(groups: list, final):
        from celery import chord, group

        canvas = final
        for signatures in reversed(groups):
            canvas = group(signatures) if canvas is None else chord(group(signatures), canvas)
        return canvas

    def _submit_levels(self, plan: "TaskPlan", run_id: str, identity: str, callback: Optional[dict]) -> None:
        native = _native_plan(plan)
        view = plan_view(native)
        index, root, sentinel = view.index, native.root_key, view.sentinel_key()
        states, entries = submission_states(self._storage, native, self._base_prefix, self.runs, identity)
        if all(state == _ffi.NODE_CURRENT for state in states):
            self._settle_cached(native, run_id, identity, callback, settled_entries(native, states, entries))
            return
        groups = []
        for level in self._compute_levels(native):
            signatures = []
            for node in level:
                state = states[index[node.key]]
                if state == _ffi.NODE_CURRENT:
                    continue
                signature = self._make_node_task(node, native)
                signature.set(task_id=node_task_id(run_id, index[node.key]),
                              headers=self._headers(run_id, node.key == sentinel,
                                                    **({_RECHECK: True} if state == _ffi.NODE_RECHECK else {})))
                signatures.append(signature)
            if signatures:
                groups.append(signatures)
        # The last task of the chain holds the run's id, so its result is the plan's.
        if callback is not None:
            final = self._app.signature("muflow.send_completion", args=[callback["plan"], callback["task"],
                                                                        callback["queue"]],
                                        immutable=True, queue=callback["queue"], task_id=run_id)
        else:
            final = self._app.signature("celery.accumulate", immutable=True, queue=_queue_of(native.nodes[root].function),
                                        task_id=run_id)
        stale = states.count(_ffi.NODE_STALE)
        previous = self.runs.create(run_id, identity, len(native.nodes), outputs=settled_entries(native, states, entries),
                                    stale=stale)
        if previous:
            self.runs.supersede(previous)
        self._level_canvas(groups, final).apply_async()
        _log.info("Submitted plan %s... (%d nodes, %d cached, %d stale, %d levels) as run %s", root[:16],
                  len(native.nodes), states.count(_ffi.NODE_CURRENT), stale, len(groups), run_id)

    def _settle_cached(self, plan: "TaskPlan", run_id: str, identity: str, callback: Optional[dict],
                       outputs: dict) -> None:
        """A run whose every node is cached: it succeeds at once, queuing nothing. It keeps
        the manifests' entries in Redis, for the plan's next submission."""
        previous = self.runs.create(run_id, identity, len(plan_view(plan).keys), status="success", outputs=outputs)
        if previous:
            self.runs.supersede(previous)
        self._app.backend.mark_as_done(run_id, {"plan": plan.root_key, "cached": len(plan_view(plan).keys)})
        if callback is not None:
            self._app.send_task(callback["task"], args=[callback["plan"], True, None], queue=callback["queue"])

    # -- Dependency mode -------------------------------------------------------------------

    def _submit_dependencies(self, plan: "TaskPlan", run_id: str, identity: str, callback: Optional[dict]) -> None:
        view = plan_view(plan)
        keys = view.keys
        states, entries = submission_states(self._storage, plan, self._base_prefix, self.runs, identity)
        to_run = [i for i, state in enumerate(states) if state != _ffi.NODE_CURRENT]
        if not to_run:
            self._settle_cached(plan, run_id, identity, callback, settled_entries(plan, states, entries))
            return
        group_of, group_dependencies = view.dependency_groups()
        running = set(to_run)
        dependents: dict[int, list[int]] = {}
        waiting: dict[int, int] = {}
        for i in to_run:
            unfinished = [d for d in group_dependencies[group_of[i]] if d in running]
            waiting[i] = len(unfinished)
            for d in unfinished:
                dependents.setdefault(d, []).append(i)
        sentinel_key = view.sentinel_key()
        sentinel = view.index[sentinel_key] if sentinel_key is not None else None
        messages = {i: self._message(plan, i, dependents.get(i, []), i == sentinel) for i in to_run}
        for i in to_run:
            if states[i] == _ffi.NODE_RECHECK:
                messages[i]["recheck"] = True
        ready = [i for i in to_run if waiting[i] == 0]
        later = {i: json.dumps(messages[i]) for i in to_run if waiting[i]}
        stale = states.count(_ffi.NODE_STALE)
        previous = self.runs.create(run_id, identity, len(keys), callback=callback, nodes=later,
                                    waiting={i: waiting[i] for i in later}, left=len(to_run),
                                    outputs=settled_entries(plan, states, entries), stale=stale)
        if previous:
            self.runs.supersede(previous)
        send_nodes(self._app, self._task_name, run_id, [messages[i] for i in ready], self._storage.to_header(),
                   self._bucket)
        _log.info("Submitted plan %s... (%d nodes, %d cached, %d stale, %d queued) as run %s", plan.root_key[:16],
                  len(keys), len(keys) - len(to_run), stale, len(ready), run_id)

    def _message(self, plan: "TaskPlan", index: int, dependents: list[int], sentinel: bool) -> dict:
        node = plan.nodes[plan_view(plan).keys[index]]
        signature = self._make_node_task(node, plan)
        return {"i": index, "key": node.key, "payload": signature.args[1], "queue": signature.options["queue"],
                "dependents": dependents, "sentinel": sentinel}

    def _headers(self, run_id: str, sentinel: bool, **more) -> dict:
        return _headers(run_id, sentinel, self._storage.to_header(), **more)


def _native_plan(plan):
    return plan if isinstance(plan, TaskPlan) else TaskPlan.from_json(plan.to_json())


def _queue_of(function: str) -> str:
    entry = registry.get(function)
    return entry.queue if entry is not None else "default"


def create_celery_task(celery_app, task_registry: Optional[dict] = None, task_name: str = "muflow.execute_node"):
    """Registers the node task (`task_name`) and ``muflow.send_completion`` on a
    worker's app, and returns the node task. `task_registry` maps task names to
    TaskEntry; by default the tasks registered with muflow_native, looked up when a
    node runs."""
    runner = NodeRunner(celery_app, task_registry, task_name)

    @celery_app.task(name="muflow.send_completion")
    def send_completion(plan_id: str, callback_task_name: str, callback_queue: str):
        """The end of a level-mode chain: sends the completion callback's task."""
        celery_app.send_task(callback_task_name, args=[plan_id, True, None], queue=callback_queue)

    @celery_app.task(name=task_name, bind=True)
    def execute_node(self, node_key: str, payload_dict: dict, bucket: str):
        return runner.run(self.request, node_key, payload_dict, bucket)

    return execute_node
