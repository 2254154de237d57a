"""The muflow_native plan API used directly: `plan.nodes` as a dict of TaskNode,
TaskNode and TaskPlan construction and (de)serialisation, from_json's refusals, the
calls build_plan makes to `over` and `kwargs_map`, and large shared kwargs."""

from __future__ import annotations

import copy
import gc
import json
import weakref

import pydantic
import pytest

import muflow
import muflow_native
from seed_pipelines import ml_pipeline
from muflow_native import ForEach, Pipeline, Step, TaskNode, TaskPlan


def small_pipeline(lib=muflow_native):
    return lib.Pipeline(
        name="api.pipeline",
        steps={
            "features": lib.ForEach(task="api.features", over=lambda s, k: [{"d": d} for d in k["datasets"]]),
            "train": lib.Step(task="api.train", after=["features"]),
            "reports": lib.ForEach(task="api.report", after=["train", "features"],
                                   over=lambda s, k: [{"format": f} for f in ("pdf", "csv")]),
        },
    )


KWARGS = {"datasets": ["a", "b", "c"], "alpha": 0.5}


@pytest.fixture
def plans():
    return (small_pipeline(muflow).build_plan("tag:1", KWARGS),
            small_pipeline(muflow_native).build_plan("tag:1", KWARGS))


# -- plan.nodes as dict[str, TaskNode] ---------------------------------------------------------

def test_nodes_behave_as_a_dict(plans):
    theirs, ours = plans
    nodes = ours.nodes
    keys = list(theirs.nodes)
    assert len(nodes) == len(keys) == 7
    assert list(nodes) == keys
    assert list(nodes.keys()) == keys
    assert [k for k, _ in nodes.items()] == keys
    assert [n.key for n in nodes.values()] == keys
    assert all(isinstance(n, TaskNode) for n in nodes.values())
    for key in keys:
        assert key in nodes
        assert nodes[key].key == key
        assert nodes.get(key) is nodes[key]  # materialised once
        assert nodes[key].to_dict() == theirs.nodes[key].to_dict()
    assert dict(nodes.items()).keys() == dict(theirs.nodes).keys()
    assert "missing" not in nodes and 1 not in nodes and None not in nodes
    assert nodes.get("missing") is None and nodes.get("missing", 5) == 5
    for bad in ("missing", "", keys[0] + "x"):
        with pytest.raises(KeyError):
            nodes[bad]
    with pytest.raises(KeyError):
        nodes[1]
    assert ours.root_key == theirs.root_key and ours.root_key in nodes


def test_nodes_of_an_empty_fan_out_plan():
    plan = Pipeline(name="p", steps={"a": ForEach(task="t", over=lambda s, k: [])}).build_plan("s", {})
    assert len(plan.nodes) == 1
    (root,) = plan.nodes.values()
    assert root.function == "p" and root.depends_on == [] and plan.root_key == root.key


def test_task_node_fields(plans):
    _, ours = plans
    train = next(n for n in ours.nodes.values() if n.function == "api.train")
    assert train.subject_key == "tag:1"
    assert train.kwargs == KWARGS
    assert train.storage_prefix == train.key and train.key.startswith("muflow/api.train/")
    assert list(train.dependency_access_map) == ["features:0", "features:1", "features:2"]
    assert train.depends_on == list(train.dependency_access_map.values())
    assert len(train.depended_on_by) == 2
    assert train.analysis_id is None and train.output_files == []


# -- TaskNode ---------------------------------------------------------------------------------

NODE = {
    "key": "muflow/t/0123456789abcdef",
    "function": "t",
    "subject_key": "s",
    "kwargs": {"x": [1, 2.5, None, {"y": "z"}], "big": 2**70, "f": 1e16},
    "storage_prefix": "muflow/t/0123456789abcdef",
    "depends_on": ["a"],
    "depended_on_by": ["b"],
    "output_files": ["r.json"],
    "analysis_id": 7,
    "dependency_access_map": {"dep": "a"},
}


