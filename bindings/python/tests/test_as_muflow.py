"""Code written for muflow, with muflow 0.4.0 itself installed: `install_as_muflow()`
(or MUFLOW_NATIVE_AS_MUFLOW=1 for `muflow run`) makes every `import muflow` give
muflow_native; without it, muflow's objects handed to muflow_native raise a TypeError
naming the mix and the switch. The switch runs in subprocesses: this process has the
original muflow imported as the differential oracle."""

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import muflow
import muflow_native as mn
from muflow_native.as_muflow import MixedLibrariesError

PACKAGE_ROOT = str(Path(mn.__file__).resolve().parent.parent)

# A module as written for muflow: every name from muflow and its submodules.
WRITTEN_FOR_MUFLOW = textwrap.dedent(
    '''
    from muflow import registry
    from muflow.backends import LocalBackend
    from muflow.pipeline import ForEach, Pipeline, Step
    from muflow.storage.local import LocalStorageBackend

    @registry.register_task(name="legacy.square")
    def square(context):
        context.save_json("out.json", {"y": context.kwargs["x"] ** 2})

    @registry.register_task(name="legacy.total")
    def total(context):
        ys = [context.dependency(k).read_json("out.json")["y"] for k in context.dependency_keys()]
        context.save_json("total.json", {"total": sum(ys)})

    pipeline = Pipeline(name="legacy.sum", steps={
        "squares": ForEach(task="legacy.square", over=lambda subject, kwargs: [{"x": x} for x in kwargs["xs"]]),
        "total": Step(task="legacy.total", after=["squares"]),
    })
    '''
)


def _python(script, tmp_path, env=None, *args):
    (tmp_path / "legacy_pipeline.py").write_text(WRITTEN_FOR_MUFLOW)
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), PACKAGE_ROOT]), **(env or {}))
    command = [sys.executable, "-c", textwrap.dedent(script)] if script else [sys.executable, *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=120)


def test_muflow_itself_is_installed_here():
    """The switch matters because the original library is importable beside ours."""
    assert importlib.metadata.version("muflow") == "0.4.0"
    assert not muflow.__name__.startswith("muflow_native")


