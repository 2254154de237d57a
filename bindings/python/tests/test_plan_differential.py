"""Pipeline.build_plan and TaskPlan of muflow_native against muflow 0.4.0 on random
pipelines: same node keys in the same order, every TaskNode field, the root, the plan
JSON byte for byte, JSON read across libraries, the errors, and the plan queries
(ready_nodes / leaf_nodes / is_complete) on random completed sets.

Pipelines: 1-8 steps (Step with or without kwargs_map, ForEach over 0-50 items),
`after` naming earlier- or later-declared steps (muflow orders steps itself),
repeated names in `after`, items overriding pipeline kwargs, kwargs named "task" and
"subject", identical items (node-key collisions: the later node replaces the earlier
in place, as in a dict), empty fan-outs in the middle and at the end (a sentinel root
without dependencies), tasks registered with and without IdentityKey parameters and
outputs `files`, unregistered tasks, a task named like the pipeline (sentinel
collisions), floats such as 1e-5, 1e16, NaN and infinities (pydantic writes non-finite
numbers as null in the plan JSON; both must).

Example counts: 2,400 plans + 400 error cases + 500 query sequences + 200 ready loops:
3,500 in all (scaled by MUFLOW_HYPOTHESIS_SCALE); about 90 s on 2 cores.

Differences known at the time of writing are pinned at the end as strict xfails.
"""

from __future__ import annotations

import collections
import json
import re
from typing import Annotated, Any

import pydantic
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import muflow
import muflow_native
from json_strategies import FLOAT_EDGES, integers, scaled
from muflow.plan import TaskPlan as TheirPlan
from muflow_native.plan import TaskPlan as OurPlan

LIBS = (muflow, muflow_native)
PIPELINE_NAME = "diffplan.pipeline"

# -- Values ------------------------------------------------------------------------------

# No lone surrogates: muflow builds such plans but cannot write them as JSON.
utf8_text = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=8),
    st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=6),
    st.sampled_from(["", "a", "task", "subject", "x" * 40, "\U0001f600", "e\u0301", "a/b", "tag:1",
                     '"q"', "back\\slash", "\u2028", "nul\x00", "caf\u00e9"]),
)
floats = st.one_of(st.floats(), st.sampled_from(FLOAT_EDGES),
                   st.sampled_from([1e-5, 1e16, float("nan"), float("inf"), -float("inf")]))
scalars = st.one_of(st.none(), st.booleans(), integers, floats, utf8_text)

KEY_POOL = ["i", "j", "x", "datasets", "task", "subject", "format", "a", "name", ""]
str_keys = st.one_of(st.sampled_from(KEY_POOL), utf8_text)
# Dicts with non-str keys are left to the test_known_mismatch_* tests below (key order
# and None/NaN/inf keys in the plan JSON).


def _containers(children):
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(str_keys, children, max_size=4),
    )


values = st.recursive(scalars, _containers, max_leaves=8)
kwargs_dicts = st.dictionaries(str_keys, values, max_size=5)