def test_task_node_round_trip():
    node = TaskNode.from_dict(NODE)
    assert node.to_dict() == NODE
    assert TaskNode.from_dict(node.to_dict()) == node
    assert node.model_dump_json() == muflow.TaskNode.from_dict(NODE).model_dump_json()
    minimal = {k: NODE[k] for k in ("key", "function", "subject_key", "kwargs", "storage_prefix")}
    assert TaskNode.from_dict(minimal).to_dict() == muflow.TaskNode.from_dict(minimal).to_dict()


def test_task_node_refuses_unknown_and_missing_fields():
    with pytest.raises(pydantic.ValidationError, match="extra"):
        TaskNode.from_dict({**NODE, "colour": "red"})
    with pytest.raises(pydantic.ValidationError, match="function"):
        TaskNode.from_dict({k: v for k, v in NODE.items() if k != "function"})


# -- TaskPlan construction --------------------------------------------------------------------

def test_plan_from_task_nodes_and_from_dicts(plans):
    theirs, ours = plans
    expected = theirs.to_json()
    from_nodes = TaskPlan(nodes={k: TaskNode.from_dict(n.to_dict()) for k, n in theirs.nodes.items()},
                          root_key=theirs.root_key)
    from_dicts = TaskPlan(nodes={k: n.to_dict() for k, n in theirs.nodes.items()}, root_key=theirs.root_key)
    from_our_nodes = TaskPlan(nodes=dict(ours.nodes.items()), root_key=ours.root_key)
    for plan in (from_nodes, from_dicts, from_our_nodes, TaskPlan.from_dict(theirs.to_dict()),
                 TaskPlan.model_validate(theirs.to_dict())):
        assert plan.to_json() == expected
        assert list(plan.nodes) == list(theirs.nodes)
        assert plan == ours
    assert ours.to_dict() == theirs.to_dict()
    assert ours.model_dump() == theirs.model_dump(mode="json")
    assert ours.model_dump_json() == expected


def test_a_dropped_plan_is_freed_at_once_and_its_nodes_outlive_it():
    """No reference cycle keeps a plan (and its native memory) alive until the cycle
    collector runs; a mapping of nodes taken from it keeps working on its own."""
    gc.disable()
    try:
        plan = small_pipeline(muflow_native).build_plan("tag:1", KWARGS)
        nodes = plan.nodes
        first = next(iter(nodes.values()))
        plan.ready_nodes(set())
        dropped = weakref.ref(plan)
        del plan
        assert dropped() is None
        assert len(nodes) == 7 and nodes[first.key] is first
        assert [n.key for n in nodes.values()] == list(nodes)
        nodes_only = small_pipeline(muflow_native).build_plan("tag:1", KWARGS).nodes
        assert {n.function for n in nodes_only.values()} >= {"api.features", "api.train"}
    finally:
        gc.enable()


def test_plan_constructor_refusals():
    with pytest.raises(TypeError, match="colour"):
        TaskPlan(nodes={}, root_key="x", colour=1)
    with pytest.raises(pydantic.ValidationError):
        TaskPlan(nodes={"k": {"key": "k"}}, root_key="k")  # missing node fields
    with pytest.raises(pydantic.ValidationError):
        TaskPlan(nodes={"k": NODE})  # no root_key
    with pytest.raises(ValueError):
        TaskPlan(nodes={}, root_key="x")  # the root is not a node (muflow accepts this)


# -- from_json ------------------------------------------------------------------------------

@pytest.fixture
def plan_dict(plans):
    return plans[0].to_dict()


def _first(d):
    return next(iter(d["nodes"]))


def test_from_json_round_trip(plans):
    theirs, ours = plans
    text = theirs.to_json()
    assert TaskPlan.from_json(text).to_json() == text
    assert TaskPlan.from_json(text.encode()).to_json() == text
    assert TaskPlan.model_validate_json(text).to_json() == text
    pretty = json.dumps(json.loads(text), indent=2)  # any layout
    assert TaskPlan.from_json(pretty).to_json() == text
    assert muflow.TaskPlan.from_json(ours.to_json()).to_json() == text


