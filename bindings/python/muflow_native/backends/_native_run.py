"""A plan run in the native scheduler, seen from Python worker threads."""

from __future__ import annotations

from ctypes import byref, c_int, c_size_t, c_void_p
from typing import Optional

from .. import _ffi, _native_registry
from .._handles import NativeHandle


class NativeRun(NativeHandle):
    """One mf_run: workers call `next` (which waits without holding the GIL) until it
    returns EVENT_DONE, run the nodes they are handed, and `finish` them."""

    _free = _ffi.mf_run_free
    __slots__ = ()

    @classmethod
    def start(cls, plan, *, continue_on_failure: bool, durable: bool, report_settled: bool,
              trust_manifest_presence: bool = False) -> "NativeRun":
        flags = (
            (_ffi.RUN_DURABLE if durable else 0)
            | (_ffi.RUN_REPORT_SETTLED if report_settled else 0)
            | (_ffi.RUN_TRUST_MANIFEST_PRESENCE if trust_manifest_presence else 0)
        )
        policy = _ffi.FAILURE_CONTINUE_INDEPENDENT if continue_on_failure else _ffi.FAILURE_STOP
        handle = c_void_p()
        _ffi.check(_ffi.mf_run_new(byref(handle), plan._native, _native_registry.registry, policy, flags))
        return cls(handle)

    def next(self) -> tuple[int, int]:
        kind = c_int()
        index = c_size_t()
        _ffi.check(_ffi.mf_run_next(self, byref(kind), byref(index)))
        return kind.value, index.value

    def storage_handle(self, index: int) -> c_void_p:
        handle = c_void_p()
        _ffi.check(_ffi.mf_run_node_storage(byref(handle), self, index))
        return handle

    def finish(self, index: int, error: Optional[tuple[str, str]] = None) -> None:
        if error is None:
            _ffi.check(_ffi.mf_run_finish_node(self, index, 1, None, None))
        else:
            message, details = error
            _ffi.check(_ffi.mf_run_finish_node(self, index, 0, _c_text(message), _c_text(details)))

    def cancel(self) -> None:
        if self._handle is not None:
            _ffi.mf_run_cancel(self)

    def progress(self) -> _ffi.RunProgress:
        progress = _ffi.RunProgress()
        _ffi.check(_ffi.mf_run_get_progress(self, byref(progress)))
        return progress


def _c_text(text: str) -> bytes:
    return text.replace("\0", "\\0").encode("utf-8", "surrogatepass")