def _holds_tuple(value) -> bool:
    if isinstance(value, tuple):
        return True
    if isinstance(value, list):
        return any(_holds_tuple(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_tuple(v) for v in value.values())
    return False


def _climbs_out(task) -> bool:
    return task is not None and ".." in str(task).split("/")


def _no_tuple_task(d):
    """A "task" kwarg is the prefix's label, str(value): left to
    test_known_mismatch_tuple_task_label when it holds a tuple, and to
    test_known_mismatch_label_climbing_out when it has a '..' path component."""
    if isinstance(d, dict) and (_holds_tuple(d.get("task")) or _climbs_out(d.get("task"))):
        d = dict(d)
        d["task"] = "was-a-tuple"
    return d


kwargs_dicts = kwargs_dicts.map(_no_tuple_task)
small_values = st.one_of(st.integers(0, 4), st.sampled_from(["pdf", "csv", "a"]), values)


# -- Tasks: registered in both registries for the duration of one example ---------------

class _Outputs:
    files = {"result.json": None, "model.nc": None, "plot.png": None}


class _NoFiles:
    """An outputs class without `files`: no output files."""


class _EmptyFiles:
    files: dict = {}


def _parameter_models(lib):
    mark = lib.registry.IdentityKey

    class OneKey(pydantic.BaseModel):
        i: Annotated[Any, mark()] = None

    class TwoKeys(pydantic.BaseModel):
        x: Annotated[Any, mark()] = None
        other: int = 0
        datasets: Annotated[Any, mark()] = None

    class TaskKey(pydantic.BaseModel):
        task: Annotated[Any, mark()] = None
        subject: Annotated[Any, mark()] = None

    class Absent(pydantic.BaseModel):
        never_given: Annotated[Any, mark()] = None

    class NoKeys(pydantic.BaseModel):
        i: int = 0

    return {"one": OneKey, "two": TwoKeys, "task": TaskKey, "absent": Absent, "none": NoKeys}


MODELS = {lib: _parameter_models(lib) for lib in LIBS}
OUTPUTS = {"files": _Outputs, "nofiles": _NoFiles, "empty": _EmptyFiles, None: None}
TASK_NAMES = ["diffplan.a", "diffplan.b", "diffplan.c", "diffplan.d", PIPELINE_NAME]
task_configs = st.one_of(
    st.none(),  # unregistered
    st.tuples(st.sampled_from([None, "one", "two", "task", "absent", "none"]),
              st.sampled_from([None, "files", "nofiles", "empty"])),
)


class registered:
    """Registers `configs` ({name: (model, outputs)}) in both registries, and removes
    them again on exit."""

    def __init__(self, configs):
        self.configs = {name: c for name, c in configs.items() if c is not None}

    def __enter__(self):
        for lib in LIBS:
            for name, (model, outputs) in self.configs.items():
                params = MODELS[lib][model] if model else None
                lib.registry.register_task(name, parameters=params, outputs=OUTPUTS[outputs])(lambda ctx: None)
        return self

    def __exit__(self, *exc):
        for lib in LIBS:
            for name in self.configs:
                if lib.registry.get(name) is not None:
                    lib.registry.unregister(name)


# -- Pipelines as library-neutral specs ---------------------------------------------------

step_names = st.one_of(
    st.sampled_from(["features", "train", "loo_cv", "reports", "s", "t0", "", "a b", "caf\u00e9", "x" * 30]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters=":\x00"), max_size=6),
)


@st.composite
def fan_out_items(draw):
    """0-50 dicts: explicit ones (often repeated: identical items share a key) or a
    pattern over an index, some keys overriding the pipeline kwargs."""
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return []
    if kind <= 2:
        items = draw(st.lists(st.dictionaries(st.sampled_from(KEY_POOL), small_values, max_size=3).map(_no_tuple_task),
                              max_size=6))
        if items and draw(st.booleans()):
            items += draw(st.lists(st.sampled_from(items), max_size=4))
        return items
    n = draw(st.integers(0, 50))
    key = draw(st.sampled_from(["i", "x", "format", "leave_out_index", "task", "subject"]))
    modulo = draw(st.sampled_from([None, None, 1, 3, 7]))
    extra = draw(st.dictionaries(st.sampled_from(KEY_POOL), small_values, max_size=2).map(_no_tuple_task))
    return [{**extra, key: i if modulo is None else i % modulo} for i in range(n)]