def test_from_json_fills_defaults_like_muflow(plan_dict):
    key = _first(plan_dict)
    for field in ("depends_on", "depended_on_by", "output_files", "analysis_id", "dependency_access_map"):
        plan_dict["nodes"][key].pop(field)
    # the removed depends_on/depended_on_by were empty for a leaf
    text = json.dumps(plan_dict)
    assert TaskPlan.from_json(text).to_json() == muflow.TaskPlan.from_json(text).to_json()
    plan_dict["nodes"][key]["analysis_id"] = "12"  # pydantic's lax int
    text = json.dumps(plan_dict)
    assert TaskPlan.from_json(text).to_json() == muflow.TaskPlan.from_json(text).to_json()


def _refused(data, *fragments, cls=ValueError):
    text = data if isinstance(data, str) else json.dumps(data)
    with pytest.raises(cls) as info:
        TaskPlan.from_json(text)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)
    return info.value


def test_from_json_refuses_unknown_fields(plan_dict):
    top = copy.deepcopy(plan_dict)
    top["extra"] = 1
    _refused(top, "extra", "not permitted")
    node = copy.deepcopy(plan_dict)
    node["nodes"][_first(node)]["bogus"] = 1
    _refused(node, f"nodes.{_first(node)}.bogus", "not permitted")
    # muflow refuses both too (pydantic's ValidationError, a ValueError).
    for data in (top, node):
        with pytest.raises(ValueError):
            muflow.TaskPlan.from_json(json.dumps(data))


def test_from_json_refuses_missing_and_mistyped_fields(plan_dict):
    no_root = copy.deepcopy(plan_dict)
    del no_root["root_key"]
    _refused(no_root, "root_key", "required")
    wrong = copy.deepcopy(plan_dict)
    wrong["nodes"][_first(wrong)]["kwargs"] = [1]
    _refused(wrong, f"nodes.{_first(wrong)}.kwargs")
    _refused("{nodes", "invalid plan JSON")
    _refused("", "invalid plan JSON")


def test_from_json_refuses_lone_surrogates_as_pydantic_does(plan_dict):
    """JSON may escape half a surrogate pair; pydantic refuses such text (it is not
    Unicode), and so must we, or to_json could not write the plan back."""
    key = _first(plan_dict)
    text = json.dumps(plan_dict)
    paired = copy.deepcopy(plan_dict)
    paired["nodes"][key]["kwargs"]["astral"] = "\U0001f600"
    assert TaskPlan.from_json(json.dumps(paired)).nodes[key].kwargs["astral"] == "\U0001f600"
    for lone in ("\ud800", "\udfff", "\udc00\ud800", "x\ud83d"):
        bad = copy.deepcopy(plan_dict)
        bad["nodes"][key]["kwargs"]["text"] = lone
        for field_text in (json.dumps(bad), json.dumps(bad, ensure_ascii=False)):
            _refused(field_text, "surrogate" if field_text.isascii() else "invalid UTF-8")
            with pytest.raises(ValueError):
                muflow.TaskPlan.from_json(field_text)
    renamed = text.replace(json.dumps(plan_dict["root_key"]), '"\\udbff"')
    _refused(renamed, "surrogate")


def test_from_json_refuses_unusable_plans(plan_dict):
    """Stricter than muflow, which reads all three (and then cannot run them)."""
    key = _first(plan_dict)
    missing_root = copy.deepcopy(plan_dict)
    missing_root["root_key"] = "nope"
    _refused(missing_root, "root_key", "'nope'", "not a node")
    ghost = copy.deepcopy(plan_dict)
    ghost["nodes"][key]["depends_on"] = ["ghost"]
    _refused(ghost, f"'{key}'", "'ghost'", "not a node")
    cycle = copy.deepcopy(plan_dict)
    cycle["nodes"][key]["depends_on"] = [cycle["root_key"]]
    error = _refused(cycle, "Circular", key, cycle["root_key"])
    assert type(error) is ValueError
    for data in (missing_root, ghost, cycle):
        muflow.TaskPlan.from_json(json.dumps(data))  # muflow reads them


# -- over / kwargs_map calls ---------------------------------------------------------------------

