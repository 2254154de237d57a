"""Large texts across the library boundary without extra copies (CPython only).

A plan's JSON can be hundreds of megabytes: encoding a str to bytes for the library,
or decoding the library's bytes into a str, each cost a full copy (and, for a new
buffer, a page fault per 4 KiB). An ASCII str keeps its characters as one byte each,
so the library can read them in place, and can write a new one's characters directly.
"""

from __future__ import annotations

import ctypes
from typing import Optional, Tuple

try:
    _new_str = ctypes.pythonapi.PyUnicode_New
    _new_str.restype = ctypes.py_object
    _new_str.argtypes = [ctypes.c_ssize_t, ctypes.c_uint32]
    # For a compact ASCII str this returns its own character buffer, without copying.
    _str_utf8 = ctypes.pythonapi.PyUnicode_AsUTF8AndSize
    _str_utf8.restype = ctypes.c_void_p
    _str_utf8.argtypes = [ctypes.py_object, ctypes.POINTER(ctypes.c_ssize_t)]
except AttributeError:  # not CPython: callers take the copying path
    _new_str = _str_utf8 = None


def ascii_view(text: str) -> Optional[int]:
    """The address of the characters of an ASCII str, valid while `text` lives; None
    when the str is not ASCII (or not on CPython)."""
    if _str_utf8 is None or not text.isascii():
        return None
    return _str_utf8(text, None)


def new_ascii(length: int) -> Optional[Tuple[str, int]]:
    """A new str of `length` ASCII characters to be filled in place before anyone else
    sees it, and the address of its characters; None off CPython."""
    if _new_str is None or length < 2:  # CPython shares its empty and 1-character strs
        return None
    text = _new_str(length, 127)
    return text, _str_utf8(text, None)
