"""What a worker thread builds to call one node's task: cheap until used.

A no-op task on a plan of 10,000 nodes must cost a few microseconds in Python, so
nothing is built for a node before its task asks for it: its storage opens in the
library on the first write or read, its kwargs and its dependencies' directories are
read from the native plan on first access, and the plan's functions and prefixes are
read once per run for all nodes.
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path
from typing import Callable, Optional

from .. import _ffi
from .._node_run import DependencyStorages, run_task, task_entry
from ..context.factory import get_context_factory
from ..context.task import TaskContext, _print_progress
from ..plan import plan_view
from ..storage.local import LocalStorageBackend, _NativeStorage


class PlanColumns:
    """One field of every node of a plan, each read from the library on first use."""

    def __init__(self, plan):
        self._view = plan_view(plan)
        self._functions: Optional[list[str]] = None

    @property
    def functions(self) -> list[str]:
        if self._functions is None:
            self._functions = self._view.field_values(_ffi.NODE_FUNCTION)
        return self._functions

    @property
    def prefixes(self) -> list[str]:
        return self._view.prefixes

    def node_prefixes(self) -> dict[str, str]:
        """Node key to storage prefix, for the run's PlanHandle."""
        return self._view.storage_prefixes()

    def kwargs(self, index: int) -> dict:
        return json.loads(self._view.field(index, _ffi.NODE_KWARGS))

    def access_map(self, index: int) -> dict[str, str]:
        return json.loads(self._view.field(index, _ffi.NODE_ACCESS_MAP))


class RunNodeStorage(LocalStorageBackend):
    """The storage of a running node, opened in the library on first use."""

    def __init__(self, run, index: int, prefix: str):
        self._run = run
        self._index = index
        self._prefix = prefix
        self._allowed_outputs = None

    def __getattr__(self, name: str):
        if name == "_native":
            value = _NativeStorage(self._run.storage_handle(self._index))
        elif name == "_path":
            value = Path(self._prefix)
        else:
            raise AttributeError(name)
        self.__dict__[name] = value
        return value

    def close(self) -> None:
        """Lets go of the native storage, if it was opened: the node is finishing."""
        native = self.__dict__.get("_native")
        if native is not None:
            native.close()


class NodeContext(TaskContext):
    """A TaskContext whose kwargs and dependency storages are read on first access."""

    def __init__(self, storage, columns: PlanColumns, index: int, progress_reporter, dependency_storages):
        # TaskContext's fields but _kwargs and _dependency_storages, which __getattr__
        # reads on first use (set here directly: this runs once per node).
        self._storage = storage
        self._progress_reporter = progress_reporter or _print_progress
        self._columns = columns
        self._index = index
        self._dependency_type = dependency_storages

    def __getattr__(self, name: str):
        if name == "_kwargs":
            value = self._columns.kwargs(self._index)
        elif name == "_dependency_storages":
            value = self._dependency_type(self._columns.access_map(self._index))
        else:
            raise AttributeError(name)
        self.__dict__[name] = value
        return value


class TaskCaller:
    """Runs the tasks of one run's nodes: each task looked up once per run, and called
    with a NodeContext when it takes the plain context and its kwargs as they are;
    otherwise through `run_task`, as every backend runs a node."""

    def __init__(self, registry_get: Callable, columns: PlanColumns, progress_reporter):
        self._registry_get = registry_get
        self._columns = columns
        self._progress_reporter = progress_reporter
        self._entries: dict = {}

    def call(self, index: int, storage) -> Optional[tuple[str, str]]:
        """Runs the task of node `index` in `storage`: None, or (message, traceback)."""
        function = self._columns.functions[index]
        context = NodeContext(storage, self._columns, index, self._progress_reporter, DependencyStorages)
        entry = self._entries.get(function)
        if entry is None:
            entry = self._entry(function)
        if entry is False:
            return run_task(self._registry_get, function, context.kwargs, context)
        try:
            entry.fn(context)
            return None
        except Exception as exc:
            return str(exc), traceback.format_exc()

    def _entry(self, function: str):
        """The task entry for a direct call, or False when the task needs run_task (a
        typed context, parameters to validate, or a registry that fails)."""
        try:
            entry = task_entry(self._registry_get, function)
        except Exception:
            return False
        context_type = getattr(entry, "context_type", "task")
        typed = bool(context_type) and context_type != "task" and get_context_factory() is not None
        if typed or entry.parameters is not None:
            entry = False
        self._entries[function] = entry
        return entry
