"""What a Celery worker does with one node message.

The node runs through `execute_task`, as every backend runs a node (cache check,
context.json, the task, then manifest.json or error.json). Around it, the run's
record in Redis: a node of a run that was cancelled, failed or superseded does not
start; a failure fails the run; in dependency mode, a finished node releases the
dependents whose last dependency it was, and the last node ends the run.
"""

from __future__ import annotations

import logging
from typing import Optional

from .. import registry
from .._node_run import failure_message
from ..context.task import TaskContext
from ..executor import ExecutionPayload, execute_task
from ..registry import TaskEntry
from ..storage.cache_rule import dependency_outputs_read, node_inputs
from ..storage.remote_cache import dependency_outputs
from ._celery_messages import _DEPENDENTS, _INDEX, _RECHECK, _RUN, _SENTINEL, _STORAGE, send_nodes
from ._celery_runs import RunStore
from ._celery_storage import CeleryStorage

_log = logging.getLogger(__name__)


def _no_op(context) -> None:
    """The task of a pipeline's sentinel root, which only joins the last step's nodes."""


class NodeRunner:
    def __init__(self, app, task_registry: Optional[dict], task_name: str):
        self._app = app
        self._registry = task_registry
        self._task_name = task_name
        self._runs: Optional[RunStore] = None

    @property
    def runs(self) -> RunStore:
        if self._runs is None:
            self._runs = RunStore(self._app)
        return self._runs

    def _entry(self, name: str):
        if self._registry is not None:
            return self._registry.get(name)
        return registry.get(name)

    def run(self, request, node_key: str, payload_dict: dict, bucket: str) -> dict:
        from celery.exceptions import Ignore

        run_id = getattr(request, _RUN, None)
        if run_id is not None and not self.runs.start_node(run_id):
            _log.info("Node %s... not started: run %s is over", node_key[:16], run_id)
            raise Ignore()
        payload = ExecutionPayload.from_dict(payload_dict)
        entry = self._entry(payload.task_name)
        if entry is None:
            if not getattr(request, _SENTINEL, False):
                message = f"Unknown task: {payload.task_name}"
                self._fail(run_id, message)
                raise ValueError(message)
            entry = TaskEntry(name=payload.task_name, fn=_no_op)
        storage = CeleryStorage.from_message(bucket, getattr(request, _STORAGE, None))
        inputs = self._inputs(storage, run_id, payload.dependency_prefixes)
        node_storage = storage.node_storage(payload.storage_prefix, inputs=inputs)
        index = getattr(request, _INDEX, None)
        if index is not None and not self._app.conf.task_acks_late and not getattr(request, _RECHECK, False):
            # Dependency mode: the submitter found no current manifest for this node (it
            # checks every node at once), and queues it once per run, delivered once.
            node_storage = _NotCached(node_storage)
        context = TaskContext(storage=node_storage, kwargs=payload.kwargs,
                              dependency_storages=storage.dependency_storages(payload.dependency_prefixes))
        result = execute_task(payload, context, lambda name: entry)
        if not result.success:
            self._fail(run_id, failure_message(payload.task_name, result.error_message))
            raise RuntimeError(result.error_message)
        learnt = (payload.storage_prefix, node_storage.manifest_entry,
                  getattr(request, _RECHECK, False) and node_storage.stale) if inputs is not None else ("", None, False)
        if run_id is not None and index is not None:
            self._finished(run_id, index, getattr(request, _DEPENDENTS, None) or [], storage, learnt)
        elif run_id is not None:
            self.runs.record_node(run_id, *learnt)
        return {"node_key": node_key}

    def _inputs(self, storage: CeleryStorage, run_id: Optional[str], access_map: dict) -> Optional[dict]:
        """The node's current inputs: each dependency's outputs fingerprint as the run
        recorded it in Redis, else read from its manifest."""
        prefixes = list(dict.fromkeys(access_map.values()))
        known = self.runs.outputs_of(run_id, prefixes) if run_id is not None and prefixes else {}
        if storage.kind == "s3":
            return node_inputs(access_map, dependency_outputs(storage.s3_client(), storage.location, prefixes, known))
        return node_inputs(access_map, dependency_outputs_read(
            prefixes, known, lambda missing: [storage.manifest(p) for p in missing]))

    def _finished(self, run_id: str, index: int, dependents: list[int], storage: CeleryStorage,
                  learnt: tuple) -> None:
        complete, ready = self.runs.finish_node(run_id, index, dependents, *learnt)
        send_nodes(self._app, self._task_name, run_id, ready, storage.to_header(), storage.message_bucket)
        if complete:
            self._app.backend.mark_as_done(run_id, {"finished_by": index})
            self._notify(run_id, True, None)

    def _fail(self, run_id: Optional[str], message: str) -> None:
        if run_id is not None and self.runs.fail(run_id, message):
            self._notify(run_id, False, message)

    def _notify(self, run_id: str, success: bool, error: Optional[str]) -> None:
        """The completion callback of a dependency-mode run (level mode ends with
        muflow.send_completion instead, and only on success, as muflow does)."""
        callback = self.runs.callback(run_id)
        if callback is not None:
            self._app.send_task(callback["task"], args=[callback["plan"], success, error], queue=callback["queue"])


class _NotCached:
    """A node's storage, known to hold no manifest: is_cached() asks nothing (one S3
    request less per node)."""

    def __init__(self, storage):
        self._storage = storage

    def is_cached(self) -> bool:
        return False

    def __getattr__(self, name):
        return getattr(self._storage, name)