def _recording_pipeline(lib, calls):
    def over(name, items):
        def f(subject_key, kwargs):
            calls.append((name, subject_key, dict(kwargs)))
            return items
        return f

    def kwargs_map(name, result):
        def f(subject_key, kwargs):
            calls.append((name, subject_key, dict(kwargs)))
            return result
        return f

    # Declared out of order: muflow builds in its topological order.
    return lib.Pipeline(name="rec", steps={
        "report": lib.ForEach(task="r", after=["train", "cv"], over=over("report", [{"f": "pdf"}, {"f": "csv"}])),
        "train": lib.Step(task="t", after=["features"], kwargs_map=kwargs_map("train", {"lr": 0.1})),
        "plain": lib.Step(task="p"),
        "features": lib.ForEach(task="f", over=over("features", [{"d": 1}, {"d": 2}])),
        "cv": lib.ForEach(task="c", after=["features", "plain"], over=over("cv", [{"i": 0}])),
        "final": lib.Step(task="z", after=["report"], kwargs_map=kwargs_map("final", {})),
    })


def test_over_and_kwargs_map_called_once_per_step_in_muflows_order():
    their_calls, our_calls = [], []
    theirs = _recording_pipeline(muflow, their_calls).build_plan("s:1", {"k": 1})
    ours = _recording_pipeline(muflow_native, our_calls).build_plan("s:1", {"k": 1})
    assert [c[0] for c in their_calls] == ["features", "train", "cv", "report", "final"]
    assert our_calls == their_calls
    assert ours.to_json() == theirs.to_json()


class Boom(Exception):
    pass


@pytest.mark.parametrize("where", ["over", "kwargs_map", "later_over"])
def test_exception_inside_a_callback_propagates_unchanged(where):
    raised = Boom("from the user's code")
    calls = []

    def fail(subject_key, kwargs):
        calls.append(where)
        raise raised

    steps = {"a": ForEach(task="t", over=fail if where == "over" else (lambda s, k: [{"i": 1}]))}
    if where == "kwargs_map":
        steps["b"] = Step(task="u", after=["a"], kwargs_map=fail)
    if where == "later_over":
        steps["b"] = ForEach(task="u", after=["a"], over=fail)
    with pytest.raises(Boom) as info:
        Pipeline(name="p", steps=steps).build_plan("s", {})
    assert info.value is raised
    assert str(info.value) == "from the user's code"
    assert calls == [where]
    # and the pipeline still builds once the callback behaves
    assert Pipeline(name="p", steps={"a": Step(task="t")}).build_plan("s", {}).root_key


def test_base_exceptions_propagate_too():
    def interrupt(subject_key, kwargs):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Pipeline(name="p", steps={"a": ForEach(task="t", over=interrupt)}).build_plan("s", {})


# -- Shared objects: the seed ML pipeline ------------------------------------------------------

def test_ml_pipeline_matches_muflow_for_small_n():
    kwargs = {"datasets": [f"dataset_{i}" for i in range(40)]}
    theirs = ml_pipeline(muflow).build_plan("experiment:1", kwargs)
    ours = ml_pipeline(muflow_native).build_plan("experiment:1", kwargs)
    assert len(ours.nodes) == 2 * 40 + 5
    assert ours.to_json() == theirs.to_json()


def test_ml_pipeline_with_many_datasets_builds():
    """Every loo_cv item holds the same 2,000-name list: the builder reads it once. (A
    copy per item would be 4M strings; muflow itself takes minutes at this size.)"""
    n = 2000
    datasets = [f"dataset_{i:05d}" for i in range(n)]
    plan = ml_pipeline(muflow_native).build_plan("experiment:1", {"datasets": datasets})
    assert len(plan.nodes) == 2 * n + 5
    root = plan.nodes[plan.root_key]
    assert root.function == "ml.full_pipeline" and len(root.depends_on) == 3
    loo = [k for k in plan.nodes if k.startswith("muflow/ml.loo_cv/")]
    assert len(loo) == n
    last = plan.nodes[loo[-1]]
    assert last.kwargs["leave_out_index"] == n - 1 and last.kwargs["datasets"] == datasets
    assert len(plan.to_json()) > n * n * 10  # every loo_cv node carries the whole list


