"""Execution backends: the protocol, and the local backend on the native scheduler."""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional, Protocol, runtime_checkable

from .. import _ffi, _native_registry, registry
from .._node_run import failure_message
from ..as_muflow import MixedLibrariesError, check_not_original, mixed_task_error, registered_with_original_muflow
from ..plan import TaskPlan, plan_view
from ._native_run import EventBuffer, NativeRun
from ._node_tasks import PlanColumns, RunNodeStorage, TaskCaller
from ._process_pool import TaskProcessPool
from .handle import PlanHandle

if TYPE_CHECKING:
    from .callbacks import CompletionCallback

_log = logging.getLogger(__name__)

# Nodes handed to a worker at once, at most (see _Execution._work), and the time after
# which a task counts as slow: its worker then takes one node at a time.
_MAX_BATCH = 64
_SLOW_TASK = 0.001


@runtime_checkable
class ExecutionBackend(Protocol):
    """Runs whole plans: `submit_plan` returns a PlanHandle."""

    def submit_plan(self, plan: "TaskPlan", completion_callback: Optional["CompletionCallback"] = None) -> "PlanHandle": ...

    def get_plan_state(self, plan_id: str) -> str: ...

    def cancel_plan(self, plan_id: str) -> None: ...


class PlanNotRunningError(NotImplementedError):
    """`cancel_plan` was given a plan that this LocalBackend is not running. A
    NotImplementedError as muflow raises there, so also a RuntimeError."""


@dataclass(frozen=True)
class RunSnapshot:
    """Counts of a local run at one instant, for progress displays."""

    total: int
    succeeded: int
    cached: int
    failed: int
    skipped: int
    running: int
    elapsed: float
    #: Nodes found complete whose recorded inputs had changed, run again (also counted
    #: in succeeded or failed).
    stale: int = 0

    @property
    def done(self) -> int:
        return self.succeeded + self.cached + self.failed + self.skipped


class LocalBackend:
    """Runs a plan on this machine and returns when it is over.

    Nodes start the moment their dependencies finish, on `workers` threads (default:
    the number of CPUs; ``workers=1`` runs nodes one at a time in muflow's order). A
    node whose ``manifest.json`` is complete is skipped without calling Python; the
    sentinel root of a pipeline completes as a built-in no-op. With
    ``processes=True`` tasks run in a pool of worker processes, for CPU-bound Python.
    A failure stops the run (running nodes finish) and raises RuntimeError, as in
    muflow; ``continue_on_failure=True`` instead runs every independent branch first.
    Each node's directory is its storage_prefix, as in muflow.
    """

    def __init__(
        self,
        base_path: str,
        registry_get: Optional[Callable] = None,
        progress_reporter: Optional[Callable[[int, int, str], None]] = None,
        *,
        workers: Optional[int] = None,
        processes: bool = False,
        continue_on_failure: bool = False,
        durable: bool = False,
    ):
        check_not_original(registry_get, "registry_get", "LocalBackend")
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.base_path = base_path
        self.registry_get = registry_get or registry.get
        self.progress_reporter = progress_reporter
        self.workers = workers or os.cpu_count() or 1
        self.processes = processes
        self.continue_on_failure = continue_on_failure
        self.durable = durable
        self._plan_states: dict[str, str] = {}
        self._runs: dict[str, NativeRun] = {}

    def submit_plan(
        self,
        plan: "TaskPlan",
        completion_callback: Optional["CompletionCallback"] = None,
        on_node_start: Optional[Callable[[str], None]] = None,
        on_node_complete: Optional[Callable[[str], None]] = None,
        on_node_failure: Optional[Callable[[str, str], None]] = None,
        *,
        on_progress: Optional[Callable[[RunSnapshot], None]] = None,
        progress_interval: float = 0.1,
    ) -> "PlanHandle":
        """Runs `plan` to the end. Node callbacks get the node key (and the error
        message on failure); `on_progress` is called on this thread every
        `progress_interval` seconds and once at the end."""
        if not isinstance(plan, TaskPlan):
            check_not_original(plan, "TaskPlan", "LocalBackend.submit_plan")
            plan = TaskPlan.from_json(plan.to_json())
        plan_id = plan.root_key
        node_callbacks = (on_node_start, on_node_complete, on_node_failure)
        columns = PlanColumns(plan)
        try:
            run = NativeRun.start(
                plan,
                registry=_task_registry(self.registry_get, columns),
                continue_on_failure=self.continue_on_failure,
                durable=self.durable,
                report_settled=any(c is not None for c in node_callbacks),
            )
        except _ffi.MissingTaskError as exc:
            self._plan_states[plan_id] = "failure"
            if completion_callback:
                completion_callback.notify(plan_id, success=False, error=str(exc))
            for function in dict.fromkeys(columns.functions):
                if self.registry_get(function) is None and registered_with_original_muflow(function):
                    raise mixed_task_error(function) from exc
            raise
        self._plan_states[plan_id] = "running"
        self._runs[plan_id] = run
        execution = _Execution(self, plan, run, node_callbacks, columns)
        started = time.monotonic()
        try:
            execution.run(on_progress, progress_interval, started)
            failure = execution.failure()
        except BaseException as exc:
            self._plan_states[plan_id] = "failure"
            if completion_callback:
                completion_callback.notify(plan_id, success=False, error=str(exc))
            raise
        finally:
            self._runs.pop(plan_id, None)
            run.close()
        if failure is not None:
            self._plan_states[plan_id] = "failure"
            if completion_callback:
                completion_callback.notify(plan_id, success=False, error=failure)
            raise RuntimeError(failure)
        self._plan_states[plan_id] = "success"
        if completion_callback:
            completion_callback.notify(plan_id, success=True)
        # Built from values of the right types already: validating 10,000 prefixes again
        # would cost as much as a cached run's own work.
        return PlanHandle.model_construct(
            backend="local",
            plan_id=plan_id,
            node_prefixes=execution.columns.node_prefixes(),
            storage_type="local",
            storage_config={},
        )

    def get_plan_state(self, plan_id: str) -> str:
        """"pending", "running", "success" or "failure"."""
        return self._plan_states.get(plan_id, "pending")

    def cancel_plan(self, plan_id: str) -> None:
        """Stops a plan running in another thread: no further node starts, running
        nodes finish, and its submit_plan raises RuntimeError. For a plan it is not
        running, raises PlanNotRunningError (a NotImplementedError, as in muflow)."""
        run = self._runs.get(plan_id)
        if run is None:
            raise PlanNotRunningError(f"plan {plan_id!r} is not running on this backend")
        run.cancel()


