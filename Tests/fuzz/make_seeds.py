"""Writes the hand-made seeds of the fuzz corpus (Tests/fuzz/corpus/<target>/seed-*).

Python's standard library only: `python3 Tests/fuzz/make_seeds.py`. The seeds are
small inputs that reach each reader's branches (and a few of its edge cases) so that
libFuzzer starts from there; the corpus also keeps what `make fuzz` found, merged.
"""

import json
import pathlib
import pickle

CORPUS = pathlib.Path(__file__).resolve().parent / "corpus"

JSON_SEEDS = [
    b"{}",
    b"[]",
    b'{"b": [1e16, 1e-5, -0.0, NaN], "a": "\\u00e9"}',
    b'[Infinity, -Infinity, NaN, 0, -0, 1.0, 1E400, -1e-400, 5e-324, 1.7976931348623157e308]',
    b"[123456789012345678901234567890, -98765432109876543210, 9223372036854775808, -9223372036854775809]",
    b'["\\ud83d\\ude00", "\\ud800", "\\udc00x", "\\u0000", "\\"\\\\\\/\\b\\f\\n\\r\\t"]',
    "{\"caf\u00e9\": \"\u65e5\u672c\", \"\U0001f600\": 1}".encode(),
    b'{"a": 1, "b": 2, "a": 3}',
    b' \t\n\r{"nested": {"x": [true, false, null, {"y": []}]}} \n',
    b"[" * 1000 + b"]" * 1000,
    b"[" * 1001 + b"]" * 1001,
    b'{"a": [1, 2,]}',
    b'"\xff\xfe"',
    b"[1.5e+3, 0.1, 100000000000000000000.0, 1e22, 123.456e-7]",
]


class Custom:
    """Refused in a pickle: an instance of a class."""


