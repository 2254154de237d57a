"""LocalBackend hands fast nodes to its workers in lists (mf_run_next_nodes) and builds
each task's context lazily: the semantics must stay those of one node at a time."""

import json
import os
import threading
import time

import pydantic
import pytest

import muflow_native as mn
from muflow_native.context import set_context_factory
from muflow_native.context.task import TaskContext


def _fan_in(n, leaf="b.leaf", sink="b.sink", name="b.pipe"):
    return mn.Pipeline(name=name, steps={
        "leaves": mn.ForEach(task=leaf, over=lambda sk, kw: [{"i": i} for i in range(n)]),
        "sink": mn.Step(task=sink, after=["leaves"]),
    })


def _leaves(plan):
    return sorted((n for n in plan.nodes.values() if n.function == "b.leaf"), key=lambda n: n.kwargs["i"])


def test_a_failure_in_the_middle_of_a_list_starts_no_later_node(tmp_path, tasks):
    ran = []

    def leaf(context):
        ran.append(context.kwargs["i"])
        if context.kwargs["i"] == 150:
            raise ValueError("one bad leaf")

    tasks("b.leaf", leaf)
    tasks("b.sink", lambda c: None)
    plan = _fan_in(300).build_plan("s", {}, base_prefix=str(tmp_path))
    with pytest.raises(RuntimeError, match="Node b.leaf failed: one bad leaf"):
        mn.LocalBackend(str(tmp_path), workers=1).submit_plan(plan)
    order = [n.kwargs["i"] for n in plan.nodes.values() if n.function == "b.leaf"]
    assert ran == order[: order.index(150) + 1], "muflow's order, up to the failure and no further"
    for node in _leaves(plan):
        i = node.kwargs["i"]
        has_manifest = os.path.exists(os.path.join(node.storage_prefix, "manifest.json"))
        has_context = os.path.exists(os.path.join(node.storage_prefix, "context.json"))
        if i in ran and i != 150:
            assert has_manifest, i
        else:
            assert not has_manifest, i
            # Handed out in the failing node's list but never started: given back clean.
            assert has_context == (i == 150), i
    error = json.loads(open(os.path.join(_leaves(plan)[150].storage_prefix, "error.json")).read())
    assert error["error_message"] == "one bad leaf"


def test_continue_on_failure_runs_the_rest_of_a_list(tmp_path, tasks):
    def leaf(context):
        if context.kwargs["i"] % 50 == 7:
            raise ValueError("bad")
        context.save_json("out.json", context.kwargs["i"])

    tasks("b.leaf", leaf)
    tasks("b.sink", lambda c: None)
    plan = _fan_in(200).build_plan("s", {}, base_prefix=str(tmp_path))
    with pytest.raises(RuntimeError, match="bad"):
        mn.LocalBackend(str(tmp_path), workers=2, continue_on_failure=True).submit_plan(plan)
    done = [os.path.exists(os.path.join(n.storage_prefix, "manifest.json")) for n in _leaves(plan)]
    assert done == [i % 50 != 7 for i in range(200)]


def test_lazy_context_gives_kwargs_dependencies_prefix_and_storage(tmp_path, tasks):
    seen = {}

    def leaf(context):
        assert isinstance(context, TaskContext)
        assert context.dependency_keys() == [] and not context.has_dependency("x")
        context.save_json("value.json", context.kwargs["i"] * 2)

    def sink(context):
        keys = context.dependency_keys()
        seen["keys"] = len(keys)
        seen["sum"] = sum(context.dependency(k).read_json("value.json") for k in keys)
        seen["prefix"] = context.storage_prefix
        seen["kwargs"] = context.kwargs
        assert context.exists("context.json")

    tasks("b.leaf", leaf)
    tasks("b.sink", sink)
    plan = _fan_in(120).build_plan("s", {"unused": [1, 2]}, base_prefix=str(tmp_path))
    mn.LocalBackend(str(tmp_path), workers=2).submit_plan(plan)
    root = plan.nodes[plan.root_key]
    assert seen == {"keys": 120, "sum": sum(2 * i for i in range(120)), "prefix": root.storage_prefix,
                    "kwargs": root.kwargs}
    manifest = json.loads(open(os.path.join(_leaves(plan)[3].storage_prefix, "manifest.json")).read())
    assert manifest["files"] == ["context.json", "value.json"]
    assert manifest["file_sizes"] == {"context.json": 2, "value.json": 1}


