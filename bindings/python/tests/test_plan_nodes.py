"""plan.nodes materialised from the library's node pickles, against muflow 0.4.0's
nodes: every field of every node, whatever order the nodes are asked for in, for plans
whose nodes share large lists and whose kwargs hold big integers, NaN and infinities,
non-ASCII text and lone surrogates; and which objects nodes share (kwargs values, as
muflow's build_plan shares them) or own (kwargs dicts, edge lists, access maps)."""

from __future__ import annotations

import json
import math
import random

import pytest

import muflow
import muflow_native
from seed_pipelines import ml_pipeline

LIBS = (muflow, muflow_native)

SCALARS = [0, -1, 255, 65536, 2**31, -(2**31) - 1, 2**63 - 1, -(2**63), 2**63, 2**64, -(2**70), 10**30, -(10**40),
           1.5, -0.0, 5e-324, 1e300, float("nan"), float("inf"), -float("inf"), True, False, None,
           "", "é😀", "\u2028", "nul\x00", "x" * 300, "lone\ud800", "\udc00\ud800", "a\udfffb"]


def text(value) -> str:
    """Structural text, NaN-safe, order-sensitive, surrogates kept."""
    return json.dumps(value, ensure_ascii=True)


def pipeline(lib, width: int):
    return lib.Pipeline(
        name="nodes.pipeline",
        steps={
            "fan": lib.ForEach(task="nodes.fan", over=lambda s, k: [{"i": i, "all": k["values"]} for i in range(width)]),
            "join": lib.Step(task="nodes.join", after=["fan"]),
            "again": lib.ForEach(task="nodes.again", after=["fan", "join"],
                                 over=lambda s, k: [{"j": j, "values": k["values"]} for j in range(width)]),
        },
    )


def both(kwargs, width=20):
    return [pipeline(lib, width).build_plan("subject:1", kwargs) for lib in LIBS]


def assert_same_nodes(theirs, ours, order=None):
    keys = list(theirs.nodes)
    assert list(ours.nodes) == keys
    for key in order if order is not None else keys:
        # to_dict: pydantic's JSON mode, where NaN and infinities are None in both.
        assert text(ours.nodes[key].to_dict()) == text(theirs.nodes[key].to_dict()), key


@pytest.mark.parametrize("value", SCALARS, ids=repr)
def test_every_kind_of_scalar_in_kwargs_and_in_shared_lists(value):
    values = [value] * 3 + list(range(20))
    theirs, ours = both({"v": value, "values": values})
    assert_same_nodes(theirs, ours)
    node = ours.nodes[list(ours.nodes)[0]]
    got = node.kwargs["v"]
    if isinstance(value, float) and not math.isfinite(value):
        assert got is None  # as the node's JSON reads back, and as muflow's to_dict gives
    else:
        assert type(got) is type(value) and text(got) == text(value)


def test_large_shared_lists_of_mixed_values():
    values = SCALARS * 40 + [list(range(50)), {"nested": SCALARS}]
    theirs, ours = both({"values": values, "scale": 2**100}, width=60)
    assert_same_nodes(theirs, ours)


def test_nodes_asked_for_in_any_order():
    values = [f"dataset_{i:05d}" for i in range(200)]
    theirs, ours = both({"values": values}, width=150)
    order = list(theirs.nodes)
    random.Random(7).shuffle(order)
    assert_same_nodes(theirs, ours, order)


def test_plans_read_from_json_match_muflows_reading():
    values = [f"dataset_{i:05d}" for i in range(100)] + [2**80, -0.0, "é"]
    their_built, _ = both({"values": values}, width=40)
    data = their_built.to_json()
    theirs, ours = muflow.TaskPlan.from_json(data), muflow_native.TaskPlan.from_json(data)
    for key, node in theirs.nodes.items():
        # Read from JSON there are no NaNs: the Python values themselves compare.
        assert ours.nodes[key].model_dump() == node.model_dump(), key


def test_kwargs_values_shared_as_in_muflow_and_everything_else_owned():
    values = [f"dataset_{i:05d}" for i in range(100)]
    theirs, ours = both({"values": values}, width=30)
    for plan in (theirs, ours):
        fans = [n for n in plan.nodes.values() if n.function == "nodes.fan"]
        agains = [n for n in plan.nodes.values() if n.function == "nodes.again"]
        # muflow's build_plan merges {**kwargs, **item}: the list is one object.
        assert fans[0].kwargs["values"] is fans[1].kwargs["values"]
        assert fans[0].kwargs is not fans[1].kwargs
        assert agains[0].depends_on == agains[1].depends_on
        assert agains[0].depends_on is not agains[1].depends_on
        assert agains[0].dependency_access_map is not agains[1].dependency_access_map
        assert fans[0].depended_on_by is not fans[1].depended_on_by
    fans = [n for n in ours.nodes.values() if n.function == "nodes.fan"]
    fans[0].depended_on_by.append("changed")
    fans[0].kwargs["extra"] = 1
    assert "changed" not in fans[1].depended_on_by and "extra" not in fans[1].kwargs


def test_ml_plan_nodes_match_and_share_the_dataset_list():
    kwargs = {"datasets": [f"dataset_{i:05d}" for i in range(120)]}
    theirs, ours = (ml_pipeline(lib).build_plan("experiment:1", kwargs) for lib in LIBS)
    assert_same_nodes(theirs, ours)
    read = muflow_native.TaskPlan.from_json(theirs.to_json())
    nodes = list(read.nodes.values())
    assert all(n.kwargs["datasets"] is nodes[0].kwargs["datasets"] for n in nodes)
    assert [n.model_dump() for n in nodes] == [n.model_dump() for n in theirs.nodes.values()]


def test_node_unpickler_looks_up_no_class():
    import io
    import pickle

    from muflow_native.plan import _NodeUnpickler

    with pytest.raises(pickle.UnpicklingError, match="name no class.*set"):
        _NodeUnpickler(io.BytesIO(pickle.dumps({1, 2}, protocol=2))).load()


def test_values_and_items_views_agree_with_lookups():
    values = [f"dataset_{i:05d}" for i in range(40)]
    theirs, ours = both({"values": values}, width=150)
    data = theirs.to_json()
    fresh = muflow_native.TaskPlan.from_json(data)
    first = next(iter(fresh.nodes.values()))  # one batch built, not the whole plan
    assert first.key == list(theirs.nodes)[0]
    assert sum(node is not None for node in fresh.nodes._materialised) < len(fresh.nodes)
    items = list(fresh.nodes.items())
    assert [key for key, _ in items] == list(theirs.nodes)
    assert all(node is fresh.nodes[key] for key, node in items)
    assert list(fresh.nodes.values()) == [node for _, node in items]
    assert len(fresh.nodes.values()) == len(theirs.nodes) and first in fresh.nodes.values()
    assert [text(n.to_dict()) for n in fresh.nodes.values()] == [text(n.to_dict()) for n in theirs.nodes.values()]
