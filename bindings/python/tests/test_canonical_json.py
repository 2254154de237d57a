"""The native canonical writer against `json.dumps(obj, sort_keys=True)`."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from json_strategies import (FLOAT_EDGES, INT_EDGES, SPECIAL_CHARS, distinct_nan_keys, json_values,
                             non_str_key_dicts, scaled)
from muflow_native._values import canonical_json


def expected(obj):
    return json.dumps(obj, sort_keys=True)


@settings(max_examples=scaled(4000))
@given(obj=json_values(max_leaves=30))
def test_generated_values(obj):
    assert canonical_json(obj) == expected(obj)


@settings(max_examples=scaled(1500))
@given(obj=non_str_key_dicts())
def test_generated_non_str_keys(obj):
    if distinct_nan_keys(obj) > 1:
        # Deliberate difference: json.dumps writes the key "NaN" twice; we refuse.
        with pytest.raises(TypeError):
            canonical_json(obj)
        return
    assert canonical_json(obj) == expected(obj)
    assert canonical_json([obj, {"k": obj}]) == expected([obj, {"k": obj}])


@pytest.mark.parametrize("value", FLOAT_EDGES, ids=repr)
def test_float_table(value):
    assert canonical_json(value) == expected(value)
    assert canonical_json([value, -value]) == expected([value, -value])


@pytest.mark.parametrize(
    "value",
    [1e16, 1e15, 9.999999999999999e15, 1e-5, 1e-4, 0.0001, 1.5e-5, 12345678901234567.0, 1.0, -0.0, 0.1 + 0.2,
     1e21, 1e-7, 123.456, 5e-324, 2.5e-323, 1.7976931348623157e308, 4.35, 2.0**-1074, 9007199254740993.0],
    ids=repr,
)
def test_float_repr_corners(value):
    assert canonical_json({"f": value}) == expected({"f": value})


@pytest.mark.parametrize("value", INT_EDGES + [10**4000, -(10**4000)], ids=lambda v: str(v)[:30])
def test_int_table(value):
    assert canonical_json(value) == expected(value)


@pytest.mark.parametrize("value", SPECIAL_CHARS + ["".join(SPECIAL_CHARS), "plain", ""], ids=repr)
def test_string_table(value):
    assert canonical_json(value) == expected(value)
    assert canonical_json({value: value}) == expected({value: value})


def test_keys_sorted_by_code_point_not_utf16():
    obj = {"\uffff": 1, "\U00010000": 2, "\ue000": 3, "\ud800": 4, "\udfff": 5, "\ud7ff": 6, "z": 7, "": 8}
    assert canonical_json(obj) == expected(obj)


@pytest.mark.parametrize(
    "obj",
    [
        {10: "a", 2: "b"},
        {10: "a", 2: "b", 1.5: "c"},
        {True: "a", False: "b"},
        {None: "x"},
        {True: "t", 1.5: "f"},  # sorted as numbers (True == 1), then written "true", "1.5"
        {2**70: 1, 3: 2, -(2**70): 3},
        {float("inf"): 1, float("-inf"): 2, 0: 3},
        {-0.0: "neg zero"},
        {1e16: "a", 1e-5: "b", 5e-324: "c"},
        {float("nan"): 1},
        {"a": {3: [1, {2: None}]}},
    ],
    ids=repr,
)
def test_non_str_keys(obj):
    assert canonical_json(obj) == expected(obj)


def test_two_nan_keys_are_refused():
    """Two distinct NaN objects are two keys; json.dumps writes "NaN" twice, which no
    JSON object can hold, so the library refuses rather than hash one of them."""
    with pytest.raises(TypeError, match="same JSON key"):
        canonical_json({float("nan"): 1, float("nan"): 2})


@pytest.mark.parametrize(
    "obj",
    [{1: "a", "b": 2}, {"a": {1: "a", "b": 2}}, [{None: 1, "x": 2}], {None: 1, True: 2}, {1.5: 0, "x": 1}],
    ids=repr,
)
def test_unsortable_keys_raise_type_error(obj):
    with pytest.raises(TypeError) as python_error:
        expected(obj)
    with pytest.raises(TypeError) as native_error:
        canonical_json(obj)
    assert "not supported between instances of" in str(python_error.value)
    assert "not supported between instances of" in str(native_error.value)


def test_tuples_are_lists():
    assert canonical_json((1, (2, ("a",)))) == expected((1, (2, ("a",)))) == "[1, [2, [\"a\"]]]"


def test_shared_objects():
    shared = [1, {"a": "b"}, 2**80]
    obj = {"x": shared, "y": [shared, shared], "z": {"w": shared}}
    assert canonical_json(obj) == expected(obj)
