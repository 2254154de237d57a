"""What compute_prefix does with values JSON cannot hold, with Python types that json
treats as plain ones, with cycles and with deep nesting: as muflow 0.4.0 does, and the
errors name where the bad value is."""

import collections
import datetime
import enum
import json
import os
import pathlib
import pickle
import subprocess
import sys
import textwrap

import pytest

import muflow_native
from muflow.storage.base import compute_prefix as muflow_prefix
from muflow_native import _ffi, _values
from muflow_native.storage.base import compute_prefixes

MAX_DEPTH = 1000  # MF_MAX_DEPTH in include/muflow.h


def check(d, base="muflow", identity_keys=None):
    expected = muflow_prefix(d, base, identity_keys)
    assert muflow_native.compute_prefix(d, base, identity_keys) == expected
    assert compute_prefixes([d, d], base, identity_keys) == [expected, expected]


def native_canonical(data: bytes, fmt=_ffi.FORMAT_PICKLE) -> str:
    """mf_json_canonical on raw bytes, with no Python fallback."""
    return _ffi.call_returning_string(_ffi.mf_json_canonical, None, fmt, data, len(data))


def native_prefix(data: bytes, fmt=_ffi.FORMAT_PICKLE) -> str:
    return _ffi.call_returning_string(_ffi.mf_compute_prefix, fmt, data, len(data), b"muflow", None)


# -- Values JSON cannot hold -----------------------------------------------------------


class Custom:
    pass


def local_function():
    return lambda: None


BAD_VALUES = [
    {1, 2},
    frozenset({1}),
    b"bytes",
    bytearray(b"x"),
    Custom(),
    object(),
    1 + 2j,
    local_function(),  # not picklable at all
    Custom,
    len,
    range(3),
]


@pytest.mark.parametrize("bad", BAD_VALUES, ids=lambda v: type(v).__name__)
def test_unserialisable_value_names_its_path(bad):
    d = {"task": "t", "a": [1, {"b": bad}]}
    with pytest.raises(TypeError) as muflow_error:
        muflow_prefix(d)
    with pytest.raises(TypeError) as native_error:
        muflow_native.compute_prefix(d)
    message = str(native_error.value)
    assert "is not JSON serializable" in str(muflow_error.value)
    assert f"Object of type {type(bad).__name__} is not JSON serializable" in message
    assert "['a'][1]['b']" in message
    with pytest.raises(TypeError) as batch_error:
        compute_prefixes([{"task": "t"}, d])
    assert "['a'][1]['b']" in str(batch_error.value)


@pytest.mark.parametrize("bad", [{1, 2}, b"bytes", frozenset({3})], ids=lambda v: type(v).__name__)
def test_native_refusal_names_the_path(bad):
    """The library itself, given the pickle with no Python fallback, names the path."""
    data = pickle.dumps({"task": "t", "a": [1, {"b": bad}]}, 5)
    for call in (native_canonical, native_prefix):
        with pytest.raises(TypeError) as error:
            call(data)
        assert "['a'][1]['b']" in str(error.value)
        assert f"Object of type {type(bad).__name__} is not JSON serializable" in str(error.value)


ONE_FORMAT = [{1, 2}, b"bytes", Custom(), datetime.datetime(2024, 1, 2), pathlib.Path("/x"), local_function()]


@pytest.mark.parametrize("bad", ONE_FORMAT, ids=lambda v: type(v).__name__)
def test_one_message_format_for_every_unsupported_type(bad):
    """The library writes every refusal (a value that crosses natively, like a set, or
    one Python cannot even pickle), so the key path reads the same for all; muflow's
    message is the same text without the path."""
    d = {"task": "t", "a": [1, {"b": bad}]}
    refusal = f"Object of type {type(bad).__name__} is not JSON serializable"
    with pytest.raises(TypeError) as theirs:
        muflow_prefix(d)
    assert str(theirs.value) == refusal
    with pytest.raises(TypeError) as ours:
        muflow_native.compute_prefix(d)
    assert str(ours.value) == f"{refusal} at value['a'][1]['b']"
    with pytest.raises(TypeError) as ours:
        compute_prefixes([{"task": "t"}, d])
    assert str(ours.value) == f"{refusal} at value[1]['a'][1]['b']"
    with pytest.raises(TypeError) as ours:
        muflow_native.Pipeline(name="p", steps={"s": muflow_native.Step(task="t")}).build_plan("s", {"a": [bad]})
    assert str(ours.value) == f"{refusal} at value['a'][0]"


