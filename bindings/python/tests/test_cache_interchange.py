"""A cache directory written by muflow 0.4.0 is reused by muflow_native, and the
other way round: same prefixes, and a manifest is a manifest."""

import pytest

import muflow
import muflow_native as mn

TASKS = ("x.features", "x.train")


def _steps(lib):
    return {
        "features": lib.ForEach(task="x.features", over=lambda sk, kw: [{"name": n} for n in kw["names"]]),
        "train": lib.Step(task="x.train", after=["features"]),
    }


@pytest.fixture
def both_registries():
    calls = []

    def features(context):
        calls.append("features")
        context.save_json("features.json", {"name": context.kwargs["name"], "value": len(context.kwargs["name"])})

    def train(context):
        calls.append("train")
        total = sum(context.dependency(k).read_json("features.json")["value"] for k in context.dependency_keys())
        context.save_json("model.json", {"total": total})

    for lib in (muflow, mn):
        lib.register_task("x.features")(features)
        lib.register_task("x.train")(train)
    yield calls
    for lib in (muflow, mn):
        for name in TASKS:
            lib.registry.unregister(name)


def _plans(tmp_path):
    kwargs = {"names": ["alpha", "beta", "gamma"]}
    theirs = muflow.Pipeline(name="x.pipe", steps=_steps(muflow)).build_plan("s:1", kwargs, base_prefix=str(tmp_path))
    ours = mn.Pipeline(name="x.pipe", steps=_steps(mn)).build_plan("s:1", kwargs, base_prefix=str(tmp_path))
    assert ours.to_json() == theirs.to_json()
    return theirs, ours


def test_muflow_cache_is_reused_by_muflow_native(tmp_path, both_registries):
    theirs, ours = _plans(tmp_path)
    muflow.LocalBackend(str(tmp_path), progress_reporter=lambda *a: None).submit_plan(theirs)
    assert both_registries.count("features") == 3
    both_registries.clear()
    started = []
    handle = mn.LocalBackend(str(tmp_path)).submit_plan(ours, on_node_start=started.append)
    assert both_registries == [], "no task may run: every node is cached"
    assert sorted(started) == sorted(ours.nodes)
    assert handle.get_progress().is_complete


def test_muflow_native_cache_is_reused_by_muflow(tmp_path, both_registries):
    theirs, ours = _plans(tmp_path)
    mn.LocalBackend(str(tmp_path)).submit_plan(ours)
    assert both_registries.count("train") == 1
    both_registries.clear()
    muflow.LocalBackend(str(tmp_path), progress_reporter=lambda *a: None).submit_plan(theirs)
    assert both_registries == []
    root = theirs.nodes[theirs.root_key]
    assert muflow.LocalStorageBackend(root.storage_prefix).read_json("model.json") == {"total": 14}
