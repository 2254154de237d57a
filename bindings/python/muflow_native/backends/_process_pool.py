"""Running tasks in worker processes, for CPU-bound Python that threads cannot speed up.

The pool is forked before any worker thread starts, so each process inherits the task
registry as it stands. A child runs the task in its own storage object for the node's
directory and reports the files it wrote; the parent records them so that the manifest
it writes lists them.
"""

from __future__ import annotations

import multiprocessing
from typing import Callable, Optional

from .._node_run import DependencyStorages, run_task
from ..context.task import TaskContext
from ..storage.local import LocalStorageBackend

_registry_get: Optional[Callable] = None
_progress_reporter: Optional[Callable[[int, int, str], None]] = None


def _install(registry_get: Callable, progress_reporter) -> None:
    global _registry_get, _progress_reporter
    _registry_get = registry_get
    _progress_reporter = progress_reporter


def _run_in_child(function: str, kwargs: dict, prefix: str, access_map: dict[str, str]):
    storage = LocalStorageBackend(prefix)
    context = TaskContext(storage, kwargs, DependencyStorages(access_map), _progress_reporter)
    error = run_task(_registry_get, function, kwargs, context)
    return error, sorted(storage.written_files)


class TaskProcessPool:
    def __init__(self, processes: int, registry_get: Callable, progress_reporter=None):
        self._pool = multiprocessing.get_context("fork").Pool(processes, initializer=_install,
                                                              initargs=(registry_get, progress_reporter))

    def run(self, node, storage: LocalStorageBackend) -> Optional[tuple[str, str]]:
        error, written = self._pool.apply(
            _run_in_child, (node.function, node.kwargs, node.storage_prefix, node.dependency_access_map)
        )
        for name in written:
            storage._record_written_elsewhere(name)
        return error

    def close(self) -> None:
        self._pool.close()
        self._pool.join()
