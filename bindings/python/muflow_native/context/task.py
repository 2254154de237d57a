"""TaskContext: what a task sees of its storage, its dependencies and its progress."""

from __future__ import annotations

from typing import IO, Any, Callable, Dict, Optional

from ..storage.base import StorageBackend
from ..storage.local import LocalStorageBackend


ProgressReporter = Callable[[int, int, str], None]


def format_progress(current: int, total: int, message: str) -> str:
    """A task's progress report as one line: ``  [ 50.0%] message``."""
    percent = current / total * 100 if total > 0 else 0
    return f"  [{f'{percent:.1f}%':>6}] {message}"


def _print_progress(current: int, total: int, message: str) -> None:
    print(format_progress(current, total, message))


class TaskContext:
    """A task's view of one storage backend (its outputs), read-only views of its
    dependencies' storages by access key, its parameters and a progress reporter."""

    def __init__(
        self,
        storage: StorageBackend,
        kwargs: dict,
        dependency_storages: Optional[Dict[str, StorageBackend]] = None,
        progress_reporter: Optional[ProgressReporter] = None,
    ):
        self._storage = storage
        self._kwargs = kwargs
        self._dependency_storages = dependency_storages or {}
        self._progress_reporter = progress_reporter or _print_progress

    @property
    def kwargs(self) -> Any:
        """The task's parameters: a validated pydantic model when the task declares
        one, else the plain dict."""
        return self._kwargs

    @property
    def storage(self) -> StorageBackend:
        return self._storage

    @property
    def dependency_storages(self) -> Dict[str, StorageBackend]:
        return dict(self._dependency_storages)

    @property
    def progress_reporter(self) -> ProgressReporter:
        return self._progress_reporter

    @property
    def storage_prefix(self) -> str:
        return self._storage.storage_prefix

    def save_file(self, filename: str, data: bytes) -> None:
        self._storage.save_file(filename, data)

    def save_json(self, filename: str, data: Any, allow_protected: bool = False) -> None:
        self._storage.save_json(filename, data, allow_protected=allow_protected)

    def save_text(self, filename: str, data: str, encoding: str = "utf-8") -> None:
        self._storage.save_text(filename, data, encoding=encoding)

    def save_xarray(self, filename: str, dataset) -> None:
        self._storage.save_xarray(filename, dataset)

    def open_file(self, filename: str, mode: str = "r") -> IO:
        return self._storage.open_file(filename, mode)

    def read_file(self, filename: str) -> bytes:
        return self._storage.read_file(filename)

    def read_text(self, filename: str, encoding: str = "utf-8") -> str:
        return self._storage.read_file(filename).decode(encoding)

    def read_json(self, filename: str) -> Any:
        return self._storage.read_json(filename)

    def read_xarray(self, filename: str):
        return self._storage.read_xarray(filename)

    def exists(self, filename: str) -> bool:
        return self._storage.exists(filename)

    def has_dependency(self, key: str) -> bool:
        return key in self._dependency_storages

    def dependency(self, key: str) -> "TaskContext":
        """A context reading the outputs of the dependency with access key `key`."""
        try:
            storage = self._dependency_storages[key]
        except KeyError:
            raise KeyError(f"Unknown dependency: {key}") from None
        return TaskContext(storage, {}, {}, self._progress_reporter)

    def dependency_keys(self) -> list[str]:
        return sorted(self._dependency_storages)

    def report_progress(self, current: int, total: int, message: str = "") -> None:
        self._progress_reporter(current, total, message)


def create_local_context(
    path: str,
    kwargs: dict,
    dependency_paths: dict = None,
    progress_reporter: Optional[ProgressReporter] = None,
) -> TaskContext:
    """A TaskContext on local directories: `path` for outputs, `dependency_paths`
    mapping access keys to the dependencies' directories (read-only)."""
    dependencies = {key: LocalStorageBackend(p, allowed_outputs=set()) for key, p in (dependency_paths or {}).items()}
    return TaskContext(LocalStorageBackend(path), kwargs, dependencies, progress_reporter)
