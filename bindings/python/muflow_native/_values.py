"""Structured values on their way into libmuflow.

Values cross as a pickle of plain data (dict, list, tuple, str, int, float, bool,
None): the C pickler is the fastest serialiser in the standard library and shares
repeated objects, which the library then reads once. Subclasses of those types
(enums, OrderedDict, named tuples) are first converted to the plain types the way
Python's ``json`` module treats them; anything else is a TypeError naming its key path.
"""

from __future__ import annotations

import pickle
import sys
from typing import Optional

from . import _ffi

PROTOCOL = 5
MAX_VALUE_BYTES = 256 * 1024 * 1024  # MF_MAX_VALUE_BYTES
_DEEP_RECURSION_LIMIT = 2 * 1000 + 200  # MF_MAX_DEPTH levels, two frames each, and margin
_PLAIN = (str, int, float, bool, type(None))


def encode(value) -> bytes:
    """A pickle of `value` as plain data; tries the value as it is first. Raises
    ValueError for a value over the library's size limit."""
    try:
        data = _pickle_deep(value)
    except RecursionError:
        raise
    except Exception:
        data = _pickle_deep(to_plain(value))
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
        data = _pickle_deep(to_plain(value))
    except RecursionError:
        data = encode(value)
    if len(data) > MAX_VALUE_BYTES:
        raise _over_limit(len(data))
    return data


def _pickle_deep(value) -> bytes:
    """pickle.dumps, with room for as deep a nesting as the library accepts: the
    pickler recurses about twice per level, json's encoder (muflow's) once."""
    try:
        return pickle.dumps(value, PROTOCOL)
    except RecursionError:
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, _DEEP_RECURSION_LIMIT))
        try:
            return pickle.dumps(value, PROTOCOL)
        finally:
            sys.setrecursionlimit(limit)


def call_with_value(function, value, *args):
    """Calls `function(FORMAT_PICKLE, data, len, *args)`; on a type refusal retries
    once with the value converted to plain types, so that what fails names its path."""
    data = encode(value)
    try:
        return function(_ffi.FORMAT_PICKLE, data, len(data), *args)
    except TypeError:
        plain = _pickle_deep(to_plain(value))
        if plain == data:
            raise
        return function(_ffi.FORMAT_PICKLE, plain, len(plain), *args)


def to_plain(value, path: str = "", _seen: Optional[dict] = None):
    """`value` with every JSON-able subclass replaced by its plain type, as `json.dumps`
    would write it; a container reached twice is converted once, so sharing survives.
    Raises TypeError naming the key path of a value JSON cannot hold, and ValueError for
    a container that contains itself, as json does."""
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
            plain = {_plain_key(k, path): to_plain(v, f"{path}[{k!r}]", _seen) for k, v in value.items()}
        else:
            plain = [to_plain(item, f"{path}[{i}]", _seen) for i, item in enumerate(value)]
        _seen[id(value)] = plain
        return plain
    where = f" at {path}" if path else ""
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable{where}")


_IN_PROGRESS = object()


def _plain_key(key, path):
    if isinstance(key, _PLAIN):
        return to_plain(key, path)
    where = f" at {path}" if path else ""
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}{where}")


def canonical_json(value) -> str:
    """`json.dumps(value, sort_keys=True)` as written by the native writer."""
    return call_with_value(_canonical, value)


def _canonical(fmt, data, length):
    return _ffi.call_returning_string(_ffi.mf_json_canonical, None, fmt, data, length)