@st.composite
def pipeline_specs(draw, allow_errors=False):
    """A spec: {"steps": [...], "kwargs", "subject", "base", "tasks", "error"}.

    Steps get a random rank; `after` names steps of lower rank whatever their declared
    position, so forward references are common. With allow_errors one error is injected:
    a ':' in a name, an unknown step in `after`, a cycle, or a fan-out yielding a
    non-dict.
    """
    n = draw(st.integers(1, 8))
    names = draw(st.lists(step_names, min_size=n, max_size=n, unique=True))
    rank = draw(st.permutations(range(n)))
    steps = []
    for i, name in enumerate(names):
        lower = [names[j] for j in range(n) if rank[j] < rank[i]]
        after = draw(st.lists(st.sampled_from(lower), max_size=3)) if lower else []
        if after and draw(st.integers(0, 6)) == 0:
            after.append(after[0])  # a repeated name
        kind = draw(st.sampled_from(["step", "map", "foreach", "foreach"]))
        step = {"name": name, "kind": kind, "task": draw(st.sampled_from(TASK_NAMES)), "after": after}
        if kind == "map":
            step["map"] = draw(st.one_of(kwargs_dicts, st.just("kwargs"),
                                         st.dictionaries(st.sampled_from(KEY_POOL), small_values, max_size=3)
                                         .map(_no_tuple_task)))
        elif kind == "foreach":
            step["items"] = draw(fan_out_items())
            step["container"] = draw(st.sampled_from(["list", "list", "tuple", "generator"]))
            step["share"] = draw(st.sampled_from([None, None, "datasets", "x"]))
        steps.append(step)
    kwargs = draw(kwargs_dicts)
    if draw(st.booleans()):
        kwargs["datasets"] = draw(st.lists(utf8_text, max_size=5))
    spec = {
        "steps": steps,
        "kwargs": kwargs,
        "subject": draw(st.one_of(st.sampled_from(["tag:1", "experiment:1", ""]),
                                  utf8_text.filter(lambda t: "\x00" not in t))),
        "base": draw(st.sampled_from(["muflow", "muflow", "", "s3://bucket/p", "caf\u00e9/x"])),
        "tasks": {name: draw(task_configs) for name in TASK_NAMES},
        "error": None,
    }
    if allow_errors:
        error = draw(st.sampled_from(["colon", "unknown", "cycle", "non_dict"]))
        victim = draw(st.integers(0, n - 1))
        step = steps[victim]
        if error == "colon":
            step["name"] = draw(st.sampled_from(["a:b", ":", "x:", ":0", step["name"] + ":1"]))
        elif error == "unknown":
            unknown = draw(st.sampled_from(["missing", "nope", "Features"]))
            if unknown in names:
                unknown += "-2"
            step["after"].insert(draw(st.integers(0, len(step["after"]))), unknown)
        elif error == "cycle":
            higher = [names[j] for j in range(n) if rank[j] >= rank[victim]]  # self included
            step["after"].append(draw(st.sampled_from(higher)))
        else:
            step["kind"] = "foreach"
            step.pop("map", None)
            good = draw(st.lists(st.dictionaries(st.sampled_from(KEY_POOL), small_values, max_size=2)
                                 .map(_no_tuple_task), max_size=3))
            bad = draw(st.sampled_from([1, None, "ab", ["x", 1], [("i", 1)], 2.5]))
            step["items"] = good + [bad]
            step["container"] = "list"
            step["share"] = None
        spec["error"] = error
    return spec


def build(lib, spec):
    """(plan or exception, names of the steps whose over/kwargs_map ran, in order)."""
    calls = []

    def over_for(step):
        def over(subject_key, kwargs):
            calls.append(step["name"])
            share = step["share"]
            items = step["items"]
            if share is not None and share in kwargs:
                items = [{**item, share: kwargs[share]} for item in items]
            if step["container"] == "tuple":
                return tuple(items)
            if step["container"] == "generator":
                return (item for item in items)
            return items
        return over

    def map_for(step):
        def kwargs_map(subject_key, kwargs):
            calls.append(step["name"])
            return kwargs if step["map"] == "kwargs" else step["map"]
        return kwargs_map

    steps = {}
    for step in spec["steps"]:
        if step["kind"] == "foreach":
            steps[step["name"]] = lib.ForEach(task=step["task"], over=over_for(step), after=list(step["after"]))
        elif step["kind"] == "map":
            steps[step["name"]] = lib.Step(task=step["task"], after=list(step["after"]), kwargs_map=map_for(step))
        else:
            steps[step["name"]] = lib.Step(task=step["task"], after=list(step["after"]))
    pipeline = lib.Pipeline(name=PIPELINE_NAME, display_name="Diff", steps=steps)
    try:
        plan = pipeline.build_plan(spec["subject"], spec["kwargs"], base_prefix=spec["base"])
    except (ValueError, TypeError) as error:
        return error, calls
    return plan, calls


def text(value) -> str:
    """Structural text of a value, NaN-safe (NaN != NaN) and order-sensitive."""
    return json.dumps(value, ensure_ascii=False)


def assert_same_plan(theirs, ours):
    assert list(ours.nodes) == list(theirs.nodes)
    assert len(ours.nodes) == len(theirs.nodes)
    assert ours.root_key == theirs.root_key
    for key, node in theirs.nodes.items():
        assert key in ours.nodes
        assert text(ours.nodes[key].to_dict()) == text(node.to_dict()), key
    their_json = theirs.to_json()
    our_json = ours.to_json()
    assert our_json == their_json
    # Across libraries, both ways, and back.
    assert TheirPlan.from_json(our_json).to_json() == their_json
    assert OurPlan.from_json(their_json).to_json() == their_json
    assert text(ours.to_dict()) == text(theirs.to_dict())
    return their_json


