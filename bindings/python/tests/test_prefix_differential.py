"""muflow_native.compute_prefix against muflow 0.4.0's, byte for byte, on generated input.

Example counts (hash dicts): 5,000 + 4,000 + 3,000 single, 2,000 non-str-key, about
600 x 5.5 in generated batches and 300 x 30 sharing sub-objects: about 26,000 in total.
"""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import muflow_native
from json_strategies import (
    base_prefixes,
    distinct_nan_keys,
    hash_dicts,
    identity_keys_for,
    json_values,
    key_text,
    non_str_key_dicts,
    scaled,
    task_values,
    text,
)
from muflow.storage.base import compute_prefix as muflow_prefix
from muflow_native.storage import base as storage_base
from muflow_native.storage.base import compute_prefixes


def check(d, base="muflow", identity_keys=None):
    expected = muflow_prefix(d, base, identity_keys)
    got = muflow_native.compute_prefix(d, base, identity_keys)
    assert got == expected, (d, base, identity_keys)
    return got


@settings(max_examples=scaled(5000))
@given(d=hash_dicts(max_leaves=14))
def test_whole_dict(d):
    check(d)


@settings(max_examples=scaled(4000))
@given(data=st.data(), d=hash_dicts(max_leaves=10), base=base_prefixes)
def test_identity_keys_and_base_prefix(data, d, base):
    identity_keys = data.draw(identity_keys_for(d))
    check(d, base, identity_keys)


@settings(max_examples=scaled(3000))
@given(task=task_values, rest=st.dictionaries(key_text, json_values(max_leaves=4), max_size=3),
       with_keys=st.booleans())
def test_task_labels(task, rest, with_keys):
    d = dict(rest)
    d["task"] = task
    check(d, "muflow", ["a"] if with_keys else None)


@settings(max_examples=scaled(2000))
@given(d=non_str_key_dicts(), nested=st.booleans())
def test_non_str_keys(d, nested):
    """Non-str keys anywhere: json sorts the keys as Python orders them, then writes
    them as strings."""
    if nested:
        d = {"task": "t", "inner": d, "list": [d, 1]}
    if distinct_nan_keys(d) > 1:
        with pytest.raises(TypeError, match="NaN"):
            muflow_native.compute_prefix(d)
        return
    check(d)


@settings(max_examples=scaled(600))
@given(data=st.data(), dicts=st.lists(hash_dicts(max_leaves=8), min_size=1, max_size=10), base=base_prefixes)
def test_batch_matches_one_by_one(data, dicts, base):
    merged = {k: v for d in dicts for k, v in d.items()}
    identity_keys = data.draw(identity_keys_for(merged))
    expected = [muflow_prefix(d, base, identity_keys) for d in dicts]
    assert compute_prefixes(dicts, base, identity_keys) == expected
    assert compute_prefixes(iter(dicts), base, identity_keys) == expected
    assert muflow_native.compute_prefixes(dicts, base, identity_keys) == expected


@settings(max_examples=scaled(300))
@given(shared=json_values(max_leaves=30), n=st.integers(1, 60), identity=st.booleans())
def test_batch_shared_sub_objects(shared, n, identity):
    """One object referenced from many dicts (as muflow's builder shares the datasets
    list between nodes) is pickled once and must hash the same everywhere."""
    inner = {"values": shared, "again": shared}
    dicts = []
    for i in range(n):
        d = {"task": "ml.loo_cv", "subject": "experiment:1", "datasets": shared, "leave_out_index": i}
        if i % 3 == 0:
            d["nested"] = inner
        if i % 5 == 0:
            d["task"] = shared if not isinstance(shared, tuple) else list(shared)
        dicts.append(d)
    keys = ["datasets", "leave_out_index", "nested"] if identity else None
    expected = [muflow_prefix(d, "muflow", keys) for d in dicts]
    assert compute_prefixes(dicts, "muflow", keys) == expected
    assert [muflow_native.compute_prefix(d, "muflow", keys) for d in dicts] == expected