def test_install_as_muflow_makes_every_muflow_import_muflow_native(tmp_path):
    result = _python(
        f'''
        import sys
        import muflow_native
        muflow_native.install_as_muflow()
        muflow_native.install_as_muflow()  # a second call changes nothing
        import muflow, muflow.backends, muflow.storage.local
        from muflow.backends import LocalBackend
        from muflow import registry, TaskPlan
        assert muflow is muflow_native and muflow.backends is muflow_native.backends
        assert LocalBackend is muflow_native.LocalBackend and registry is muflow_native.registry
        assert sys.modules["muflow.storage.local"] is muflow_native.storage.local
        assert TaskPlan is muflow_native.TaskPlan
        assert muflow_native.__spec__.name == "muflow_native"  # its own spec, kept
        assert muflow_native.storage.local.__spec__.name == "muflow_native.storage.local"
        assert not hasattr(muflow_native.storage.local, "__path__")  # a module stays a module
        try:
            import muflow.no_such_module
        except ModuleNotFoundError as error:
            assert "muflow_native.no_such_module" in str(error), error
        else:
            raise AssertionError("imported")

        import legacy_pipeline
        plan = legacy_pipeline.pipeline.build_plan("s:1", {{"xs": [1, 2, 3]}}, base_prefix={str(tmp_path / "out")!r})
        handle = legacy_pipeline.LocalBackend({str(tmp_path / "out")!r}).submit_plan(plan)
        storage = legacy_pipeline.LocalStorageBackend(plan.nodes[plan.root_key].storage_prefix)
        print(handle.get_state(), storage.read_json("total.json")["total"])
        ''', tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["success", "14"]


def test_install_after_muflow_was_imported_says_so(tmp_path):
    result = _python(
        '''
        import muflow.backends
        import muflow_native
        try:
            muflow_native.install_as_muflow()
        except RuntimeError as error:
            print(error)
        ''', tmp_path)
    assert result.returncode == 0, result.stderr
    assert "must run before anything imports muflow" in result.stdout and "muflow.backends" in result.stdout


def test_without_the_switch_the_mix_fails_clearly_not_deep_inside(tmp_path):
    """What the issue saw: `import muflow_native as muflow` on top, `from muflow ...`
    below, silently reaching the original library."""
    result = _python(
        f'''
        import muflow_native as muflow
        import legacy_pipeline
        try:
            muflow.run_plan_locally(legacy_pipeline.pipeline, "s:1", {{"xs": [1]}}, {str(tmp_path / "out")!r})
        except TypeError as error:
            print(error)
        ''', tmp_path)
    assert result.returncode == 0, result.stderr
    assert "run_plan_locally was given a Pipeline from the original muflow library (muflow.pipeline.Pipeline)" \
        in result.stdout
    assert "install_as_muflow()" in result.stdout and "MUFLOW_NATIVE_AS_MUFLOW=1" in result.stdout


def test_muflow_run_honours_the_environment_switch(tmp_path):
    run = ["-m", "muflow_native", "run", "legacy_pipeline:pipeline", "--subject", "s:1",
           "--kwargs", '{"xs": [2, 3]}', "--output", str(tmp_path / "out"), "-q"]
    switched = _python(None, tmp_path, {"MUFLOW_NATIVE_AS_MUFLOW": "1"}, *run)
    assert switched.returncode == 0, switched.stderr
    total = Path(switched.stdout.strip()) / "total.json"
    assert json.loads(total.read_text()) == {"total": 13}

    plain = _python(None, tmp_path, {"MUFLOW_NATIVE_AS_MUFLOW": "0"}, *run)
    assert plain.returncode == 2
    assert "not a muflow_native Pipeline" in plain.stderr and "MUFLOW_NATIVE_AS_MUFLOW=1" in plain.stderr

    wrong = _python(None, tmp_path, {"MUFLOW_NATIVE_AS_MUFLOW": "maybe"}, *run)
    assert wrong.returncode == 2 and "MUFLOW_NATIVE_AS_MUFLOW must be 1 (on) or 0 (off), not 'maybe'" in wrong.stderr


# ── objects of the two libraries meeting, in this process ───────────────────


def _square(context):
    context.save_json("out.json", {"x": context.kwargs.get("x")})


@pytest.fixture
def both_registries():
    for lib in (mn, muflow):
        lib.registry.register_task(name="mix.square")(_square)
    yield
    for lib in (mn, muflow):
        lib.registry.unregister("mix.square")


def _native_plan(base):
    pipeline = mn.Pipeline(name="mix.p", steps={"s": mn.ForEach(task="mix.square",
                                                                over=lambda s, k: [{"x": 1}, {"x": 2}])})
    return pipeline.build_plan("s", {}, base_prefix=str(base))


def _names_the_mix(error, *fragments):
    text = str(error.value)
    assert isinstance(error.value, TypeError) and "original muflow library" in text, text
    assert "install_as_muflow()" in text and "MUFLOW_NATIVE_AS_MUFLOW=1" in text, text
    for fragment in fragments:
        assert fragment in text, text


def test_a_muflow_plan_given_to_submit_plan(tmp_path, both_registries):
    theirs = muflow.TaskPlan.from_json(_native_plan(tmp_path).to_json())
    with pytest.raises(TypeError) as error:
        mn.LocalBackend(str(tmp_path)).submit_plan(theirs)
    _names_the_mix(error, "LocalBackend.submit_plan", "muflow.plan.TaskPlan")


def test_a_muflow_pipeline_given_to_run_plan_locally(tmp_path, both_registries):
    pipeline = muflow.Pipeline(name="mix.p", steps={"s": muflow.Step(task="mix.square")})
    with pytest.raises(TypeError) as error:
        mn.run_plan_locally(pipeline, "s", {}, tmp_path)
    _names_the_mix(error, "run_plan_locally", "muflow.pipeline.Pipeline")


@pytest.mark.parametrize("step", [lambda: muflow.Step(task="mix.square"),
                                  lambda: muflow.ForEach(task="mix.square", over=lambda s, k: [{}])],
                         ids=["Step", "ForEach"])
def test_muflow_steps_in_a_native_pipeline(step):
    pipeline = mn.Pipeline(name="mix.p", steps={"s": step()})
    with pytest.raises(TypeError) as error:
        pipeline.build_plan("s", {})
    _names_the_mix(error, "Pipeline 'mix.p'")


def test_muflow_registry_given_to_local_backend(tmp_path):
    with pytest.raises(TypeError) as error:
        mn.LocalBackend(str(tmp_path), registry_get=muflow.registry.get)
    _names_the_mix(error, "registry_get", "muflow.registry.get")


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_a_registry_lookup_returning_a_muflow_task_entry(tmp_path, both_registries, processes):
    """Raised from submit_plan as the TypeError it is, not as a failed node."""
    backend = mn.LocalBackend(str(tmp_path), registry_get=lambda name: muflow.registry.get(name), processes=processes)
    with pytest.raises(TypeError) as error:
        backend.submit_plan(_native_plan(tmp_path))
    _names_the_mix(error, "the task lookup of 'mix.square'", "muflow.registry.TaskEntry")
    assert isinstance(error.value, MixedLibrariesError)


def test_a_task_registered_only_with_muflow(tmp_path, both_registries):
    plan = _native_plan(tmp_path)
    mn.registry.unregister("mix.square")
    try:
        with pytest.raises(TypeError) as error:
            mn.LocalBackend(str(tmp_path)).submit_plan(plan)
    finally:
        mn.registry.register_task(name="mix.square")(_square)
    text = str(error.value)
    assert "task 'mix.square' is registered with the original muflow library, not with muflow_native" in text
    assert "install_as_muflow()" in text


def test_a_task_registered_nowhere_is_the_missing_task_error(tmp_path, both_registries):
    plan = _native_plan(tmp_path)
    for lib in (mn, muflow):
        lib.registry.unregister("mix.square")
    try:
        with pytest.raises(RuntimeError, match="'mix.square' .* not registered|not registered: 'mix.square'") as error:
            mn.LocalBackend(str(tmp_path)).submit_plan(plan)
        assert not isinstance(error.value, TypeError)
    finally:
        for lib in (mn, muflow):
            lib.registry.register_task(name="mix.square")(_square)


def test_the_readme_example_of_the_switch_runs(tmp_path):
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    blocks = [block for block in re.findall(r"```py\n(.*?)```", readme, re.S) if "install_as_muflow()" in block]
    assert len(blocks) == 1
    result = _python(blocks[0] + "\nprint('ran')\n", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ran"]