def pickles():
    shared = {"k": [1, 2]}
    loop = [1]
    loop.append(loop)
    values = [
        {"task": "my.task", "subject": "data:123", "param": "value"},
        [1, -1, 255, 256, 65535, 65536, -2**31, 2**31, 2**63, -2**100, 10**40],
        {"f": [0.0, -0.0, 1.5, 1e16, 1e-5, float("inf"), float("-inf"), float("nan")]},
        {"tuple": (1, "two", None), "empty": (), "one": (1,), "three": (1, 2, 3)},
        {1: "int key", 2.5: "float", True: "bool", None: "none", "s": "str"},  # unorderable
        {1: "int key", 2.5: "float", -3: "negative", 10**30: "big"},
        {False: 0, True: 1},
        {None: "none"},
        [shared, shared, {"again": shared}],
        {"s": "caf\u00e9 \U0001f600 \ud800".encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")},
        list(range(1001)),
        {str(i): i for i in range(1001)},
        {"bytes": b"abc"},
        {"set": {1, 2}},
        {"frozen": frozenset([1])},
        {"obj": Custom()},
        loop,
        [[[[[[]]]]]],
        {"nested": {"a": {"b": {"c": []}}}},
        "just a string",
        None,
        [True, False],
    ]
    for value in values:
        for protocol in (2, 3, 4, 5):
            try:
                yield pickle.dumps(value, protocol=protocol)
            except (pickle.PicklingError, UnicodeEncodeError, AttributeError):
                pass
    # Not what CPython writes, but valid pickles: a repeated dict key (the last value
    # wins), memo slots out of sequence, a STOP with extra bytes after it.
    yield b"\x80\x02}q\x00(X\x01\x00\x00\x00aK\x01X\x01\x00\x00\x00aK\x02u."
    yield b"\x80\x02]q\x05(K\x01h\x05e."
    yield b"\x80\x02N.extra"
    yield b"\x80\x02(K\x01K\x02l."
    yield b"\x80\x02K\x01K\x02\x86."


def plan(nodes, root, **extra):
    return json.dumps({"nodes": nodes, "root_key": root, **extra}, separators=(",", ":")).encode()


def node(key, deps=(), **fields):
    base = {
        "key": key, "function": "task." + key, "subject_key": "subject:1", "kwargs": {"x": 1},
        "storage_prefix": "muflow/task." + key + "/0123456789abcdef", "depends_on": list(deps),
        "depended_on_by": [], "output_files": [], "analysis_id": None, "dependency_access_map": {},
    }
    base.update(fields)
    return base


PLAN_SEEDS = [
    plan({"a": node("a")}, "a"),
    plan({"a": node("a"), "b": node("b", ["a"], depended_on_by=[], output_files=["out.json"],
                                    dependency_access_map={"step": "muflow/task.a/0123456789abcdef"})}, "b"),
    plan({"filed": node("a")}, "filed"),
    plan({"a": node("a", analysis_id="12")}, "a"),
    plan({"a": node("a", analysis_id=3.0)}, "a"),
    plan({"a": node("a", analysis_id=True)}, "a"),
    plan({"a": {"key": "a", "function": "f", "subject_key": "s", "kwargs": {}, "storage_prefix": "p"}}, "a"),
    plan({"a": node("a", ["b"]), "b": node("b", ["a"])}, "a"),
    plan({"a": node("a", ["missing"])}, "a"),
    plan({"a": node("a")}, "missing"),
    plan({"a": node("a", extra_field=1)}, "a"),
    plan({"a": node("a")}, "a", extra=1),
    plan({"a\u0000b": node("a"), "a": node("c")}, "a\u0000b"),
    plan({"\u00e9": node("\u00e9", kwargs={"\U0001f600": [1.5, None, "x"]})}, "\u00e9"),
    plan({
        "root": node("root", ["f0", "f1", "t"]), "t": node("t", ["f0", "f1"]),
        "f0": node("f0", depended_on_by=["t", "root"]), "f1": node("f1", depended_on_by=["t", "root"]),
    }, "root"),
]


def prefix_seed(dict_bytes, flags=0, base=None, keys=None):
    if base is None:
        return bytes([flags]) + dict_bytes
    return bytes([flags]) + base.encode() + b"\0" + (keys or "").encode() + b"\0" + dict_bytes


PREFIX_DICTS = [
    {"task": "my.task", "subject": "data:123", "param": "value"},
    {"task": 12, "x": [1.5, None]},
    {"task": {"b": 1.5, "a": [True, None, "s"]}, "y": 1},
    {"task": [1e16, 1e-5, float("inf"), -0.0, 10**20]},
    {"task": "t\u00e9\U0001f600", "n": 1},
    {"no_task": 1},
]

PREFIX_SEEDS = [
    *[prefix_seed(json.dumps(d).encode()) for d in PREFIX_DICTS],
    *[prefix_seed(pickle.dumps(d, protocol=4), flags=1) for d in PREFIX_DICTS],
    prefix_seed(json.dumps(PREFIX_DICTS[0]).encode(), base="base", keys='["param"]'),
    prefix_seed(json.dumps(PREFIX_DICTS[0]).encode(), base="", keys="[]"),
    prefix_seed(json.dumps(PREFIX_DICTS[0]).encode(), flags=2, base="b\u00e9", keys="ignored"),
    prefix_seed(pickle.dumps(PREFIX_DICTS[2], protocol=2), flags=1, base="x", keys='["y", "missing"]'),
    prefix_seed(b"[1]", base="muflow", keys="[1]"),
    prefix_seed(b'{"task": "a"}', base="muflow", keys="not json"),
]


def write(target, seeds):
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(seeds):
        (directory / f"seed-{i:03d}").write_bytes(seed)
    print(f"{target}: {len(seeds)} seeds")


if __name__ == "__main__":
    write("json", JSON_SEEDS)
    write("pickle", list(pickles()))
    write("plan", PLAN_SEEDS)
    write("prefix", PREFIX_SEEDS)
