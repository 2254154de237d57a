"""compute_prefix selects the hashed object and writes the label in Python, with the
core's parameters (mf_prefix_selection), so that values outside the identity keys never
cross into the library. These tests keep that path in agreement with the core's own
selection and label (mf_compute_prefixes over the whole dict), for every dict whose
task value the core can write as Python does (no tuples: their text is Python's)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

import muflow_native
from json_strategies import base_prefixes, hash_dicts, identity_keys_for, json_values, scaled, text
from muflow_native import _ffi, _values
from muflow_native.storage.base import compute_prefixes


def core_prefix(d: dict, base: str, identity_keys) -> str:
    """The core's selection and label: the whole dict crosses (the batch form, whose
    JSON result carries any label, NUL bytes and lone surrogates included)."""
    data = _values.encode([d])
    keys = json.dumps(identity_keys).encode("ascii") if identity_keys is not None else None
    text_out = _ffi.call_returning_string(_ffi.mf_compute_prefixes, _ffi.FORMAT_PICKLE, data, len(data),
                                          base.encode("utf-8", "surrogatepass"), keys)
    return json.loads(text_out)[0]


def outcome(function, *args):
    """The prefix as UTF-16 code units (the core's JSON spells a character beyond U+FFFF
    as a surrogate pair, which a str may also hold as two separate code points), or the
    class of the error."""
    try:
        return function(*args).encode("utf-16-le", "surrogatepass")
    except Exception as error:  # noqa: BLE001 - compared by class
        return type(error)


plain_tasks = st.one_of(text, st.none(), st.booleans(), st.integers(), st.floats(),
                        json_values(max_leaves=6, tuples=False))


@st.composite
def cases(draw):
    d = draw(hash_dicts(max_leaves=10))
    if "task" in d and (draw(st.booleans()) or any(isinstance(v, tuple) for v in _walk(d["task"]))):
        d["task"] = draw(plain_tasks)
    return d, draw(identity_keys_for(d)), draw(base_prefixes)


def _walk(value):
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _walk(v)


@settings(max_examples=scaled(1500))
@given(case=cases())
def test_python_selection_and_label_agree_with_the_core(case):
    d, identity_keys, base = case
    expected = outcome(core_prefix, d, base, identity_keys)
    assert outcome(muflow_native.compute_prefix, d, base, identity_keys) == expected, (d, identity_keys)
    assert outcome(lambda: compute_prefixes([d], base, identity_keys)[0]) == expected


def test_the_selection_parameters_are_muflows():
    # A dict without a task is hashed and labelled as muflow's "unknown" task.
    assert muflow_native.compute_prefix({"a": 1}, "m", ["a"]).startswith("m/unknown/")
    assert muflow_native.compute_prefix({"a": 1}, "m", ["a"]) == \
        muflow_native.compute_prefix({"a": 1, "task": "unknown", "b": 2}, "m", ["a"])
