"""A plan run in the native scheduler, seen from Python worker threads."""

from __future__ import annotations

import ctypes
from ctypes import byref, c_int, c_size_t, c_void_p
from typing import Optional

from .. import _ffi
from .._handles import NativeHandle
from ..plan import plan_view


class NativeRun(NativeHandle):
    """One mf_run: workers call `next_nodes` (which waits without holding the GIL) until
    it returns no event, run the nodes they are handed, and finish them (or give back
    those they did not start)."""

    _free = _ffi.mf_run_free
    # Set by `cancel`, for workers that check between the nodes of a list.
    __slots__ = ("cancelled",)

    @classmethod
    def start(cls, plan, *, registry, continue_on_failure: bool, durable: bool, report_settled: bool,
              trust_manifest_presence: bool = False) -> "NativeRun":
        """Raises MissingTaskError (a RuntimeError), running nothing, when `registry`
        (see base._task_registry) lacks a task of the plan."""
        flags = (
            (_ffi.RUN_DURABLE if durable else 0)
            | (_ffi.RUN_REPORT_SETTLED if report_settled else 0)
            | (_ffi.RUN_TRUST_MANIFEST_PRESENCE if trust_manifest_presence else 0)
        )
        policy = _ffi.FAILURE_CONTINUE_INDEPENDENT if continue_on_failure else _ffi.FAILURE_STOP
        handle = c_void_p()
        _ffi.check(_ffi.mf_run_new(byref(handle), plan_view(plan).native, registry, policy, flags))
        run = cls(handle)
        run.cancelled = False
        return run

    def next_nodes(self, buffer: "EventBuffer", capacity: int, workers: int) -> list[tuple[int, int]]:
        """Up to `capacity` (kind, index) events at once, for one of `workers` workers
        (see mf_run_next_nodes); an empty list once the run is over."""
        _ffi.check(_ffi.mf_run_next_nodes(buffer.kinds, buffer.indices, byref(buffer.count), self, capacity, workers))
        count = buffer.count.value
        return list(zip(buffer.kinds[:count], buffer.indices[:count]))

    def finish_nodes(self, indices: list[int]) -> None:
        """Reports nodes whose tasks succeeded, in one call."""
        if indices:
            _ffi.check(_ffi.mf_run_finish_nodes(self, (c_size_t * len(indices))(*indices), len(indices)))

    def return_nodes(self, indices: list[int]) -> None:
        """Gives back nodes handed out whose tasks did not start."""
        if indices:
            _ffi.check(_ffi.mf_run_return_nodes(self, (c_size_t * len(indices))(*indices), len(indices)))

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
        self.cancelled = True
        if self._handle is not None:
            _ffi.mf_run_cancel(self)

    def progress(self) -> _ffi.RunProgress:
        progress = _ffi.RunProgress(size=ctypes.sizeof(_ffi.RunProgress))
        _ffi.check(_ffi.mf_run_get_progress(byref(progress), self))
        return progress

    def node_failure(self, index: int) -> str:
        """The message of a node handed out as EVENT_FAILED (mf_run_node_failure)."""
        out = c_void_p()
        _ffi.check(_ffi.mf_run_node_failure(byref(out), self, index))
        return _ffi.take_string(out) if out.value else ""


class EventBuffer:
    """The arrays one worker's mf_run_next_nodes calls fill."""

    __slots__ = ("kinds", "indices", "count")

    def __init__(self, capacity: int):
        self.kinds = (c_int * capacity)()
        self.indices = (c_size_t * capacity)()
        self.count = c_size_t()


def _c_text(text: str) -> bytes:
    return text.replace("\0", "\\0").encode("utf-8", "surrogatepass")