def assert_refuses_cycle(theirs, ours):
    """Key collisions can make a node depend on itself (or a later node replace one that
    an earlier one depends on, closing a loop). muflow builds such a plan, which can
    never run; muflow_native refuses it when building, as it does when reading it."""
    assert type(ours) is ValueError, ours
    assert "would depend on itself" in str(ours) or "Circular" in str(ours), str(ours)
    with pytest.raises(ValueError, match="Circular"):
        OurPlan.from_json(theirs.to_json())


def _has_cycle(plan) -> bool:
    deps = {k: [d for d in n.depends_on if d in plan.nodes] for k, n in plan.nodes.items()}
    state = {}
    for start in deps:
        if start in state:
            continue
        stack = [(start, iter(deps[start]))]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return True
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(deps[nxt])))
    return False


def check_queries(theirs, ours, completed_sets):
    assert [n.key for n in ours.leaf_nodes()] == [n.key for n in theirs.leaf_nodes()]
    for completed in completed_sets:
        assert [n.key for n in ours.ready_nodes(completed)] == [n.key for n in theirs.ready_nodes(completed)], completed
        assert ours.is_complete(completed) == theirs.is_complete(completed)


# -- Tests ----------------------------------------------------------------------------


@settings(max_examples=scaled(2400))
@given(spec=pipeline_specs())
def test_build_plan_matches_muflow(spec):
    with registered(spec["tasks"]):
        theirs, their_calls = build(muflow, spec)
        ours, our_calls = build(muflow_native, spec)
    note(f"muflow: {theirs!r:.300}\nours: {ours!r:.300}")
    if isinstance(theirs, Exception):
        # Only data json.dumps refuses to sort (no errors are injected here).
        assert isinstance(ours, (TypeError, ValueError)), ours
        return
    if _has_cycle(theirs):
        assert_refuses_cycle(theirs, ours)
        return
    assert not isinstance(ours, Exception), ours
    assert our_calls == their_calls  # over/kwargs_map once per step, in muflow's order
    assert_same_plan(theirs, ours)
    keys = list(theirs.nodes)
    check_queries(theirs, ours, [set(), set(keys), set(keys[: len(keys) // 2]), {theirs.root_key}])


def _named_steps(message: str) -> list[str]:
    return re.findall(r"'([^']*)'", message)


@settings(max_examples=scaled(400))
@given(spec=pipeline_specs(allow_errors=True))
def test_errors_match_muflow(spec):
    """Where muflow raises, so do we. Classes: a ':' in a step name, an unknown step in
    `after` and a cycle are ValueErrors in both, naming the step(s) muflow names; a
    fan-out item that is not a dict is muflow's TypeError and our ValueError."""
    with registered(spec["tasks"]):
        theirs, their_calls = build(muflow, spec)
        ours, our_calls = build(muflow_native, spec)
    note(f"muflow: {theirs!r:.300}\nours: {ours!r:.300}")
    if not isinstance(theirs, Exception):
        # The injected fault was harmless (e.g. a non-dict after an earlier failure was
        # not reached): both must then agree as usual.
        if _has_cycle(theirs):
            assert_refuses_cycle(theirs, ours)
            return
        assert not isinstance(ours, Exception), ours
        assert_same_plan(theirs, ours)
        return
    assert isinstance(ours, (ValueError, TypeError)), f"muflow raised {theirs!r}; we gave {ours!r}"
    message = str(ours)
    if isinstance(theirs, ValueError):  # ':' in a name, unknown step, cycle: muflow quotes the step
        assert type(ours) is ValueError
        for name in _named_steps(str(theirs))[:1]:
            assert name in message, (str(theirs), message)
        if "unknown step" in str(theirs):
            for name in _named_steps(str(theirs)):
                assert name in message, (str(theirs), message)
    elif spec["error"] == "non_dict":
        # muflow: TypeError "'int' object is not a mapping" from its merge; ours: a
        # ValueError naming the step whose over gave the item (the last muflow called).
        assert type(theirs) is TypeError and type(ours) is ValueError
        culprit = their_calls[-1]
        assert f"'{culprit}'" in message, (culprit, message)


@settings(max_examples=scaled(500))
@given(spec=pipeline_specs(), data=st.data())
def test_ready_nodes_on_random_completed_sets(spec, data):
    """Non-monotonic sequences of completed sets on one plan object (ours caches
    between calls): keys added, removed, unknown keys, also frozensets and lists."""
    with registered(spec["tasks"]):
        theirs, _ = build(muflow, spec)
        ours, _ = build(muflow_native, spec)
    if isinstance(theirs, Exception) or _has_cycle(theirs):
        return  # cycles: test_build_plan_matches_muflow
    loaded = OurPlan.from_json(theirs.to_json())
    keys = list(theirs.nodes)
    completed = set()
    sequence = []
    for _ in range(data.draw(st.integers(1, 12))):
        move = data.draw(st.integers(0, 5))
        if move == 0 and completed:
            completed -= set(data.draw(st.lists(st.sampled_from(sorted(completed)), max_size=3)))
        elif move == 1:
            completed.add(data.draw(st.sampled_from(["unknown", "muflow/x/0000000000000000", ""])))
        elif move == 2:
            completed = set(data.draw(st.lists(st.sampled_from(keys), max_size=len(keys))))
        else:  # the usual loop: add what is ready
            ready = [n.key for n in theirs.ready_nodes(completed)]
            completed |= set(data.draw(st.lists(st.sampled_from(ready), max_size=len(ready)))) if ready else set()
        kind = data.draw(st.sampled_from(["set", "set", "set", "frozenset", "list"]))
        sequence.append({"set": set, "frozenset": frozenset, "list": list}[kind](completed))
    check_queries(theirs, ours, sequence)
    check_queries(theirs, loaded, sequence)


@settings(max_examples=scaled(200))
@given(spec=pipeline_specs())
def test_ready_loop_runs_like_muflow(spec):
    """`while not is_complete: for n in ready_nodes(done): done.add(n.key)` visits the
    same nodes in the same rounds (bounded: a key collision can make a node its own
    dependency, and then neither finishes)."""
    with registered(spec["tasks"]):
        theirs, _ = build(muflow, spec)
        ours, _ = build(muflow_native, spec)
    if isinstance(theirs, Exception) or _has_cycle(theirs):
        return  # cycles: test_build_plan_matches_muflow
    done_theirs, done_ours = set(), set()
    for _ in range(len(theirs.nodes) + 2):
        if theirs.is_complete(done_theirs):
            break
        ready_theirs = [n.key for n in theirs.ready_nodes(done_theirs)]
        ready_ours = [n.key for n in ours.ready_nodes(done_ours)]
        assert ready_ours == ready_theirs
        assert not ours.is_complete(done_ours)
        if not ready_theirs:
            break
        done_theirs.update(ready_theirs)
        for key in ready_ours:
            done_ours.add(key)
    assert ours.is_complete(done_ours) == theirs.is_complete(done_theirs)


# -- Fixed corner cases ----------------------------------------------------------------------

def _both(make_steps, kwargs, subject="s:1"):
    plans = []
    for lib in LIBS:
        plans.append(lib.Pipeline(name=PIPELINE_NAME, steps=make_steps(lib)).build_plan(subject, kwargs))
    return plans


@pytest.mark.parametrize("value", [1e-5, 1e16, -1e16, 1e22, 5e-324, float("nan"), float("inf"), -float("inf"),
                                   -0.0, 0.1, 2**64, -(2**70), 10**30, [1e16, float("nan")], {"n": float("nan")}])
def test_float_and_big_int_kwargs(value):
    theirs, ours = _both(lambda lib: {"a": lib.ForEach(task="t", over=lambda s, k: [{"i": 0}, {"i": 1}])},
                         {"v": value, "w": [value]})
    assert_same_plan(theirs, ours)


def test_empty_fan_out_at_the_end_is_a_sentinel_without_dependencies():
    theirs, ours = _both(lambda lib: {"a": lib.Step(task="t"),
                                      "b": lib.ForEach(task="u", over=lambda s, k: [], after=["a"])}, {"k": 1})
    assert_same_plan(theirs, ours)
    assert ours.nodes[ours.root_key].depends_on == []
    assert ours.nodes[ours.root_key].function == PIPELINE_NAME


def test_empty_fan_out_in_the_middle():
    theirs, ours = _both(lambda lib: {"a": lib.ForEach(task="t", over=lambda s, k: []),
                                      "b": lib.Step(task="u", after=["a", "a"])}, {"k": 1})
    assert_same_plan(theirs, ours)
    assert ours.nodes[ours.root_key].depends_on == []


def test_identical_items_collide_like_dict_assignment():
    theirs, ours = _both(lambda lib: {"a": lib.ForEach(task="t", over=lambda s, k: [{"i": 1}, {"i": 2}, {"i": 1}]),
                                      "b": lib.Step(task="u", after=["a"])}, {})
    assert_same_plan(theirs, ours)
    assert len(ours.nodes) == 3
    b = ours.nodes[ours.root_key]
    assert len(b.depends_on) == 3 and b.depends_on[0] == b.depends_on[2]
    assert list(b.dependency_access_map) == ["a:0", "a:1", "a:2"]


def test_same_task_twice_without_kwargs_is_refused_naming_both_steps_and_the_key():
    """muflow builds a node that depends on itself (its plan can never finish); the
    build is refused here, as reading that plan is."""
    steps = lambda lib: {"first": lib.Step(task="t"), "second": lib.Step(task="t", after=["first"])}
    theirs = muflow.Pipeline(name=PIPELINE_NAME, steps=steps(muflow)).build_plan("s:1", {})
    (node,) = theirs.nodes.values()
    assert node.depends_on == [node.key]
    with pytest.raises(ValueError) as refused:
        muflow_native.Pipeline(name=PIPELINE_NAME, steps=steps(muflow_native)).build_plan("s:1", {})
    message = str(refused.value)
    assert "'first'" in message and "'second'" in message and node.key in message
    with pytest.raises(ValueError, match="Circular"):
        OurPlan.from_json(theirs.to_json())


def test_collision_through_a_middle_step_is_refused():
    steps = lambda lib: {"a": lib.Step(task="t"), "b": lib.Step(task="u", after=["a"]),
                         "c": lib.Step(task="t", after=["b"])}
    with pytest.raises(ValueError, match="'a' and 'c' both produce"):
        muflow_native.Pipeline(name=PIPELINE_NAME, steps=steps(muflow_native)).build_plan("s:1", {})


def test_collision_without_a_cycle_keeps_muflows_plan():
    theirs, ours = _both(lambda lib: {"a": lib.Step(task="t"), "b": lib.Step(task="t"),
                                      "c": lib.Step(task="u", after=["a", "b"])}, {})
    assert_same_plan(theirs, ours)
    assert len(ours.nodes) == 2


def test_kwargs_named_task_and_subject_override_the_prefix_label():
    theirs, ours = _both(lambda lib: {"a": lib.ForEach(task="t", over=lambda s, k: [{"task": "other"}, {"subject": 5},
                                                                                     {"task": 12}])},
                         {"task": "from-kwargs", "subject": None})
    assert_same_plan(theirs, ours)


def test_non_iterable_over_result_raises_muflows_type_error():
    for lib in LIBS:
        with pytest.raises(TypeError, match="not iterable"):
            lib.Pipeline(name="p", steps={"a": lib.ForEach(task="t", over=lambda s, k: None)}).build_plan("s", {})


def test_empty_pipeline_raises():
    with pytest.raises(IndexError):
        muflow.Pipeline(name="p").build_plan("s", {})
    with pytest.raises((ValueError, IndexError)):
        muflow_native.Pipeline(name="p").build_plan("s", {})


# -- Known differences (strict xfails: remove the mark when fixed) --------------------------

@pytest.mark.xfail(strict=True, reason="pydantic writes None/NaN/inf dict keys inside kwargs as \"None\"; "
                                       "muflow_native writes null/NaN/Infinity")
@pytest.mark.parametrize("key", [None, float("nan"), float("inf")])
def test_known_mismatch_non_finite_and_none_keys(key):
    theirs, ours = _both(lambda lib: {"a": lib.Step(task="t")}, {"x": {key: 2}})
    assert ours.to_json() == theirs.to_json()


@pytest.mark.parametrize("make", [lambda: collections.OrderedDict(a=1), lambda: collections.defaultdict(int, a=1),
                                  lambda: collections.Counter(a=1)])
@pytest.mark.parametrize("where", ["kwargs", "item"])
def test_json_able_subclasses_build_as_in_muflow(make, where):
    value = make()
    kwargs = {"x": value} if where == "kwargs" else {}
    items = [value] if where == "item" else [{"i": 1}]
    theirs, ours = _both(lambda lib: {"a": lib.ForEach(task="t", over=lambda s, k: items)}, kwargs)
    assert ours.to_json() == theirs.to_json()


@pytest.mark.xfail(strict=True, reason="an item with a non-str key: muflow's json.dumps cannot sort it among "
                                       "'task'/'subject' and raises TypeError; muflow_native builds the plan")
def test_known_mismatch_unsortable_item_keys():
    with pytest.raises(TypeError):
        muflow.Pipeline(name="p", steps={"a": muflow.ForEach(task="t", over=lambda s, k: [{1: 2}])}).build_plan("s", {})
    with pytest.raises(TypeError):
        muflow_native.Pipeline(name="p", steps={"a": muflow_native.ForEach(task="t", over=lambda s, k: [{1: 2}])}
                               ).build_plan("s", {})


@pytest.mark.xfail(strict=True, reason="non-str dict keys inside kwargs: muflow (pydantic) writes them in insertion "
                                       "order; muflow_native in json.dumps' sorted order")
def test_known_mismatch_non_str_key_order():
    theirs, ours = _both(lambda lib: {"a": lib.Step(task="t")}, {"i": {0: None, -1: None}})
    assert ours.to_json() == theirs.to_json()


@pytest.mark.xfail(strict=True, reason="a tuple \"task\" kwarg: muflow labels the prefix str(value) = '(1,)', "
                                       "muflow_native '[1]'")
@pytest.mark.parametrize("task", [(), (1,), [(1, "a")]])
def test_known_mismatch_tuple_task_label(task):
    theirs, ours = _both(lambda lib: {"a": lib.Step(task="t")}, {"task": task})
    assert ours.root_key == theirs.root_key


@pytest.mark.xfail(strict=True, reason="NUL in a subject key, step name or task name: muflow builds the plan; "
                                       "muflow_native refuses it (C strings cannot hold it)")
@pytest.mark.parametrize("where", ["subject", "step", "task"])
def test_known_mismatch_nul_in_names(where):
    subject = "s\x00" if where == "subject" else "s"
    step = "a\x00" if where == "step" else "a"
    task = "t\x00" if where == "task" else "t"
    theirs, ours = _both(lambda lib: {step: lib.Step(task=task)}, {}, subject=subject)
    assert ours.to_json() == theirs.to_json()


@pytest.mark.xfail(strict=True, reason="a node label (task name or \"task\" kwarg) with a '..' path component: "
                                       "muflow builds a prefix outside the base prefix; muflow_native refuses it")
@pytest.mark.parametrize("task", ["..", "../x", "a/../../x", ["x/../y"]])
def test_known_mismatch_label_climbing_out(task):
    theirs, ours = _both(lambda lib: {"a": lib.Step(task="t")}, {"task": task})
    assert ours.root_key == theirs.root_key


def test_ready_nodes_after_a_same_length_swap_on_the_same_set():
    """One set object mutated between calls so that its length does not change: a
    completed key removed and an unknown key added. A length-only shortcut would miss
    it; muflow looks at the set afresh each time."""
    theirs, ours = _both(lambda lib: {"a": lib.Step(task="t"), "b": lib.Step(task="u", after=["a"]),
                                      "c": lib.Step(task="v", after=["b"])}, {})
    a, b, c = list(theirs.nodes)
    done = set()
    for step in ([a], [b], []):
        done.update(step)
        assert [n.key for n in ours.ready_nodes(done)] == [n.key for n in theirs.ready_nodes(done)]
    done.discard(a)
    done.add("not-a-node")
    assert [n.key for n in theirs.ready_nodes(done)] == [a, c]
    assert [n.key for n in ours.ready_nodes(done)] == [a, c]
    done.discard(b)
    done.add(c)  # a known key that was not ready
    assert [n.key for n in ours.ready_nodes(done)] == [n.key for n in theirs.ready_nodes(done)]


@settings(max_examples=scaled(600))
@given(spec=pipeline_specs())
def test_what_build_plan_makes_from_json_reads(spec):
    """One validation for building and reading: every plan the library builds reads
    back byte for byte, and every plan it refuses to build it refuses to read (checked
    on muflow's build of the same pipeline)."""
    with registered(spec["tasks"]):
        theirs, _ = build(muflow, spec)
        ours, _ = build(muflow_native, spec)
    if isinstance(ours, Exception):
        if not isinstance(theirs, Exception) and _has_cycle(theirs):
            with pytest.raises(ValueError):
                OurPlan.from_json(theirs.to_json())
        return
    text = ours.to_json()
    assert OurPlan.from_json(text).to_json() == text