@pytest.mark.parametrize("bad_key", [(1, 2), Custom(), frozenset()], ids=lambda v: type(v).__name__)
def test_one_message_format_for_every_bad_key(bad_key):
    d = {"task": "t", "a": {bad_key: 1}}
    refusal = f"keys must be str, int, float, bool or None, not {type(bad_key).__name__}"
    with pytest.raises(TypeError) as theirs:
        muflow_prefix(d)
    assert str(theirs.value) == refusal
    with pytest.raises(TypeError) as ours:
        muflow_native.compute_prefix(d)
    assert str(ours.value) == f"{refusal} at value['a']"


@pytest.mark.parametrize("bad", [{1, 2}, b"x", Custom()], ids=lambda v: type(v).__name__)
def test_bad_value_as_identity_key_or_task(bad):
    d = {"task": "t", "k": bad, "ok": 1}
    with pytest.raises(TypeError):
        muflow_prefix(d, "m", ["k"])
    with pytest.raises(TypeError) as error:
        muflow_native.compute_prefix(d, "m", ["k"])
    assert "['k']" in str(error.value)
    # A bad value outside the identity keys is not hashed, by either.
    assert muflow_native.compute_prefix(d, "m", ["ok"]) == muflow_prefix(d, "m", ["ok"])


@pytest.mark.parametrize("bad_key", [(1, 2), Custom(), b"k"], ids=lambda v: type(v).__name__)
def test_bad_dict_keys(bad_key):
    d = {"task": "t", "a": {bad_key: 1}}
    with pytest.raises(TypeError):
        muflow_prefix(d)
    with pytest.raises(TypeError) as error:
        muflow_native.compute_prefix(d)
    assert "['a']" in str(error.value)


@pytest.mark.parametrize("d", [{1: "a", "task": "t"}, {"task": "t", "x": {None: 1, "y": 2}}], ids=repr)
def test_unsortable_keys(d):
    with pytest.raises(TypeError):
        muflow_prefix(d)
    with pytest.raises(TypeError):
        muflow_native.compute_prefix(d)


@pytest.mark.parametrize("keys", [[1], ["a", 2], [None], [("a",)], [["unhashable"]], ["a", 1.5]], ids=repr)
def test_identity_keys_not_str(keys):
    """muflow accepts any key it can look up; where it fails we fail with TypeError, and
    where it succeeds we either give its result or refuse with TypeError."""
    d = {"task": "t", "a": 1}
    try:
        expected = muflow_prefix(d, "m", keys)
    except TypeError:
        expected = None
    for call in (lambda: muflow_native.compute_prefix(d, "m", keys), lambda: compute_prefixes([d], "m", keys)[0]):
        try:
            got = call()
        except TypeError:
            continue
        assert expected is not None and got == expected


def test_hash_dict_must_be_a_dict():
    for not_a_dict in ([("task", "t")], "task", 3, None):
        with pytest.raises((TypeError, AttributeError)):
            muflow_prefix(not_a_dict)
        with pytest.raises((TypeError, AttributeError, ValueError)):
            muflow_native.compute_prefix(not_a_dict)


def test_integer_beyond_python_str_limit():
    """Python refuses to write an int of more than 4300 digits (sys.get_int_max_str_digits),
    so muflow raises ValueError; so should we."""
    d = {"task": "t", "n": 10**5000}
    with pytest.raises(ValueError):
        muflow_prefix(d)
    with pytest.raises(ValueError):
        muflow_native.compute_prefix(d)


# -- Subclasses that json treats as their base type ------------------------------------


class StrEnumMixin(str, enum.Enum):
    A = "alpha"
    B = "beta"


class IntEnumMixin(int, enum.Enum):
    ONE = 1


class Level(enum.IntEnum):
    HIGH = 3


class FloatEnum(float, enum.Enum):
    HALF = 0.5


class MyStr(str):
    def __str__(self):
        return "custom str"


class MyInt(int):
    def __repr__(self):
        return "custom repr"


class MyFloat(float):
    pass


class MyDict(dict):
    pass


class MyList(list):
    pass


Point = collections.namedtuple("Point", "x y")

