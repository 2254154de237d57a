"""Nothing wrong passes silently: a missing task fails before anything runs, the
sentinel root is recognised by construction, and a cached node whose inputs changed
runs again (issue 12, items 1 and 3)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Annotated

import pydantic
import pytest

import muflow
import muflow_native
from muflow_native import ForEach, IdentityKey, Pipeline, Step, TaskPlan, register_task, registry
from muflow_native.backends import LocalBackend
from muflow_native.testing import run_plan_locally
from muflow_native.plan import plan_view

PACKAGE_ROOT = str(Path(muflow_native.__file__).resolve().parent.parent)


@pytest.fixture
def tasks():
    """Registers tasks for one test and removes them after it."""
    names = []

    def register(name, fn, **options):
        register_task(name=name, **options)(fn)
        names.append(name)
        return fn

    yield register
    for name in names:
        registry.unregister(name)


def _files(directory):
    return sorted(str(p.relative_to(directory)) for p in Path(directory).rglob("*") if p.is_file())


# -- A missing task never succeeds ------------------------------------------------------


def test_unregistered_root_of_a_one_step_pipeline_fails_and_writes_nothing(tmp_path, tasks):
    pipeline = Pipeline(name="nss.one", steps={"only": Step(task="nss.typo")})
    plan = pipeline.build_plan(subject_key="s:1", kwargs={}, base_prefix=str(tmp_path))
    assert plan_view(plan).sentinel_key() is None
    with pytest.raises(RuntimeError) as failed:
        LocalBackend(str(tmp_path)).submit_plan(plan)
    message = str(failed.value)
    assert "'nss.typo'" in message and "step 'only'" in message and "import" in message
    assert _files(tmp_path) == []  # no manifest, no context.json: nothing ran

    ran = []
    tasks("nss.typo", lambda context: (ran.append(1), context.save_json("out.json", {"ok": True})))
    LocalBackend(str(tmp_path)).submit_plan(plan)
    assert ran == [1]  # it was not "cached" by the failed attempt
    assert json.loads(Path(plan.root_key, "out.json").read_text()) == {"ok": True}


def test_muflow_fails_the_same_plan(tmp_path):
    pipeline = muflow.Pipeline(name="nss.one", steps={"only": muflow.Step(task="nss.typo")})
    plan = pipeline.build_plan(subject_key="s:1", kwargs={}, base_prefix=str(tmp_path))
    with pytest.raises(RuntimeError):
        muflow.LocalBackend(str(tmp_path)).submit_plan(plan)
    assert not Path(plan.root_key, "manifest.json").exists()


def test_one_error_lists_every_missing_task_and_nothing_runs(tmp_path, tasks):
    ran = []
    tasks("nss.first", lambda context: ran.append("first"))
    pipeline = Pipeline(name="nss.many", steps={
        "first": Step(task="nss.first"),
        "items": ForEach(task="nss.missing_a", over=lambda s, k: [{"i": 0}, {"i": 1}], after=["first"]),
        "last": Step(task="nss.missing_b", after=["items"]),
    })
    plan = pipeline.build_plan(subject_key="s:1", kwargs={}, base_prefix=str(tmp_path))
    callback = muflow_native.backends.LoggingCompletionCallback(__import__("logging").getLogger("nss"))
    backend = LocalBackend(str(tmp_path))
    with pytest.raises(RuntimeError) as failed:
        backend.submit_plan(plan, completion_callback=callback)
    message = str(failed.value)
    assert "2 tasks" in message
    assert "'nss.missing_a' (step 'items'; 2 nodes)" in message
    assert "'nss.missing_b' (step 'last'; 1 node)" in message
    assert ran == [] and _files(tmp_path) == []
    assert backend.get_plan_state(plan.root_key) == "failure"


def test_a_custom_registry_is_the_one_checked(tmp_path):
    entries = {}

    @register_task(name="nss.only_in_custom")
    def task(context):
        context.save_json("x.json", {})

    entries["nss.only_in_custom"] = registry.get("nss.only_in_custom")
    registry.unregister("nss.only_in_custom")
    plan = Pipeline(name="nss.c", steps={"a": Step(task="nss.only_in_custom")}).build_plan(
        subject_key="s", kwargs={}, base_prefix=str(tmp_path))
    with pytest.raises(RuntimeError, match="nss.only_in_custom"):
        LocalBackend(str(tmp_path)).submit_plan(plan)
    LocalBackend(str(tmp_path), registry_get=entries.get).submit_plan(plan)
    assert Path(plan.root_key, "manifest.json").exists()


def test_the_sentinel_is_recognised_by_construction_not_by_being_unregistered(tmp_path, tasks):
    tasks("nss.item", lambda context: context.save_json("i.json", dict(context.kwargs)))
    pipeline = Pipeline(name="nss.fan", steps={"items": ForEach(task="nss.item", over=lambda s, k: [{"i": 0}, {"i": 1}])})
    plan = pipeline.build_plan(subject_key="s:1", kwargs={"k": 1}, base_prefix=str(tmp_path))
    assert plan_view(plan).sentinel_key() == plan.root_key
    read = TaskPlan.from_json(plan.to_json())
    assert plan_view(read).sentinel_key() == read.root_key
    LocalBackend(str(tmp_path)).submit_plan(read)
    assert Path(plan.root_key, "manifest.json").exists()

    # The same shape with a root whose key is not the sentinel's: a task, and missing.
    data = json.loads(plan.to_json())
    root = data["nodes"][data["root_key"]]
    root["kwargs"] = {"k": 2}  # the key no longer hashes {"task", "subject", **kwargs}
    forged = TaskPlan.from_json(json.dumps(data))
    assert plan_view(forged).sentinel_key() is None
    with pytest.raises(RuntimeError, match="'nss.fan'"):
        LocalBackend(str(tmp_path / "other")).submit_plan(forged)


def test_run_plan_locally_reports_the_missing_task(tmp_path):
    pipeline = Pipeline(name="nss.one", steps={"only": Step(task="nss.never_registered")})
    result = run_plan_locally(pipeline, "s:1", {}, tmp_path)
    assert not result.success and "nss.never_registered" in result.error
    assert not (result.root_output_dir / "manifest.json").exists()


CLI_MODULE = textwrap.dedent(
    '''
    from muflow_native import ForEach, Pipeline, Step, register_task

    @register_task(name="nsscli.item")
    def item(context):
        context.save_json("i.json", {"i": context.kwargs["i"]})

    typo = Pipeline(name="nsscli.typo", steps={
        "items": ForEach(task="nsscli.item", over=lambda s, k: [{"i": 0}, {"i": 1}]),
        "sum": Step(task="nsscli.summ", after=["items"]),
    })
    '''
)


def _muflow_cli(*args, path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([PACKAGE_ROOT, str(path)]))
    return subprocess.run([sys.executable, "-m", "muflow_native", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=120)


def test_cli_refuses_to_run_and_plan_show_marks_the_missing_task(tmp_path):
    (tmp_path / "nss_cli_module.py").write_text(CLI_MODULE)
    out = tmp_path / "out"
    shown = _muflow_cli("plan", "show", "nss_cli_module:typo", "--subject", "s:1", path=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert any("nsscli.summ" in line and "NOT REGISTERED" in line for line in shown.stdout.splitlines())
    ran = _muflow_cli("run", "nss_cli_module:typo", "--subject", "s:1", "--output", out, path=tmp_path)
    assert ran.returncode != 0
    assert "'nsscli.summ' (step 'sum'; 1 node)" in ran.stderr
    assert not any(out.rglob("manifest.json")) and not any(out.rglob("context.json"))


# -- Caches notice changed inputs -------------------------------------------------------


class _Item(pydantic.BaseModel):
    n: Annotated[int, IdentityKey()]


class _Total(pydantic.BaseModel):
    label: Annotated[str, IdentityKey()] = "total"
    ns: list = []


@pytest.fixture
def reduce_pipeline(tasks):
    """items (one node per n) -> total (its prefix holds only `label`: unchanged when
    the items move), with a log of the tasks that ran."""
    ran = []
    scale = {"factor": 1}

    def item(context):
        ran.append(("item", context.kwargs.n))
        context.save_json("v.json", {"v": context.kwargs.n * scale["factor"]})

    def total(context):
        ran.append(("total",))
        values = [context.dependency(key).read_json("v.json")["v"] for key in context.dependency_keys()]
        context.save_json("sum.json", {"sum": sum(values)})

    tasks("nss.item_v", item, parameters=_Item)
    tasks("nss.total", total, parameters=_Total)
    pipeline = Pipeline(name="nss.reduce", steps={
        "items": ForEach(task="nss.item_v", over=lambda s, k: [{"n": n} for n in k["ns"]]),
        "total": Step(task="nss.total", after=["items"]),
    })
    return pipeline, ran, scale


def _run(pipeline, base, ns):
    plan = pipeline.build_plan(subject_key="s:1", kwargs={"ns": ns}, base_prefix=str(base))
    snapshots = []
    LocalBackend(str(base), workers=1).submit_plan(plan, on_progress=snapshots.append)
    return plan, snapshots[-1]


def _total(plan):
    return json.loads(Path(plan.root_key, "sum.json").read_text())["sum"]


def test_a_reduce_whose_inputs_moved_runs_again(tmp_path, reduce_pipeline):
    pipeline, ran, _ = reduce_pipeline
    first, _ = _run(pipeline, tmp_path, [1, 2])
    assert _total(first) == 3
    ran.clear()
    again, snapshot = _run(pipeline, tmp_path, [1, 2])
    assert ran == [] and snapshot.cached == 3 and snapshot.stale == 0

    ran.clear()
    moved, snapshot = _run(pipeline, tmp_path, [3, 4])
    assert moved.root_key == first.root_key  # muflow's prefix: the same, as muflow computes it
    assert ran == [("item", 3), ("item", 4), ("total",)]  # exactly the affected nodes
    assert snapshot.stale == 1 and _total(moved) == 7
    manifest = json.loads(Path(moved.root_key, "manifest.json").read_text())
    access_map = moved.nodes[moved.root_key].dependency_access_map
    assert {k: v["prefix"] for k, v in manifest["inputs"].items()} == dict(access_map)
    assert list(manifest["inputs"]) == list(access_map)

    muflow_plan = muflow.TaskPlan.from_json(moved.to_json())
    assert muflow_plan.nodes[moved.root_key].storage_prefix == moved.root_key


def test_an_input_run_again_with_the_same_outputs_does_not_cascade(tmp_path, reduce_pipeline):
    pipeline, ran, _ = reduce_pipeline
    plan, _ = _run(pipeline, tmp_path, [1, 2])
    first_item = next(node for node in plan.nodes.values() if node.function == "nss.item_v")
    for name in os.listdir(first_item.storage_prefix):
        os.remove(os.path.join(first_item.storage_prefix, name))
    ran.clear()
    _, snapshot = _run(pipeline, tmp_path, [1, 2])
    assert ran == [("item", 1)] and snapshot.stale == 0 and snapshot.cached == 2


def test_an_input_whose_outputs_changed_makes_its_dependents_stale(tmp_path, reduce_pipeline):
    pipeline, ran, scale = reduce_pipeline
    plan, _ = _run(pipeline, tmp_path, [1, 2])
    first_item = next(node for node in plan.nodes.values() if node.function == "nss.item_v")
    os.remove(os.path.join(first_item.storage_prefix, "manifest.json"))
    scale["factor"] = 10
    ran.clear()
    plan, snapshot = _run(pipeline, tmp_path, [1, 2])
    assert ran == [("item", 1), ("total",)] and snapshot.stale == 1
    assert _total(plan) == 12


def test_a_manifest_without_a_record_is_trusted_as_before(tmp_path, reduce_pipeline):
    pipeline, ran, _ = reduce_pipeline
    plan, _ = _run(pipeline, tmp_path, [1, 2])
    manifest_path = Path(plan.root_key, "manifest.json")
    manifest = json.loads(manifest_path.read_text())
    muflow_manifest = {"files": manifest["files"], "timestamp": manifest["timestamp"]}
    manifest_path.write_text(json.dumps(muflow_manifest, indent=2))
    ran.clear()
    moved, snapshot = _run(pipeline, tmp_path, [3, 4])
    assert ("total",) not in ran and snapshot.stale == 0
    assert _total(moved) == 3  # muflow's rule: the manifest's presence


def test_cli_counts_stale_nodes(tmp_path):
    module = textwrap.dedent(
        '''
        from typing import Annotated
        import pydantic
        from muflow_native import ForEach, IdentityKey, Pipeline, Step, register_task

        class Item(pydantic.BaseModel):
            n: Annotated[int, IdentityKey()]

        class Total(pydantic.BaseModel):
            label: Annotated[str, IdentityKey()] = "total"
            ns: list = []

        @register_task(name="nsscli2.item", parameters=Item)
        def item(context):
            context.save_json("v.json", {"v": context.kwargs.n})

        @register_task(name="nsscli2.total", parameters=Total)
        def total(context):
            context.save_json("sum.json", {"sum": sum(context.dependency(k).read_json("v.json")["v"]
                                                     for k in context.dependency_keys())})

        reduce = Pipeline(name="nsscli2.reduce", steps={
            "items": ForEach(task="nsscli2.item", over=lambda s, k: [{"n": n} for n in k["ns"]]),
            "total": Step(task="nsscli2.total", after=["items"]),
        })
        '''
    )
    (tmp_path / "nss_cli_reduce.py").write_text(module)
    out = tmp_path / "out"
    first = _muflow_cli("run", "nss_cli_reduce:reduce", "--subject", "s", "--kwargs", '{"ns": [1, 2]}',
                        "--output", out, path=tmp_path)
    assert first.returncode == 0, first.stderr
    moved = _muflow_cli("run", "nss_cli_reduce:reduce", "--subject", "s", "--kwargs", '{"ns": [5]}',
                        "--output", out, path=tmp_path)
    assert moved.returncode == 0, moved.stderr
    assert "1 stale" in moved.stdout, moved.stdout
