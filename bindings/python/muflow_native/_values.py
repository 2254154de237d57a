"""Structured values on their way into libmuflow.

Values cross as a pickle of plain data (dict, list, tuple, str, int, float, bool,
None): the C pickler is the fastest serialiser in the standard library and shares
repeated objects, which the library then reads once. Subclasses of those types
(enums, OrderedDict, named tuples) are first converted to the plain types the way
Python's ``json`` module treats them. Anything else crosses as a persistent id naming
its type, which the library refuses with a TypeError naming its key path: that message
is written in one place, the library.
"""

from __future__ import annotations

import io
import pickle
import sys
from typing import Optional

from . import _ffi

PROTOCOL = 5
# The library's limits (tests/test_ffi_headers.py checks them against muflow.h).
MAX_VALUE_BYTES = 256 * 1024 * 1024
MAX_DEPTH = 1000
_DEEP_RECURSION_LIMIT = 2 * MAX_DEPTH + 200  # MAX_DEPTH levels, two frames each, and margin
_PLAIN = (str, int, float, bool, type(None))


def encode(value) -> bytes:
    """A pickle of `value` as plain data; tries the value as it is first. Raises
    ValueError for a value over the library's size limit."""
    try:
        data = _pickle_deep(value)
    except RecursionError:
        raise
    except Exception:
        data = _pickle_plain(value)
    if len(data) > MAX_VALUE_BYTES:
        raise _over_limit(len(data))
    return data


def _over_limit(size: int, exact: bool = True) -> ValueError:
    amount = f"{size} bytes" if exact else f"at least {size} bytes"
    return ValueError(f"value is {amount} encoded, over the limit of {MAX_VALUE_BYTES} bytes "
                      f"(MF_MAX_VALUE_BYTES, 256 MiB)")


class _BoundedSink:
    """A pickler's file that keeps the pieces it is given and stops the pickler once
    they add up to more than the library accepts. A large str or bytes reaches `write`
    as one piece (a view of the object's own memory), so an oversized value is refused
    before any copy of it is made."""

    __slots__ = ("pieces", "size")

    def __init__(self):
        self.pieces = []
        self.size = 0

    def write(self, data) -> None:
        self.size += len(data)
        if self.size > MAX_VALUE_BYTES:
            self.pieces.clear()
            raise _over_limit(self.size, exact=False)
        self.pieces.append(data)

    def getvalue(self) -> bytes:
        pieces, self.pieces = self.pieces, []
        return pieces[0] if len(pieces) == 1 and type(pieces[0]) is bytes else b"".join(pieces)


class _NotPlain(Exception):
    pass


class _PlainPickler(pickle.Pickler):
    """Pickles exact plain types as pickle.dumps does and stops at anything else (the
    C pickler asks reducer_override only about objects it does not handle itself)."""

    def reducer_override(self, obj):
        raise _NotPlain(type(obj).__name__)


def encode_plain(value) -> bytes:
    """`encode`, converting subclasses (enums, OrderedDict, named tuples) to the plain
    types json writes them as, before the library sees them: for values whose refusal
    cannot be retried (a pipeline's kwargs and items, once its callbacks have run)."""
    buffer = _BoundedSink()
    try:
        _PlainPickler(buffer, PROTOCOL).dump(value)
        data = buffer.getvalue()
    except _NotPlain:
        data = _pickle_plain(value)
    except RecursionError:
        data = encode(value)
    if len(data) > MAX_VALUE_BYTES:
        raise _over_limit(len(data))
    return data


def _pickle_deep(value, dumps=pickle.dumps) -> bytes:
    """pickle.dumps, with room for as deep a nesting as the library accepts: the
    pickler recurses about twice per level, json's encoder (muflow's) once."""
    try:
        return dumps(value, PROTOCOL)
    except RecursionError:
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, _DEEP_RECURSION_LIMIT))
        try:
            return dumps(value, PROTOCOL)
        finally:
            sys.setrecursionlimit(limit)


class _Foreign:
    """Stands in `to_plain`'s result for a value JSON cannot hold."""

    __slots__ = ("type_name",)

    def __init__(self, value):
        self.type_name = type(value).__name__


class _ForeignPickler(pickle.Pickler):
    """Writes each _Foreign as a persistent id, its type name: the library refuses it
    as it refuses a set or bytes, naming where it is."""

    def persistent_id(self, obj):
        return obj.type_name if type(obj) is _Foreign else None


def _dumps_with_foreign(value, protocol) -> bytes:
    buffer = io.BytesIO()
    _ForeignPickler(buffer, protocol).dump(value)
    return buffer.getvalue()


def _pickle_plain(value) -> bytes:
    """A pickle of `to_plain(value)`."""
    foreign = []
    plain = to_plain(value, foreign=foreign)
    return _pickle_deep(plain, _dumps_with_foreign if foreign else pickle.dumps)


def call_with_value(function, value, *args):
    """Calls `function(FORMAT_PICKLE, data, len, *args)`; on a type refusal retries
    once with the value converted to plain types, so that what fails names its path."""
    data = encode(value)
    try:
        return function(_ffi.FORMAT_PICKLE, data, len(data), *args)
    except TypeError:
        plain = _pickle_plain(value)
        if plain == data:
            raise
        return function(_ffi.FORMAT_PICKLE, plain, len(plain), *args)


def to_plain(value, _seen: Optional[dict] = None, foreign: Optional[list] = None):
    """`value` with every JSON-able subclass replaced by its plain type, as `json.dumps`
    would write it, and every other value (or dict key) by a _Foreign, listed in
    `foreign`; a container reached twice is converted once, so sharing survives.
    Raises ValueError for a container that contains itself, as json does."""
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, (dict, list, tuple)):
        _seen = {} if _seen is None else _seen
        if id(value) in _seen:
            converted = _seen[id(value)]
            if converted is _IN_PROGRESS:
                raise ValueError("Circular reference detected")
            return converted
        _seen[id(value)] = _IN_PROGRESS
        if isinstance(value, dict):
            plain = {to_plain(k, _seen, foreign) if isinstance(k, _PLAIN) else _foreign(k, foreign):
                     to_plain(v, _seen, foreign) for k, v in value.items()}
        else:
            plain = [to_plain(item, _seen, foreign) for item in value]
        _seen[id(value)] = plain
        return plain
    return _foreign(value, foreign)


_IN_PROGRESS = object()


def _foreign(value, found: Optional[list]) -> _Foreign:
    stand_in = _Foreign(value)
    if found is not None:
        found.append(stand_in)
    return stand_in


def canonical_json(value) -> str:
    """`json.dumps(value, sort_keys=True)` as written by the native writer."""
    return call_with_value(_canonical, value)


def _canonical(fmt, data, length):
    return _ffi.call_returning_string(_ffi.mf_json_canonical, None, fmt, data, length)