def test_batch_shared_datasets_list_large():
    datasets = [f"dataset:{i}" for i in range(5000)]
    dicts = [{"task": "ml.loo_cv", "subject": "experiment:1", "datasets": datasets, "leave_out_index": i}
             for i in range(2000)]
    dicts += [{"task": "ml.features", "dataset": name} for name in datasets[:2000]]
    expected = [muflow_prefix(d) for d in dicts]
    assert compute_prefixes(dicts) == expected
    assert compute_prefixes(dicts, "x", ["datasets"]) == [muflow_prefix(d, "x", ["datasets"]) for d in dicts]


@settings(max_examples=scaled(300))
@given(data=st.data(), dicts=st.lists(hash_dicts(max_leaves=8), min_size=2, max_size=12), base=base_prefixes)
def test_batch_in_chunks_on_two_threads_matches_one_by_one(data, dicts, base):
    """Long batches are hashed chunk by chunk on two threads; any chunking gives the same."""
    identity_keys = data.draw(st.none() | identity_keys_for({k: v for d in dicts for k, v in d.items()}))
    expected = [muflow_prefix(d, base, identity_keys) for d in dicts]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(storage_base, "PARALLEL_BATCH", 2)
        patch.setattr(storage_base, "PARALLEL_CHUNK", data.draw(st.integers(1, len(dicts))))
        assert compute_prefixes(dicts, base, identity_keys) == expected


