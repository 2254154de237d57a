"""A local run's nodes that finish together share their context.json and, when they
wrote the same files, their manifest.json (hard links); a plan run again reuses the
prefixes read for its first run. What each node's directory holds stays muflow's."""

import gc
import json
import os
import weakref

import muflow
import muflow_native as mn
from muflow_native.plan import plan_view


def _fan_in(lib, n):
    return lib.Pipeline(name="s.pipe", steps={
        "leaves": lib.ForEach(task="s.leaf", over=lambda sk, kw: [{"i": i} for i in range(n)]),
        "sink": lib.Step(task="s.sink", after=["leaves"]),
    })


def _leaves(plan):
    return [n for n in plan.nodes.values() if n.function == "s.leaf"]


def test_nodes_share_files_and_each_reads_as_muflow_writes_it(tmp_path, tasks):
    def leaf(context):
        if context.kwargs["i"] == 3:
            context.save_json("out.json", {"i": 3})

    tasks("s.leaf", leaf)
    tasks("s.sink", lambda c: None)
    plan = _fan_in(mn, 40).build_plan("s", {}, base_prefix=str(tmp_path))
    mn.LocalBackend(str(tmp_path), workers=1).submit_plan(plan)
    leaves = _leaves(plan)
    contexts = {os.stat(os.path.join(n.storage_prefix, "context.json")).st_ino for n in leaves}
    manifests = {os.stat(os.path.join(n.storage_prefix, "manifest.json")).st_ino for n in leaves}
    assert len(contexts) < len(leaves) and len(manifests) < len(leaves), "hard links, not a file per node"
    for node in leaves:
        with open(os.path.join(node.storage_prefix, "context.json")) as f:
            assert json.load(f) == {}
        with open(os.path.join(node.storage_prefix, "manifest.json")) as f:
            manifest = json.load(f)
        expected = ["context.json", "out.json"] if node.kwargs["i"] == 3 else ["context.json"]
        assert manifest["files"] == expected
        assert muflow.storage.local.LocalStorageBackend(node.storage_prefix).is_cached()


def test_removing_one_shared_manifest_runs_that_node_alone_again(tmp_path, tasks):
    ran = []
    tasks("s.leaf", lambda c: ran.append(c.kwargs["i"]))
    tasks("s.sink", lambda c: ran.append("sink"))
    plan = _fan_in(mn, 30).build_plan("s", {}, base_prefix=str(tmp_path))
    backend = mn.LocalBackend(str(tmp_path), workers=2)
    backend.submit_plan(plan)
    ran.clear()
    victim = next(n for n in _leaves(plan) if n.kwargs["i"] == 17)
    os.unlink(os.path.join(victim.storage_prefix, "manifest.json"))
    backend.submit_plan(plan)
    assert ran == [17], "the sink and the other leaves are cached"
    assert all(os.path.exists(os.path.join(n.storage_prefix, "manifest.json")) for n in _leaves(plan))


def test_a_plan_run_again_reuses_its_prefixes_and_a_dropped_plan_is_freed(tmp_path, tasks):
    tasks("s.leaf", lambda c: None)
    tasks("s.sink", lambda c: None)
    plan = _fan_in(mn, 5).build_plan("s", {}, base_prefix=str(tmp_path))
    backend = mn.LocalBackend(str(tmp_path), workers=1)
    first = backend.submit_plan(plan).node_prefixes
    read = plan_view(plan).prefixes
    assert backend.submit_plan(plan).node_prefixes == first == {k: n.storage_prefix for k, n in plan.nodes.items()}
    assert plan_view(plan).prefixes is read, "read from the library once"
    dropped = weakref.ref(plan)
    del plan
    gc.collect()
    assert dropped() is None