# -- Large and non-ASCII JSON, nodes built on demand -----------------------------------------------

def test_large_plan_json_both_ways_matches_muflow():
    """A plan whose JSON runs to megabytes (every loo_cv node repeats the dataset list,
    the dependency list and the access map): written in one piece into a new str, and
    read back in place from one, as muflow writes and reads it."""
    kwargs = {"datasets": [f"dataset_{i:05d}" for i in range(250)]}
    theirs = ml_pipeline(muflow).build_plan("experiment:1", kwargs)
    ours = ml_pipeline(muflow_native).build_plan("experiment:1", kwargs)
    text = theirs.to_json()
    assert len(text) > 8 << 20
    assert ours.to_json() == text
    back = TaskPlan.from_json(text)
    assert back.to_json() == text
    assert back.nodes[back.root_key].model_dump() == theirs.nodes[theirs.root_key].model_dump()
    # Not byte for byte repeated: one name differs in one node's list.
    changed = json.loads(text)
    last = list(changed["nodes"])[-2]
    changed["nodes"][last]["kwargs"]["datasets"][-1] = "other"
    changed_text = json.dumps(changed)
    assert TaskPlan.from_json(changed_text).to_json() == muflow.TaskPlan.from_json(changed_text).to_json()


@pytest.mark.parametrize("text", ["é", "日本", "\U0001F600", "\x7f\x01\n"])
def test_non_ascii_plans_both_ways_match_muflow(text):
    kwargs = {"datasets": [text, "b" + text], "note": text * 3}
    theirs = small_pipeline(muflow).build_plan("tag:" + text, kwargs)
    ours = small_pipeline(muflow_native).build_plan("tag:" + text, kwargs)
    written = theirs.to_json()
    assert ours.to_json() == written
    for source in (written, written.encode("utf-8")):
        back = TaskPlan.from_json(source)
        assert back.to_json() == written
        assert [n.model_dump() for n in back.nodes.values()] == [n.model_dump() for n in theirs.nodes.values()]


def test_nodes_built_in_any_order_equal_muflows(plans):
    theirs, ours = plans
    for key in reversed(list(theirs.nodes)):
        assert ours.nodes[key].model_dump() == theirs.nodes[key].model_dump()
        assert ours.nodes[key].model_dump_json() == theirs.nodes[key].model_dump_json()
    assert ours.nodes[key] is ours.nodes[key]  # built once
    node = ours.nodes[key]
    node.analysis_id = 5  # an ordinary pydantic model
    assert node.model_fields_set >= {"analysis_id"} and node.analysis_id == 5


def test_ready_nodes_use_each_nodes_own_key():
    """In plan JSON a node may be filed under a key other than its `key`; muflow's
    ready_nodes tests the node's `key` against the completed set and its depends_on
    (filing keys) too."""
    def node(key, deps=()):
        return {"key": key, "function": "f", "subject_key": "s", "kwargs": {}, "storage_prefix": "p",
                "depends_on": list(deps)}
    text = json.dumps({"nodes": {"a": node("x"), "b": node("b", ["a"]), "c": node("x", ["b"])}, "root_key": "c"})
    theirs, ours = muflow.TaskPlan.from_json(text), TaskPlan.from_json(text)
    for completed in [set(), {"a"}, {"x"}, {"a", "b"}, {"x", "b"}, {"a", "x", "b"}, {"b"}]:
        done = set()
        assert [n.key for n in ours.ready_nodes(done)] == [n.key for n in theirs.ready_nodes(done)]
        done |= completed  # the same set object, grown by more than the nodes returned
        assert [n.key for n in ours.ready_nodes(done)] == [n.key for n in theirs.ready_nodes(done)], completed
    theirs_done, ours_done = set(), set()
    for _ in range(4):  # the usual loop, which this plan stalls (a's own key is "x")
        ready_theirs = [n.key for n in theirs.ready_nodes(theirs_done)]
        assert [n.key for n in ours.ready_nodes(ours_done)] == ready_theirs
        theirs_done.update(ready_theirs)
        ours_done.update(ready_theirs)
    assert ours_done == theirs_done == {"x"}
