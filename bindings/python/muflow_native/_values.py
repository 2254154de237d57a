"""Structured values on their way into libmuflow.

Values cross as a pickle of plain data (dict, list, tuple, str, int, float, bool,
None): the C pickler is the fastest serialiser in the standard library and shares
repeated objects, which the library then reads once. Subclasses of those types
(enums, OrderedDict, named tuples) are first converted to the plain types the way
Python's ``json`` module treats them; anything else is a TypeError naming its key path.
"""

from __future__ import annotations

import pickle

from . import _ffi

_PROTOCOL = 5
_PLAIN = (str, int, float, bool, type(None))


def encode(value) -> bytes:
    """A pickle of `value` as plain data; tries the value as it is first."""
    try:
        return pickle.dumps(value, _PROTOCOL)
    except RecursionError:
        raise
    except Exception:
        return pickle.dumps(to_plain(value), _PROTOCOL)


def call_with_value(function, value, *args):
    """Calls `function(FORMAT_PICKLE, data, len, *args)`; on a type refusal retries
    once with the value converted to plain types, so that what fails names its path."""
    data = encode(value)
    try:
        return function(_ffi.FORMAT_PICKLE, data, len(data), *args)
    except TypeError:
        plain = pickle.dumps(to_plain(value), _PROTOCOL)
        if plain == data:
            raise
        return function(_ffi.FORMAT_PICKLE, plain, len(plain), *args)


def to_plain(value, path: str = ""):
    """`value` with every JSON-able subclass replaced by its plain type, as `json.dumps`
    would write it. Raises TypeError naming the key path of a value JSON cannot hold."""
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, dict):
        plain = {}
        for key, item in value.items():
            plain[_plain_key(key, path)] = to_plain(item, f"{path}[{key!r}]")
        return plain
    if isinstance(value, (list, tuple)):
        return [to_plain(item, f"{path}[{i}]") for i, item in enumerate(value)]
    where = f" at {path}" if path else ""
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable{where}")


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
