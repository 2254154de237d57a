"""Running one node's task: the steps every backend shares, in one leaf module.

The executor (``execute_task``), the local backend's threads and worker processes,
and the remote workers all look a task up, prepare its context and call it here, and
report a failure in the words and the ``error.json`` layout the core formats
(mf_node_failure_message, mf_node_error_record). Nothing here imports a backend or the
executor, so every one of them imports this module at its top.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Mapping
from typing import Callable, Optional

from . import _ffi
from .as_muflow import MixedLibrariesError, check_not_original, mixed_task_error, registered_with_original_muflow
from .context.factory import build_typed_context
from .context.task import TaskContext
from .registry import TaskEntry
from .storage.local import LocalStorageBackend


def task_entry(get_entry: Callable, name: str) -> TaskEntry:
    """The TaskEntry `get_entry` gives for `name`; a clear error if it gives anything
    else (None, or an entry of the original muflow library)."""
    entry = get_entry(name)
    if not isinstance(entry, TaskEntry):
        check_not_original(entry, "TaskEntry", f"the task lookup of {name!r}")
        if entry is None and registered_with_original_muflow(name):
            raise mixed_task_error(name)
        raise TypeError(f"Registry returned non-TaskEntry: {type(entry)}")
    return entry


def prepared_context(context: TaskContext, entry: TaskEntry, kwargs: dict, context_data: dict) -> TaskContext:
    """The context the task runs with: upgraded to its declared context type, with its
    parameters validated into `kwargs`."""
    context = build_typed_context(context, getattr(entry, "context_type", "task"), context_data)
    context._kwargs = entry.parameters(**kwargs) if entry.parameters is not None else kwargs
    return context


def run_task(registry_get, function: str, kwargs: dict, context: TaskContext) -> Optional[tuple[str, str]]:
    """Runs one task as execute_task does after its cache check and context.json:
    typed context, validated parameters, the call. Returns None or (message,
    traceback)."""
    try:
        entry = task_entry(registry_get, function)
        entry.fn(prepared_context(context, entry, kwargs, {}))
        return None
    except MixedLibrariesError:
        raise
    except Exception as exc:
        return str(exc), traceback.format_exc()


class DependencyStorages(Mapping):
    """Access key to dependency storage, opened read-only on first use: a node with many
    dependencies opens only those its task reads."""

    def __init__(self, prefixes: dict[str, str]):
        self._prefixes = prefixes
        self._opened: dict[str, LocalStorageBackend] = {}

    def __getitem__(self, key: str) -> LocalStorageBackend:
        storage = self._opened.get(key)
        if storage is None:
            storage = self._opened[key] = LocalStorageBackend(self._prefixes[key], allowed_outputs=set())
        return storage

    def __iter__(self):
        return iter(self._prefixes)

    def __len__(self) -> int:
        return len(self._prefixes)

    def __contains__(self, key) -> bool:
        return key in self._prefixes


# -- Failures: formatted by the core -----------------------------------------------------


def _text(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


def failure_message(function: str, message: str, details: Optional[str] = None) -> str:
    """"Node <function> failed: <message>", then a newline and `details` if given."""
    f, m = _text(function), _text(message)
    d = _text(details) if details is not None else None
    text = _ffi.call_returning_bytes(_ffi.mf_node_failure_message, f, len(f), m, len(m), d,
                                     len(d) if d is not None else 0)
    return text.decode("utf-8", "surrogatepass")


def record_failure(storage, message: str, details: str) -> None:
    """Writes ``error.json``: the message, the traceback and the files written so far."""
    m, t = _text(message), _text(details)
    files = json.dumps(list(storage.written_files)).encode("utf-8")
    record = _ffi.call_returning_bytes(_ffi.mf_node_error_record, m, len(m), t, len(t), files, len(files))
    save = getattr(storage, "_save_executor_file", None)
    if save is not None:
        save("error.json", record)
    else:  # a storage of the user's own: its save_json lays the record out
        storage.save_json("error.json", json.loads(record), allow_protected=True)
