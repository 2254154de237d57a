"""The native mirror of the task registry: the plan builder and the native executors
read identity keys, output files and queues from it."""

from __future__ import annotations

import json
from ctypes import byref, c_void_p

from . import _ffi
from ._handles import NativeHandle


class _Registry(NativeHandle):
    _free = _ffi.mf_registry_free
    __slots__ = ()


def _new_registry() -> _Registry:
    handle = c_void_p()
    _ffi.check(_ffi.mf_registry_new(byref(handle)))
    return _Registry(handle)


registry = _new_registry()


def descriptor(entry, name: str = None) -> bytes:
    outputs = getattr(entry, "outputs", None)
    files = list(outputs.files.keys()) if outputs is not None and hasattr(outputs, "files") else []
    return json.dumps(
        {
            "name": name or entry.name,
            "display_name": entry.display_name or "",
            "queue": entry.queue or "default",
            "identity_keys": list(entry.identity_keys) if entry.identity_keys else None,
            "output_files": files,
            "context_type": getattr(entry, "context_type", "task") or "task",
        }
    ).encode("ascii")


def add(entry) -> None:
    _ffi.check(_ffi.mf_registry_add(registry, descriptor(entry)))


def remove(name: str) -> None:
    status = _ffi.mf_registry_remove(registry, _ffi.encode_text(name))
    if status not in (_ffi.OK, _ffi.ERR_NOT_FOUND):
        raise _ffi.error_for(status)


def clear() -> None:
    _ffi.check(_ffi.mf_registry_clear(registry))


def resolved_by(registry_get, functions) -> _Registry:
    """A native registry holding each of `functions` that `registry_get` resolves: the
    one a run checks a plan's tasks against (see mf_run_new) when the tasks are looked
    up elsewhere than in the package's registry (whose mirror is `registry`)."""
    resolved = _new_registry()
    for name in dict.fromkeys(functions):
        try:
            entry = registry_get(name)
        except Exception:
            entry = None
        if entry is not None:
            _ffi.check(_ffi.mf_registry_add(resolved, json.dumps({"name": name}).encode("ascii")))
    return resolved