def test_parameters_and_typed_contexts_still_apply(tmp_path, tasks):
    class Params(pydantic.BaseModel):
        i: int
        scale: int = 10

    kinds = []

    class SurfaceContext(TaskContext):
        pass

    def leaf(context):
        kinds.append((type(context).__name__, type(context.kwargs).__name__))
        context.save_json("scaled.json", context.kwargs.i * context.kwargs.scale)

    def upgrade(base, kind, data):
        typed = SurfaceContext(base.storage, base.kwargs, base._dependency_storages, base.progress_reporter)
        return typed

    tasks("b.leaf", leaf, parameters=Params, context="surface")
    tasks("b.sink", lambda c: kinds.append(("sink", type(c.kwargs).__name__)))
    set_context_factory(upgrade)
    plan = _fan_in(70).build_plan("s", {}, base_prefix=str(tmp_path))
    mn.LocalBackend(str(tmp_path), workers=1).submit_plan(plan)
    assert kinds[:70] == [("SurfaceContext", "Params")] * 70
    assert kinds[70] == ("sink", "dict")
    leaf9 = _leaves(plan)[9]
    assert json.loads(open(os.path.join(leaf9.storage_prefix, "scaled.json")).read()) == 90


def test_unknown_task_fails_each_node_with_the_registry_error(tmp_path, tasks):
    tasks("b.sink", lambda c: None)
    plan = _fan_in(3, leaf="b.missing").build_plan("s", {}, base_prefix=str(tmp_path))
    with pytest.raises(RuntimeError, match="b.missing"):
        mn.LocalBackend(str(tmp_path), workers=1).submit_plan(plan)


def test_slow_tasks_after_fast_ones_still_run_in_parallel(tmp_path, tasks):
    """After many fast leaves the workers take long lists; when the tasks turn slow, no
    worker keeps a backlog of them (a list is a share of the ready nodes, and a worker
    gives back the rest of its list after a slow task), so the slow ones overlap."""
    intervals = {}
    lock = threading.Lock()

    def leaf(context):
        i = context.kwargs["i"]
        if i >= 400:
            start = time.monotonic()
            time.sleep(0.02)
            with lock:
                intervals[i] = (start, time.monotonic())

    tasks("b.leaf", leaf)
    tasks("b.sink", lambda c: None)
    plan = _fan_in(424).build_plan("s", {}, base_prefix=str(tmp_path))
    mn.LocalBackend(str(tmp_path), workers=2).submit_plan(plan)
    assert len(intervals) == 24
    spans = sorted(intervals.values())
    overlapping = sum(1 for (_, end), (start, _) in zip(spans, spans[1:]) if start < end)
    assert overlapping >= 6, f"the slow leaves ran mostly one after another: {spans}"


def test_cancel_gives_back_the_nodes_a_worker_holds(tmp_path, tasks):
    backend = mn.LocalBackend(str(tmp_path), workers=1)
    plan = _fan_in(400).build_plan("s", {}, base_prefix=str(tmp_path))
    ran = []

    def leaf(context):
        ran.append(context.kwargs["i"])
        if len(ran) == 100:
            backend.cancel_plan(plan.root_key)

    tasks("b.leaf", leaf)
    tasks("b.sink", lambda c: None)
    with pytest.raises(RuntimeError, match="cancelled"):
        backend.submit_plan(plan)
    assert len(ran) == 100
    with_context = [n for n in _leaves(plan) if os.path.exists(os.path.join(n.storage_prefix, "context.json"))]
    assert len(with_context) == 100, "nodes handed out but not started keep no context.json"


RACE = """
import os, sys
import muflow_native as mn

log = os.open(sys.argv[2], os.O_WRONLY | os.O_APPEND | os.O_CREAT)

def work(context):
    os.write(log, (context.storage_prefix + "\\n").encode())

mn.register_task("race.fast")(work)
mn.register_task("race.sink")(work)
pipeline = mn.Pipeline(name="race.fast_pipe", steps={
    "leaf": mn.ForEach(task="race.fast", over=lambda sk, kw: [{"i": i} for i in range(1500)]),
    "sink": mn.Step(task="race.sink", after=["leaf"]),
})
plan = pipeline.build_plan("s", {}, base_prefix=sys.argv[1])
mn.LocalBackend(sys.argv[1], workers=2).submit_plan(plan)
"""


def test_two_runners_taking_lists_of_fast_nodes_run_each_node_once(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "race.py"
    script.write_text(RACE)
    log = tmp_path / "executions.log"
    base = tmp_path / "out"
    runners = [subprocess.Popen([sys.executable, str(script), str(base), str(log)], stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    for runner in runners:
        _, err = runner.communicate(timeout=120)
        assert runner.returncode == 0, err
    executions = log.read_text().splitlines()
    assert len(executions) == len(set(executions)) == 1501, "every node ran exactly once across both processes"
    assert all(os.path.exists(os.path.join(prefix, "manifest.json")) for prefix in executions)