SUBCLASS_VALUES = [
    StrEnumMixin.A, IntEnumMixin.ONE, Level.HIGH, FloatEnum.HALF, MyStr("s"), MyInt(7), MyFloat(2.5),
    MyDict(a=1, b=[MyInt(2)]), MyList([1, MyStr("x")]), Point(1, 2), Point(MyFloat(1.0), [Level.HIGH]),
    collections.OrderedDict([("b", 1), ("a", 2)]), collections.defaultdict(list, {"k": [1]}),
]


@pytest.mark.parametrize("value", SUBCLASS_VALUES, ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("identity_keys", [None, ["v"]])
def test_subclasses_hash_as_base_types(value, identity_keys):
    check({"task": "t", "v": value, "nested": [{"w": value}]}, "muflow", identity_keys)


@pytest.mark.parametrize("key", [StrEnumMixin.B, MyStr("k"), Level.HIGH, MyInt(5), MyFloat(0.25)], ids=repr)
def test_subclass_keys(key):
    check({"task": "t", "v": {key: 1}})


@pytest.mark.parametrize("task", SUBCLASS_VALUES + [(1, 2), ("a",), {2: "b", 1: "a"}],
                         ids=lambda v: type(v).__name__ + repr(v)[:20])
def test_subclass_as_task(task):
    """The label is muflow's f"{task}": an enum member shows as Class.NAME, a named tuple
    as Point(x=1, y=2), a tuple with parentheses."""
    check({"task": task, "x": 1})
    check({"task": task, "x": 1}, "m", ["x"])


def test_ordered_dict_hash_dict():
    d = collections.OrderedDict([("task", "t"), ("b", 1), ("a", 2)])
    check(d)
    check(d, "m", ["a"])


def test_dict_subclass_hash_dict():
    check(MyDict(task="t", a=[1, 2]))


# -- Cycles ----------------------------------------------------------------------------


def cyclic_list():
    a = [1]
    a.append(a)
    return a


def cyclic_dict():
    d = {"x": 1}
    d["self"] = d
    return d


def cyclic_ordered_dict():
    d = collections.OrderedDict()
    d["self"] = d
    return d


def cyclic_via_subclass():
    inner = MyList([1])
    inner.append({"back": inner})
    return inner


@pytest.mark.parametrize("make", [cyclic_list, cyclic_dict, cyclic_ordered_dict, cyclic_via_subclass])
def test_circular_reference_is_value_error(make):
    d = {"task": "t", "c": make()}
    with pytest.raises(ValueError, match="Circular reference detected"):
        muflow_prefix(d)
    with pytest.raises(ValueError, match="Circular reference detected"):
        muflow_native.compute_prefix(d)
    with pytest.raises(ValueError, match="Circular reference detected"):
        compute_prefixes([d])


def test_hash_dict_containing_itself():
    d = {"task": "t"}
    d["me"] = d
    with pytest.raises(ValueError, match="Circular"):
        muflow_prefix(d)
    with pytest.raises(ValueError, match="Circular"):
        muflow_native.compute_prefix(d)


def test_shared_but_not_circular_is_fine():
    shared = [1, 2]
    check({"task": "t", "a": shared, "b": [shared, {"c": shared}]})


# -- Depth -----------------------------------------------------------------------------


def nested(depth, kind="list"):
    root = [] if kind == "list" else {}
    node = root
    for _ in range(depth - 1):
        child = [] if kind == "list" else {}
        if kind == "list":
            node.append(child)
        else:
            node["a"] = child
        node = child
    return root


@pytest.mark.parametrize("kind", ["list", "dict"])
@pytest.mark.parametrize("depth", [10, 200, 400, 490, 500, 700, 900, 980])
def test_deep_nesting_that_muflow_accepts(depth, kind):
    """muflow's json.dumps reaches about 990 levels under the default recursion limit;
    whatever muflow hashes we hash the same."""
    d = {"task": "t", "v": nested(depth, kind)}
    try:
        expected = muflow_prefix(d)
    except RecursionError:
        pytest.skip("muflow itself overflows here")
    assert muflow_native.compute_prefix(d) == expected


@pytest.mark.parametrize("kind", ["list", "dict"])
def test_2000_levels(kind):
    """muflow raises RecursionError; we raise RecursionError too (the pickler overflows
    first) or ValueError naming the limit, and nothing crashes."""
    d = {"task": "t", "v": nested(2000, kind)}
    with pytest.raises(RecursionError):
        muflow_prefix(d)
    with pytest.raises((RecursionError, ValueError)) as error:
        muflow_native.compute_prefix(d)
    if error.type is ValueError:
        assert str(MAX_DEPTH) in str(error.value)


def test_2000_levels_with_raised_recursion_limit():
    """With a recursion limit high enough for the pickler, the library's own limit
    applies: ValueError naming MF_MAX_DEPTH."""
    d = {"task": "t", "v": nested(2000)}
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(20000)
    try:
        with pytest.raises(ValueError) as error:
            muflow_native.compute_prefix(d)
    finally:
        sys.setrecursionlimit(old)
    assert str(MAX_DEPTH) in str(error.value)


def deep_pickle(depth: int) -> bytes:
    """A protocol-2 pickle of `depth` nested lists, written op by op (no recursion)."""
    # PROTO 2, then depth x EMPTY_LIST, then depth-1 x APPEND, STOP.
    return b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b"."


def deep_dict_pickle(depth: int) -> bytes:
    # EMPTY_DICT, then per level: SHORT_BINUNICODE 'a' EMPTY_DICT ... SETITEM closes.
    return b"\x80\x02}" + b"X\x01\x00\x00\x00a}" * (depth - 1) + b"s" * (depth - 1) + b"."


def test_handmade_pickles_are_what_they_claim():
    assert pickle.loads(deep_pickle(3)) == [[[]]]
    assert pickle.loads(deep_dict_pickle(3)) == {"a": {"a": {}}}


@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, MAX_DEPTH])
def test_native_depth_limit_boundary(depth):
    """Exactly MF_MAX_DEPTH levels of arrays are accepted, in either format."""
    text = "[" * depth + "]" * depth
    assert native_canonical(text.encode(), _ffi.FORMAT_JSON) == text
    assert native_canonical(deep_pickle(depth)) == text