class _Execution:
    """The Python side of one run: worker threads pulling nodes from the native
    scheduler, running their tasks, and reporting back."""

    def __init__(self, backend: LocalBackend, plan, run: NativeRun, callbacks, columns: "PlanColumns"):
        self._backend = backend
        self._plan = plan
        self._view = plan_view(plan)
        self._run = run
        self._on_start, self._on_complete, self._on_failure = callbacks
        self._lock = threading.Lock()
        self._first_failure: Optional[str] = None
        self._raised: Optional[BaseException] = None
        self._pool = None
        self._threads: list[threading.Thread] = []
        self.columns = columns
        self._caller = TaskCaller(backend.registry_get, self.columns, backend.progress_reporter)

    def run(self, on_progress, interval: float, started: float) -> None:
        workers = self._backend.workers
        if self._backend.processes:
            self._pool = TaskProcessPool(workers, self._backend.registry_get, self._backend.progress_reporter)
        try:
            if workers == 1 and on_progress is None:
                self._work()
            else:
                self._work_on_threads(workers, on_progress, interval, started)
        finally:
            if self._pool is not None:
                self._pool.close()
            self._stop_threads()
        if on_progress is not None:
            on_progress(self.snapshot(started))
        if self._raised is not None:
            raise self._raised

    def _stop_threads(self) -> None:
        """After an interruption (Ctrl-C in the waiting thread): no further node starts,
        and the run is not freed while a worker is still inside it."""
        if any(thread.is_alive() for thread in self._threads):
            self._run.cancel()
            for thread in self._threads:
                thread.join()

    def _work_on_threads(self, workers, on_progress, interval, started) -> None:
        threads = self._threads = [
            threading.Thread(target=self._work, name=f"muflow-worker-{i}", daemon=True) for i in range(workers)
        ]
        for thread in threads:
            thread.start()
        while True:
            alive = [thread for thread in threads if thread.is_alive()]
            if not alive:
                return
            alive[0].join(interval)
            if on_progress is not None:
                on_progress(self.snapshot(started))

    def snapshot(self, started: float) -> RunSnapshot:
        p = self._run.progress()
        return RunSnapshot(p.total, p.succeeded, p.cached, p.failed, p.skipped, p.running, time.monotonic() - started,
                           p.stale)

    def failure(self) -> Optional[str]:
        if self._first_failure is not None:
            return self._first_failure
        if self._run.progress().cancelled:
            return f"Plan {self._plan.root_key} was cancelled"
        return None

    def _work(self) -> None:
        run = self._run
        # Node by node when every node is reported as it ends (callbacks) or when each
        # task waits on another process anyway; else lists of nodes that grow while
        # their tasks are fast, to pay the library calls once per list.
        one_at_a_time = self._pool is not None or any(
            c is not None for c in (self._on_start, self._on_complete, self._on_failure))
        buffer = EventBuffer(_MAX_BATCH)
        capacity = 1
        try:
            while True:
                events = run.next_nodes(buffer, capacity, self._backend.workers)
                if not events:
                    return
                fast = self._work_on(events)
                capacity = min(capacity * 4, _MAX_BATCH) if fast and not one_at_a_time else 1
        except BaseException as exc:  # a callback raised: stop the run, re-raise in submit_plan
            with self._lock:
                if self._raised is None:
                    self._raised = exc
            run.cancel()

    def _work_on(self, events: list[tuple[int, int]]) -> bool:
        """Runs the tasks of the nodes of one list of events; reports the successes at
        the end (unless reporting each) and gives back the nodes not started when the
        run stops or a slow task makes the rest better taken by other workers. True if
        every task was fast."""
        run = self._run
        keys = self._view.keys
        if events[-1][0] == _ffi.EVENT_FAILED:  # first: no node of the list starts after it
            self._failed(keys[events[-1][1]], run.node_failure(events[-1][1]), "",
                         function=self.columns.functions[events[-1][1]])
            events = events[:-1]
        run_kind = _ffi.EVENT_RUN
        unstarted = [index for kind, index in events if kind == run_kind]
        started = 0
        succeeded: list[int] = []
        slow = False
        report_each = self._on_complete is not None or self._on_failure is not None
        # Looked up once per list: this loop runs once per node.
        on_start, stopping, run_node, clock = self._on_start, self._stopping, self._run_node, time.perf_counter
        several_workers = self._backend.workers > 1
        try:
            for kind, index in events:
                if kind != run_kind:
                    if on_start:
                        on_start(keys[index])
                    if self._on_complete:
                        self._on_complete(keys[index])
                    continue
                if stopping() or (slow and several_workers):
                    break
                if on_start:
                    on_start(keys[index])
                started += 1
                begun = clock()
                error = run_node(index)
                slow = clock() - begun > _SLOW_TASK
                if error is None and not report_each:
                    succeeded.append(index)
                else:
                    self._finish(index, error)
        finally:
            run.finish_nodes(succeeded)
            run.return_nodes(unstarted[started:])
        return not slow

    def _stopping(self) -> bool:
        """No further node of a list starts: the run was cancelled, a callback raised, or
        a node failed and the run stops on failures."""
        if self._run.cancelled or self._raised is not None:
            return True
        return self._first_failure is not None and not self._backend.continue_on_failure

    def _run_node(self, index: int) -> Optional[tuple[str, str]]:
        """Runs a node's task: None, or (message, traceback) for a failure."""
        storage = RunNodeStorage(self._run, index, self.columns.prefixes[index])
        try:
            if self._pool is not None:
                return self._pool.run(self._plan.nodes[self._view.keys[index]], storage)
            return self._caller.call(index, storage)
        except MixedLibrariesError as exc:  # not the task's failure: submit_plan raises it
            with self._lock:
                if self._raised is None:
                    self._raised = exc
            return str(exc), traceback.format_exc()
        except BaseException as exc:
            return str(exc), traceback.format_exc()
        finally:
            storage.close()

    def _finish(self, index: int, error: Optional[tuple[str, str]]) -> None:
        key = self._view.keys[index]
        self._run.finish(index, error)
        if error is None:
            if self._on_complete:
                self._on_complete(key)
        else:
            self._failed(key, *error, function=self.columns.functions[index])

    def _failed(self, key: str, message: str, details: str, function: Optional[str] = None) -> None:
        with self._lock:
            if self._first_failure is None:
                name = function or self._plan.nodes[key].function
                self._first_failure = failure_message(name, message, details)
        _log.error("Node failed: %s... - %s", key[:16], message)
        if self._on_failure:
            self._on_failure(key, message)


def _task_registry(registry_get, columns: PlanColumns):
    """The native registry the run checks the plan's tasks against: the mirror of the
    package's registry, or one of the plan's tasks that `registry_get` resolves (the
    plan's task names are fetched only then)."""
    if registry_get is registry.get:
        return _native_registry.registry
    return _native_registry.resolved_by(registry_get, columns.functions)
