"""JSON with NaN/Infinity as strings, numpy values and ISO dates.

The output is byte-for-byte what muflow 0.4.0 writes, so files written by either
library read back the same in both:

- non-finite floats (Python or numpy) inside dicts, lists and numpy arrays, and at
  the top level, become the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``;
- numpy arrays become lists, numpy scalars Python scalars;
- ``datetime``/``date`` become ``isoformat()`` strings.

Containers other than dict and list (tuples, say) are left to ``json``, which writes
a non-finite float in them as the bare token ``NaN``, as muflow does.
``loads_json`` turns the three strings back into floats wherever they occur.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from typing import Any

import numpy as np

_SPECIAL_FLOATS = {
    "NaN": float("nan"),
    "Infinity": float("inf"),
    "-Infinity": float("-inf"),
}


def _float_token(value: float) -> Any:
    """The float itself when finite, else its string token."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _jsonable(obj: Any) -> Any:
    """``obj`` with the values ``json`` cannot write as we want replaced, recursively
    through dicts, lists and arrays."""
    if isinstance(obj, dict):
        return {key: _jsonable(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [_jsonable(item) for item in obj]
    if isinstance(obj, float):  # also np.float64, a float subclass
        return _float_token(obj)
    if isinstance(obj, np.floating):
        return _float_token(float(obj))
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


class ExtendedJSONEncoder(json.JSONEncoder):
    """A ``json.JSONEncoder`` for scientific results: see the module docstring."""

    def default(self, obj: Any) -> Any:
        if isinstance(obj, (float, np.floating)):
            return _float_token(float(obj))
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, np.integer):
            return int(obj)
        if isinstance(obj, np.bool_):
            return bool(obj)
        if isinstance(obj, (datetime, date)):
            return obj.isoformat()
        return super().default(obj)

    def encode(self, obj: Any) -> str:
        if isinstance(obj, float):
            obj = _float_token(obj)
        return super().encode(obj)

    def iterencode(self, obj: Any, _one_shot: bool = False):
        return super().iterencode(_jsonable(obj), _one_shot)


def _restore_floats(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {key: _restore_floats(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [_restore_floats(item) for item in obj]
    if isinstance(obj, str):
        return _SPECIAL_FLOATS.get(obj, obj)
    return obj


def dumps_json(obj: Any, **kwargs) -> str:
    """``json.dumps`` with ``cls=ExtendedJSONEncoder`` unless another ``cls`` is given."""
    kwargs.setdefault("cls", ExtendedJSONEncoder)
    return json.dumps(obj, **kwargs)


def loads_json(s: str, **kwargs) -> Any:
    """``json.loads``, then ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` strings
    anywhere in the result become floats again."""
    return _restore_floats(json.loads(s, **kwargs))
