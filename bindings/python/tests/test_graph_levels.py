"""cli.graph takes a collapsed graph's levels from the core (mf_plan_levels) for any
plan: a native one, a muflow 0.4.0 one (read into a native plan), and refuses clearly
an object that is neither."""

from __future__ import annotations

import pytest

from muflow.plan import TaskPlan as TheirPlan
from muflow_native.cli import graph
from muflow_native.plan import TaskPlan


def chain_and_fan(n: int) -> str:
    """A chain a0 -> a1 -> ... with b<i> hanging off a<i>: levels a0 | a1 b0 | a2 b1 | ..."""
    nodes = {}

    def node(key, deps):
        nodes[key] = {"key": key, "function": key[0], "subject_key": "s", "kwargs": {}, "storage_prefix": key,
                      "depends_on": deps, "depended_on_by": [], "output_files": [], "analysis_id": None,
                      "dependency_access_map": {}}

    for i in range(n):
        node(f"a{i}", [f"a{i - 1}"] if i else [])
        node(f"b{i}", [f"a{i}"])
    return TaskPlan(nodes=nodes, root_key=f"a{n - 1}").to_json()


def test_levels_of_native_and_muflow_plans_are_the_cores():
    text = chain_and_fan(4)
    ours, theirs = TaskPlan.from_json(text), TheirPlan.model_validate_json(text)
    expected = {key: level for level, keys in enumerate(ours.levels()) for key in keys}
    assert expected["a0"] == 0 and expected["b0"] == 1 and expected["a3"] == 3 and expected["b3"] == 4
    assert graph._levels(ours) == expected
    assert graph._levels(theirs) == expected
    assert graph.render_graph(theirs, "dot", collapse=True) == graph.render_graph(ours, "dot", collapse=True)


def test_a_collapsed_graph_of_something_else_is_a_type_error():
    class NotAPlan:
        root_key = "r"

    infos = [graph.NodeInfo("r", "f", "p", [])]
    with pytest.raises(TypeError, match="a collapsed graph needs a TaskPlan .* not NotAPlan"):
        graph.render_graph(NotAPlan(), "dot", infos=infos, collapse=True)