def test_batch_resuming_over_shared_leading_text():
    """Consecutive dicts whose canonical texts share long leading stretches (the library
    resumes SHA-256 where they stop matching): ends inside and on stride boundaries, a
    text that is a shorter copy of the one before, and texts sharing nothing."""
    datasets = [f"d{i:05d}" for i in range(3000)]  # about 27 KB of JSON
    dicts = []
    for cut in (4096, 4095, 4097, 8192, 20000, 27000, 16384, 3000, 12):
        dicts.append({"a": datasets[:cut // 9], "z": cut})
        dicts.append({"a": datasets[:cut // 9], "z": cut, "zz": 1})
    dicts += [{"a": datasets, "b": i} for i in range(3)] + [{"a": datasets[:-1]}, {"a": datasets}]
    dicts += [{"a": list(reversed(datasets))}, {"0": 1, "a": datasets}]
    expected = [muflow_prefix(d) for d in dicts]
    assert compute_prefixes(dicts) == expected
    assert compute_prefixes(list(reversed(dicts))) == list(reversed(expected))


def test_batch_labels_the_library_assembles():
    """Task strings the library writes into the prefix itself (quotes, controls, astral
    characters, lone surrogates), a missing task, and non-str tasks falling back."""
    tasks = ["ml.loo_cv", "\ud800\udc00", 'quo"te', "back\\slash", "tab\tnew\nline", "caf\u00e9 \U0001f600", "\ud800lone", ""]
    dicts = [{"task": tasks[i % len(tasks)], "i": i} for i in range(5000)]
    dicts.append({"no_task": True})
    assert compute_prefixes(dicts) == [muflow_prefix(d) for d in dicts]
    dicts[2500]["task"] = 7
    assert compute_prefixes(dicts, "base/\u00e9") == [muflow_prefix(d, "base/\u00e9") for d in dicts]


def test_batch_empty():
    assert compute_prefixes([]) == []
    assert compute_prefixes(iter([])) == []


# -- Hand-picked cases -----------------------------------------------------------------

TRICKY = [
    {},
    {"task": "t"},
    {"task": ""},
    {"a": 1},
    {"task": "ml.loo_cv", "subject": "experiment:1", "datasets": ["a", "b", "c"], "leave_out_index": 0},
    {"task": "t", "f": [1e16, 1e-5, 9.999999999999999e15, -0.0, 0.0, 5e-324, 1e22, 1e-7, 0.1]},
    {"task": "t", "f": [float("nan"), float("inf"), float("-inf")]},
    {"task": "t", "i": [2**64, -(2**64), 2**63, -(2**63) - 1, 10**300, -(10**300)]},
    {"task": "t", "s": ["\ud800", "\udfff", "\ud83d\ude00", "\U0001f600", "\x00\x1f\x7f", "\u2028"]},
    {"\uffff": 1, "\U00010000": 2, "\ue000": 3, "\ud800": 4, "task": "order"},
    {"task": "t", "x": (1, (2, [3, (4,)]))},
    {"task": 1}, {"task": 1.0}, {"task": -0.0}, {"task": 1e16}, {"task": 1e-5},
    {"task": float("nan")}, {"task": float("inf")}, {"task": None}, {"task": True}, {"task": False},
    {"task": 2**100}, {"task": []}, {"task": {}}, {"task": ()}, {"task": (1,)}, {"task": (1, "a")},
    {"task": ["it's", 'say "hi"', "both '\"", "\\", "\x00", "\n", "\x7f", "\xa0", "\xad"]},
    {"task": ["\ud800", "\U0001f600", "\U000e0001", "\u0378", "\U0010ffff", "\u200b", "\u3000"]},
    {"task": {"k": "v", "n": None, "f": 1.5, "l": [1, 2]}},
    {"task": {"b": 1, "a": 2}},
    {"task": {2: "b", 1: "a"}},
    {"task": {1.5: "x", True: "y"}},
    {"task": [{"a": (1, 2)}, (3, [4])]},
    {"task": "a/b/c"},
    {"task": "\ud800"},
    {"task": "nul\x00inside"},
    {2: "b", 10: "a"},
    {1.5: 0, 1: 1, True: 2, -0.0: 3},
    {None: 1},
    {"task": "t", "d": {10: "a", 2: "b", 1.5: "c"}},
]


@pytest.mark.parametrize("d", TRICKY, ids=lambda d: repr(d)[:40])
@pytest.mark.parametrize("identity_keys", [None, [], ["a", "f", "s", "missing"], ["task", "task"]])
def test_tricky(d, identity_keys):
    check(d, "muflow", identity_keys)
    check(d, "", identity_keys)


@pytest.mark.parametrize("base", ["muflow", "", "s3://b/p", "caf\u00e9", "\U0001f600", "a b", "trailing/"])
def test_base_prefixes(base):
    check({"task": "t", "x": 1}, base)


@pytest.mark.parametrize("base", ["with\x00nul", "\ud800lone"])
def test_base_prefix_unusual_strings(base):
    """muflow formats the base prefix with an f-string: a NUL or a lone surrogate stays
    as it is."""
    check({"task": "t"}, base)


@pytest.mark.parametrize("base", [1, None, 2.5, True])
def test_base_prefix_not_a_str(base):
    """muflow does not check the type: f"{base_prefix}"."""
    check({"task": "t"}, base)


@pytest.mark.parametrize("make_keys", [lambda: "abc", lambda: ("a", "b"), lambda: ["a"], lambda: iter(["a", "b"]),
                                       lambda: {"b": 0, "c": 0}, lambda: (k for k in "ab")])
def test_identity_keys_any_iterable(make_keys):
    """muflow only tests identity_keys for truth and iterates it."""
    d = {"task": "t", "a": 1, "b": 2, "c": 3}
    assert muflow_native.compute_prefix(d, "muflow", make_keys()) == muflow_prefix(d, "muflow", make_keys())


def test_default_arguments():
    d = {"task": "t", "a": [1, 2]}
    assert muflow_native.compute_prefix(d) == muflow_prefix(d)
    assert muflow_native.compute_prefix(d, base_prefix="b") == muflow_prefix(d, base_prefix="b")
    assert muflow_native.compute_prefix(d, identity_keys=["a"]) == muflow_prefix(d, identity_keys=["a"])


def test_does_not_mutate_input():
    d = {"task": "t", "a": [1, {"b": (2, 3)}]}
    before = json.dumps(d)
    muflow_native.compute_prefix(d, "m", ["a"])
    compute_prefixes([d, d], "m", ["a"])
    assert json.dumps(d) == before