def test_native_depth_limit_beyond():
    text = ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)).encode()
    with pytest.raises(ValueError) as error:
        native_canonical(text, _ffi.FORMAT_JSON)
    assert str(MAX_DEPTH) in str(error.value)
    with pytest.raises(ValueError) as error:
        native_canonical(deep_pickle(MAX_DEPTH + 1))
    assert str(MAX_DEPTH) in str(error.value)


def test_very_deep_raw_input_does_not_crash():
    """100,000 levels of JSON and pickle straight into the library, in a subprocess so
    that a stack overflow shows as a failed test rather than a crashed run."""
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_prefix_errors import deep_pickle, deep_dict_pickle, native_canonical, native_prefix
        from muflow_native import _ffi
        n = 100_000
        cases = [
            (native_canonical, ("[" * n + "]" * n).encode(), _ffi.FORMAT_JSON),
            (native_canonical, ('{{"a":' * n + "1" + "}}" * n).encode(), _ffi.FORMAT_JSON),
            (native_prefix, ('{{"task":' * n + "1" + "}}" * n).encode(), _ffi.FORMAT_JSON),
            (native_canonical, deep_pickle(n), _ffi.FORMAT_PICKLE),
            (native_prefix, deep_dict_pickle(n), _ffi.FORMAT_PICKLE),
            (native_canonical, ("[" * n).encode(), _ffi.FORMAT_JSON),
        ]
        for call, data, fmt in cases:
            try:
                call(data, fmt)
            except ValueError as error:
                assert "1000" in str(error), str(error)
            else:
                raise AssertionError("accepted")
        print("survived")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd="/")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "survived" in result.stdout


@pytest.mark.parametrize(
    "data",
    [b"", b"\x80", b"\x80\x05", b"\x80\x02]", b"garbage", b"\x80\x02N.", b"\x80\x02K\x01.", b"\x80\x02X\x05\x00\x00\x00ab."],
    ids=repr,
)
def test_malformed_or_non_dict_pickles_are_refused(data):
    with pytest.raises((ValueError, TypeError)):
        native_prefix(data)


@pytest.mark.parametrize("text", [b"", b"[", b"{\"a\":}", b"[1,]", b"nan", b"\"\\ud800\"x", b"[1] [2]", b"\xff"], ids=repr)
def test_malformed_json_is_refused(text):
    with pytest.raises((ValueError, TypeError)):
        native_canonical(text, _ffi.FORMAT_JSON)
