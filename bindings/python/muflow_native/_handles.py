"""Ownership of native handles: one Python object owns one handle and frees it once."""

from __future__ import annotations

import sys
from ctypes import c_void_p


class NativeHandle:
    """Owns a pointer returned by a `mf_x_new` function; `_free` is its `mf_x_free`."""

    _free = None
    __slots__ = ("_handle",)

    def __init__(self, handle: c_void_p):
        self._handle = handle

    @property
    def _as_parameter_(self):
        if self._handle is None:
            raise ValueError(f"{type(self).__name__} is closed")
        return self._handle

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            type(self)._free(handle)

    def __del__(self):
        if not sys.is_finalizing():
            self.close()
