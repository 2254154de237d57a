"""TaskPlan.ready_nodes tells the core's ready tracker of the changes to the caller's
set by two paths: the fast one (the set grew by keys of the nodes returned last time,
handed over by index) and the general one (the keys that joined and left). These tests
keep both in agreement with the core's stateless mf_plan_ready_nodes, on random plans
(node keys equal to or differing from their filing keys) and random changes."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from json_strategies import scaled
from muflow_native import _ffi
from muflow_native.plan import TaskPlan, plan_view


def plan_json(depends: list[list[int]], own_keys: list[str]) -> str:
    nodes = {}
    for i, (deps, own) in enumerate(zip(depends, own_keys)):
        nodes[f"k{i}"] = {
            "key": own, "function": "f", "subject_key": "s", "kwargs": {}, "storage_prefix": f"p{i}",
            "depends_on": [f"k{d}" for d in deps], "depended_on_by": [], "output_files": [],
            "analysis_id": None, "dependency_access_map": {},
        }
    return json.dumps({"nodes": nodes, "root_key": f"k{len(depends) - 1}"})


@st.composite
def plans(draw):
    n = draw(st.integers(1, 10))
    depends = [sorted(set(draw(st.lists(st.integers(0, i - 1), max_size=3)))) if i else [] for i in range(n)]
    own = [f"k{i}" for i in range(n)]
    if draw(st.booleans()):  # hand-made JSON: some nodes keyed otherwise
        for i in range(n):
            if draw(st.integers(0, 2)) == 0:
                own[i] = draw(st.sampled_from([f"k{draw(st.integers(0, n - 1))}", "shared", f"stray{i}"]))
    return plan_json(depends, own)


def core_ready(plan: TaskPlan, completed) -> list[str]:
    """The general path: the core's stateless ready_nodes, as the nodes' own keys."""
    keys = [k for k in completed if isinstance(k, str)]
    ready = json.loads(_ffi.call_returning_string(_ffi.mf_plan_ready_nodes, plan_view(plan).native,
                                                  json.dumps(keys).encode("ascii")))
    return [plan.nodes[k].key for k in ready]


class _Counting:
    def __init__(self, function):
        self.function, self.calls = function, 0

    def __call__(self, *args):
        self.calls += 1
        return self.function(*args)


@settings(max_examples=scaled(400))
@given(text=plans(), data=st.data())
def test_fast_and_general_paths_agree_with_the_core(text, data):
    plan = TaskPlan.from_json(text)
    candidates = list(plan.nodes) + [n.key for n in plan.nodes.values()] + ["shared", "unrelated", "", 7]
    completed = set()
    for _ in range(data.draw(st.integers(1, 25))):
        move = data.draw(st.integers(0, 6))
        if move == 0 and completed:
            completed.discard(data.draw(st.sampled_from(sorted(completed, key=repr))))
        elif move == 1:
            completed.add(data.draw(st.sampled_from(candidates)))
        elif move == 2:  # same size, other keys
            if completed:
                completed.discard(data.draw(st.sampled_from(sorted(completed, key=repr))))
            completed.add(data.draw(st.sampled_from(candidates)))
        else:  # the usual loop: add (some of) the keys of the nodes returned
            ready = [n.key for n in plan.ready_nodes(completed)]
            if ready:
                completed |= set(data.draw(st.lists(st.sampled_from(ready), min_size=1, max_size=len(ready))))
        assert [n.key for n in plan.ready_nodes(completed)] == core_ready(plan, completed), completed


def test_the_usual_loop_takes_the_fast_path(monkeypatch):
    n = 50
    plan = TaskPlan.from_json(plan_json([[i - 1] if i else [] for i in range(n)], [f"k{i}" for i in range(n)]))
    fast = _Counting(_ffi.mf_ready_tracker_add_nodes)
    general = _Counting(_ffi.mf_ready_tracker_update)
    monkeypatch.setattr(_ffi, "mf_ready_tracker_add_nodes", fast)
    monkeypatch.setattr(_ffi, "mf_ready_tracker_update", general)
    done, order = set(), []
    while not plan.is_complete(done):
        ready = plan.ready_nodes(done)
        assert [node.key for node in ready] == core_ready(plan, done)
        for node in ready:
            done.add(node.key)
            order.append(node.key)
    assert order == [f"k{i}" for i in range(n)]
    assert (general.calls, fast.calls) == (1, n - 1)
    done.discard("k10")  # anything else takes the general path
    assert [node.key for node in plan.ready_nodes(done)] == ["k10"]
    assert general.calls == 2
