"""The `muflow` command: run (progress, summary, cache, failures), plan show/graph, status,
and one-line errors for bad arguments. Most runs go through a subprocess
(`python -m muflow_native`), as a user would; argument errors run in-process too."""

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import muflow_native
from muflow_native.examples import ml_task
from muflow_native.backends.base import RunSnapshot
from muflow_native.backends.handle import PlanHandle
from muflow_native.cli import main as cli
from muflow_native.cli import graph as cli_graph
from muflow_native.cli.progress import (
    LiveBar,
    PlainLines,
    eta,
    format_duration,
    make_display,
    render_bar,
    render_line,
)

ML = "muflow_native.examples.ml_task:ml_pipeline"
ML_KWARGS = json.dumps({"datasets": ["dataset_a", "dataset_b", "dataset_c"]})
PACKAGE_ROOT = str(Path(muflow_native.__file__).resolve().parent.parent)

FIXTURE_MODULE = textwrap.dedent(
    '''
    """Pipelines for test_cli.py."""
    from muflow_native import ForEach, Pipeline, Step, register_task

    @register_task(name="clitest.noop")
    def noop(context):
        context.save_json("out.json", {"i": context.kwargs.get("i")})

    @register_task(name="clitest.gather")
    def gather(context):
        context.save_json("count.json", {"n": len(context.dependency_keys())})

    @register_task(name="clitest.boom")
    def boom(context):
        raise ValueError("boom: the input is bad")

    def fan_out(subject, kwargs):
        return [{"i": i} for i in range(kwargs.get("n", 3))]

    fanout = Pipeline(name="clitest.fanout", steps={
        "items": ForEach(task="clitest.noop", over=fan_out),
        "gather": Step(task="clitest.gather", after=["items"]),
    })

    failing = Pipeline(name="clitest.failing", steps={
        "items": ForEach(task="clitest.noop", over=fan_out),
        "bad": Step(task="clitest.boom", after=["items"]),
        "after_bad": Step(task="clitest.gather", after=["bad"]),
        "other": Step(task="clitest.noop", after=["items"], kwargs_map=lambda subject, kwargs: {"i": 99}),
        "last": ForEach(task="clitest.gather", after=["after_bad", "other"],
                        over=lambda subject, kwargs: [{"part": 1}, {"part": 2}]),
    })

    @register_task(name="clitest.talk")
    def talk(context):
        context.report_progress(1, 2, f"halfway through {context.kwargs.get('i')}")
        context.save_json("out.json", {"i": context.kwargs.get("i")})

    talking = Pipeline(name="clitest.talking", steps={
        "items": ForEach(task="clitest.talk", over=fan_out),
        "gather": Step(task="clitest.gather", after=["items"]),
    })

    not_a_pipeline = 42
    '''
)


@pytest.fixture(scope="module")
def fixture_dir(tmp_path_factory):
    """A directory on sys.path (here and in the subprocesses) with the test pipelines
    (module muflow_cli_fixture) and a module that fails on import."""
    directory = tmp_path_factory.mktemp("cli_modules")
    (directory / "muflow_cli_fixture.py").write_text(FIXTURE_MODULE)
    (directory / "muflow_cli_broken.py").write_text("raise RuntimeError('this module is broken')\n")
    sys.path.insert(0, str(directory))
    yield directory
    sys.path.remove(str(directory))


def _env(extra_path=None):
    env = dict(os.environ)
    paths = [PACKAGE_ROOT] + ([str(extra_path)] if extra_path else [])
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.pop("COLUMNS", None)
    return env


def muflow(*args, cwd=None, path=None, timeout=120):
    """`python -m muflow_native ARGS` in a subprocess (stdout a pipe, not a tty)."""
    return subprocess.run(
        [sys.executable, "-m", "muflow_native", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, env=_env(path), timeout=timeout,
    )


def _nodes_line(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if line.strip().startswith("nodes:"))


def _error_lines(stderr: str) -> list:
    return [line for line in stderr.splitlines() if line.strip()]


# ── muflow run ──────────────────────────────────────────────────────────────


def test_seed_ml_pipeline_runs_then_is_cached(tmp_path):
    out = tmp_path / "out"
    first = muflow("run", ML, "--subject", "experiment:1", "--kwargs", ML_KWARGS, "--output", out)
    assert first.returncode == 0, first.stderr
    assert "11 total, 11 ran, 0 cached, 0 failed, 0 skipped" in _nodes_line(first.stdout)
    plan = ml_task.ml_pipeline.build_plan(
        "experiment:1", json.loads(ML_KWARGS), base_prefix=str(out.absolute()))
    root = plan.nodes[plan.root_key].storage_prefix
    assert f"result:  {root}" in first.stdout and f"output:  {out.absolute()}" in first.stdout
    assert (Path(root) / "manifest.json").exists()
    assert all((Path(n.storage_prefix) / "manifest.json").exists() for n in plan.nodes.values())
    assert first.stderr == ""

    second = muflow("run", ML, "--subject", "experiment:1", "--kwargs", ML_KWARGS, "--output", out)
    assert second.returncode == 0, second.stderr
    assert "11 total, 0 ran, 11 cached" in _nodes_line(second.stdout)


def test_output_without_a_tty_is_plain_lines(tmp_path, fixture_dir):
    result = muflow("run", "muflow_cli_fixture:fanout", "--subject", "s:1", "--kwargs", '{"n": 401}',
                    "--output", tmp_path, "--workers", "2", path=fixture_dir)
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stdout and "\x1b" not in result.stdout
    progress = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert progress and progress[-1].startswith("[100%] 402/402 nodes done")
    # modest: a line per tenth at most, plus the first and last
    assert len(progress) <= 12
    assert "402 total, 402 ran" in _nodes_line(result.stdout)


def test_quiet_prints_only_the_result_directory(tmp_path):
    result = muflow("run", ML, "--subject", "experiment:1", "--kwargs", ML_KWARGS, "--output", tmp_path, "-q")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(str(tmp_path.absolute()) + "/ml.full_pipeline/")


@pytest.mark.parametrize("mode", [[], ["--processes", "--workers", "2"]], ids=["threads", "processes"])
def test_quiet_keeps_task_progress_off_stdout(tmp_path, fixture_dir, mode):
    result = muflow("run", "muflow_cli_fixture:talking", "--subject", "s:talk", "--kwargs", '{"n": 3}',
                    "--output", tmp_path, "-q", *mode, path=fixture_dir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(str(tmp_path.absolute()) + "/clitest.gather/")
    reports = sorted(line for line in result.stderr.splitlines() if "halfway" in line)
    assert reports == [f"  [ 50.0%] halfway through {i}" for i in range(3)]


def test_task_progress_goes_to_stderr_beside_the_summary(tmp_path, fixture_dir):
    result = muflow("run", "muflow_cli_fixture:talking", "--subject", "s:talk", "--output", tmp_path,
                    path=fixture_dir)
    assert result.returncode == 0, result.stderr
    assert "halfway" not in result.stdout and result.stderr.count("halfway through") == 3
    assert "4 total, 4 ran" in _nodes_line(result.stdout)


def test_kwargs_from_a_file_workers_and_processes(tmp_path):
    kwargs_file = tmp_path / "kwargs.json"
    kwargs_file.write_text(ML_KWARGS)
    result = muflow("run", ML, "--subject", "experiment:1", "--kwargs", f"@{kwargs_file}", "--output",
                    tmp_path / "out", "--workers", "2", "--processes")
    assert result.returncode == 0, result.stderr
    assert "11 total, 11 ran" in _nodes_line(result.stdout)
    reports = sorted(p.name for p in (tmp_path / "out" / "ml.generate_report").glob("*/report.*"))
    assert reports == ["report.csv", "report.pdf", "report.xlsx"]


def test_a_failing_task_exits_1_with_one_error_line(tmp_path, fixture_dir):
    result = muflow("run", "muflow_cli_fixture:failing", "--subject", "s:1", "--output", tmp_path,
                    "--workers", "1", path=fixture_dir)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = _error_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("muflow: error: node clitest.boom [")
    assert "ValueError: boom: the input is bad" in lines[0] and "error.json" in lines[0]
    assert "9 total, 3 ran, 0 cached, 1 failed, 5 skipped" in _nodes_line(result.stdout)  # "other" too
    assert "not complete" in result.stdout

    verbose = muflow("run", "muflow_cli_fixture:failing", "--subject", "s:1", "--output", tmp_path,
                     "--verbose", path=fixture_dir)
    assert verbose.returncode == 1
    assert "Traceback" in verbose.stderr and 'raise ValueError("boom: the input is bad")' in verbose.stderr


def test_continue_on_failure_runs_the_independent_branch(tmp_path, fixture_dir):
    base = ["run", "muflow_cli_fixture:failing", "--subject", "s:2", "--output", tmp_path, "--workers", "1"]
    result = muflow(*base, "--continue-on-failure", path=fixture_dir)
    assert result.returncode == 1
    assert len(_error_lines(result.stderr)) == 1
    # 3 items and "other" ran; "bad" failed; after_bad, last x2 and the root were skipped
    assert "9 total, 4 ran, 0 cached, 1 failed, 4 skipped" in _nodes_line(result.stdout)


def test_module_in_the_current_directory_and_by_path(tmp_path, fixture_dir):
    by_name = muflow("run", "muflow_cli_fixture:fanout", "--subject", "s:1", "--output", tmp_path / "a",
                     cwd=fixture_dir)
    assert by_name.returncode == 0, by_name.stderr
    by_path = muflow("run", f"{fixture_dir}/muflow_cli_fixture.py:fanout", "--subject", "s:1",
                     "--output", tmp_path / "b")
    assert by_path.returncode == 0, by_path.stderr
    assert "4 total, 4 ran" in _nodes_line(by_path.stdout)


def test_run_in_process(tmp_path, capsys):
    code = cli.main(["run", ML, "--subject", "experiment:1", "--kwargs", ML_KWARGS, "--output", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "11 total, 11 ran" in _nodes_line(captured.out)
    assert cli.main(["run", ML, "--subject", "experiment:1", "--kwargs", ML_KWARGS, "--output", str(tmp_path)]) == 0
    assert "11 total, 0 ran, 11 cached" in _nodes_line(capsys.readouterr().out)


# ── bad arguments: one line, exit 2, no traceback ───────────────────────────

BAD_ARGUMENTS = {
    "unknown module": (["run", "no_such_module_xyz:p", "--subject", "s", "--output", "{out}"],
                       "no module named 'no_such_module_xyz'"),
    "missing attribute": (["run", "muflow_cli_fixture:nope", "--subject", "s", "--output", "{out}"],
                          "has no attribute 'nope'"),
    "not a pipeline": (["run", "muflow_cli_fixture:not_a_pipeline", "--subject", "s", "--output", "{out}"],
                       "not a muflow_native Pipeline"),
    "no colon": (["run", "muflow_cli_fixture", "--subject", "s", "--output", "{out}"], "MODULE:PIPELINE"),
    "module fails on import": (["run", "muflow_cli_broken:p", "--subject", "s", "--output", "{out}"],
                               "RuntimeError: this module is broken"),
    "missing module file": (["run", "no/such/file.py:p", "--subject", "s", "--output", "{out}"], "no such file"),
    "malformed kwargs": (["run", ML, "--subject", "s", "--kwargs", '{"datasets": [1,}', "--output", "{out}"],
                         "invalid JSON: Expecting value at line 1, column 17 (char 16)"),
    "missing kwargs file": (["run", ML, "--subject", "s", "--kwargs", "@/no/such/kwargs.json", "--output", "{out}"],
                            "no such file: '/no/such/kwargs.json'"),
    "kwargs not an object": (["run", ML, "--subject", "s", "--kwargs", "[1, 2]", "--output", "{out}"],
                             "must be a JSON object, not an array"),
    "workers zero": (["run", ML, "--subject", "s", "--kwargs", ML_KWARGS, "--output", "{out}", "--workers", "0"],
                     "must be at least 1"),
    "workers negative": (["run", ML, "--subject", "s", "--output", "{out}", "--workers", "-3"], "must be at least 1"),
    "workers not a number": (["run", ML, "--subject", "s", "--output", "{out}", "--workers", "many"],
                             "must be a whole number"),
    "missing subject": (["run", ML, "--output", "{out}"], "--subject"),
    "missing output": (["run", ML, "--subject", "s"], "--output"),
    "output is a file": (["run", ML, "--subject", "s", "--kwargs", ML_KWARGS, "--output", "{file}"],
                         "is not a directory"),
    "plan cannot be built": (["run", ML, "--subject", "s", "--kwargs", "{}", "--output", "{out}"],
                             "KeyError: 'datasets'"),
    "no command": ([], "required"),
    "unknown command": (["frobnicate"], "invalid choice"),
    "graph format": (["plan", "graph", ML, "--subject", "s", "--kwargs", ML_KWARGS, "--format", "png"],
                     "invalid choice"),
    "status malformed": (["status", '{"backend": "local",'], "invalid JSON"),
    "status not a handle": (["status", '{"backend": "local"}'], "not a valid PlanHandle"),
    "status missing file": (["status", "@/no/such/handle.json"], "no such file"),
}


@pytest.mark.parametrize("case", sorted(BAD_ARGUMENTS))
def test_bad_arguments_in_process(case, tmp_path, fixture_dir, capsys):
    argv, expected = BAD_ARGUMENTS[case]
    (tmp_path / "a_file").write_text("x")
    argv = [a.replace("{out}", str(tmp_path / "out")).replace("{file}", str(tmp_path / "a_file")) for a in argv]
    code = cli.main(argv)
    captured = capsys.readouterr()
    assert code == 2, (case, captured)
    lines = _error_lines(captured.err)
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("muflow: error: ") and expected in lines[0], lines[0]
    assert "Traceback" not in captured.err + captured.out
    assert not (tmp_path / "out").exists()  # nothing is created before the arguments are checked


@pytest.mark.parametrize("case", ["unknown module", "malformed kwargs", "workers zero", "module fails on import",
                                  "status missing file"])
def test_bad_arguments_in_a_subprocess(case, tmp_path, fixture_dir):
    argv, expected = BAD_ARGUMENTS[case]
    argv = [a.replace("{out}", str(tmp_path / "out")).replace("{file}", str(tmp_path)) for a in argv]
    result = muflow(*argv, path=fixture_dir)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = _error_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("muflow: error: ") and expected in lines[0]


def test_help_and_version():
    result = muflow("--help")
    assert result.returncode == 0 and "run" in result.stdout and "status" in result.stdout
    result = muflow("run", "--help")
    assert result.returncode == 0 and "--continue-on-failure" in result.stdout
    result = muflow("--version")
    assert result.returncode == 0 and muflow_native.__version__ in result.stdout


# ── muflow plan show / graph ────────────────────────────────────────────────


def test_plan_show(tmp_path, capsys):
    assert cli.main(["plan", "show", ML, "--subject", "experiment:1", "--kwargs", ML_KWARGS,
                     "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    plan = ml_task.ml_pipeline.build_plan(
        "experiment:1", json.loads(ML_KWARGS), base_prefix=str(tmp_path.absolute()))
    assert "Nodes:     11" in out and f"Root:      {plan.root_key}" in out
    assert re.search(r"features\s+ml\.compute_features\s+3", out)
    assert re.search(r"reports\s+ml\.generate_report\s+3", out)
    assert re.search(r"\(root\)\s+ml\.full_pipeline\s+built-in\s+1", out)
    assert "NOT REGISTERED" not in out and "Warning" not in out
    assert "Levels:    4" in out and re.search(r"1\s+4 nodes\s+ml\.train_model x1, ml\.loo_cv x3", out)
    assert "0 complete, 0 failed, 11 not run" in out


def test_plan_show_json_is_the_plan(capsys):
    assert cli.main(["plan", "show", ML, "--subject", "experiment:1", "--kwargs", ML_KWARGS, "--json"]) == 0
    text = capsys.readouterr().out
    plan = muflow_native.TaskPlan.from_json(text)
    expected = ml_task.ml_pipeline.build_plan("experiment:1", json.loads(ML_KWARGS))
    assert plan == expected and text.strip() == expected.to_json()
    assert plan.root_key.startswith("muflow/ml.full_pipeline/")


def test_plan_show_json_reads_in_muflow():
    muflow_original = pytest.importorskip("muflow")
    result = muflow("plan", "show", ML, "--subject", "experiment:1", "--kwargs", ML_KWARGS, "--json")
    assert result.returncode == 0, result.stderr
    assert len(muflow_original.TaskPlan.model_validate_json(result.stdout).nodes) == 11


def _check_dot(text: str) -> None:
    lines = text.strip().splitlines()
    assert lines[0] == "digraph muflow {" and lines[-1] == "}"
    for line in lines[1:-1]:
        line = line.strip()
        assert (line.startswith("//") or re.fullmatch(r"\w+ \[.*\];", line) or line.endswith(";")), line
    assert text.count("{") == text.count("}")


def _check_mermaid(text: str) -> None:
    lines = text.strip().splitlines()
    assert lines[0] in ("flowchart TD", "graph TD")
    for line in lines[1:]:
        line = line.strip()
        assert re.fullmatch(r'%%.*|\w+\["[^"]*"\]|\w+ -->(\|\d+\|)? \w+|classDef \w+ .*;|class [\w,]+ \w+;', line), line


def _graph(fmt, *extra):
    result = muflow("plan", "graph", ML, "--subject", "experiment:1", "--kwargs", ML_KWARGS, "--format", fmt, *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_plan_graph_dot_and_mermaid_before_and_after_a_run(tmp_path):
    dot = _graph("dot")
    _check_dot(dot)
    assert dot.count("label=") == 11 and dot.count(" -> ") == 27
    assert "ml.compute_features\\n" in dot and "(root)" in dot and "fillcolor" not in dot
    mermaid = _graph("mermaid")
    _check_mermaid(mermaid)
    assert mermaid.count('["') == 11 and mermaid.count(" --> ") == 27 and "classDef" not in mermaid

    assert muflow("run", ML, "--subject", "experiment:1", "--kwargs", ML_KWARGS, "--output", tmp_path).returncode == 0
    dot = _graph("dot", "--output", tmp_path)
    _check_dot(dot)
    assert "legend" in dot and dot.count('fillcolor="#c8e6c9"') == 11
    mermaid = _graph("mermaid", "--output", tmp_path)
    _check_mermaid(mermaid)
    assert re.search(r"^  class (n\d+,){10}n\d+ complete;$", mermaid, re.M)

    # one loo_cv node failed (error.json, no manifest), its dependents not run
    plan = ml_task.ml_pipeline.build_plan(
        "experiment:1", json.loads(ML_KWARGS), base_prefix=str(tmp_path.absolute()))
    failed = next(n for n in plan.nodes.values() if n.function == "ml.loo_cv")
    os.remove(os.path.join(failed.storage_prefix, "manifest.json"))
    Path(failed.storage_prefix, "error.json").write_text('{"error_message": "x", "error_traceback": "", '
                                                         '"partial_manifest": {}}')
    for key in failed.depended_on_by:
        os.remove(os.path.join(plan.nodes[key].storage_prefix, "manifest.json"))
    dot = _graph("dot", "--output", tmp_path)
    assert dot.count('fillcolor="#ffcdd2"') == 1 and dot.count('fillcolor="#ffffff"') == 3
    mermaid = _graph("mermaid", "--output", tmp_path)
    assert re.search(r"^  class n\d+ failed;$", mermaid, re.M)
    assert re.search(r"^  class n\d+,n\d+,n\d+ pending;$", mermaid, re.M)


def test_big_plans_are_collapsed_per_step(tmp_path, capsys):
    kwargs = json.dumps({"datasets": [f"d{i}" for i in range(300)]})  # 605 nodes
    assert cli.main(["plan", "graph", ML, "--subject", "e:1", "--kwargs", kwargs, "--format", "mermaid"]) == 0
    mermaid = capsys.readouterr().out
    _check_mermaid(mermaid)
    assert "605 nodes" in mermaid and "collapsed to 5 groups" in mermaid
    assert 'ml.compute_features<br/>x300"' in mermaid and 'ml.loo_cv<br/>x300"' in mermaid
    assert len(mermaid.splitlines()) < 20
    assert cli.main(["plan", "graph", ML, "--subject", "e:1", "--kwargs", kwargs, "--format", "dot",
                     "--output", str(tmp_path)]) == 0
    dot = capsys.readouterr().out
    _check_dot(dot)
    assert "x300\\n0 done" in dot
    assert cli.main(["plan", "graph", ML, "--subject", "e:1", "--kwargs", ML_KWARGS, "--format", "dot",
                     "--collapse", "always"]) == 0
    assert "collapsed to 5 groups" in capsys.readouterr().out


def test_graph_labels_are_escaped():
    class Plan:
        root_key = 'r"oot'

    infos = [cli_graph.NodeInfo('a"b/x/0123456789abcdef', 'fn"<x>', "p", []),
             cli_graph.NodeInfo('r"oot', "root", "p", ['a"b/x/0123456789abcdef'])]
    dot = cli_graph.render_graph(Plan(), "dot", infos=infos, collapse=False)
    assert 'label="fn\\"<x>\\n01234567"' in dot
    mermaid = cli_graph.render_graph(Plan(), "mermaid", infos=infos, collapse=False)
    assert 'n0["fn#quot;#lt;x#gt;<br/>01234567"]' in mermaid


# ── muflow status ───────────────────────────────────────────────────────────


def test_status_of_a_handle_written_by_run(tmp_path, fixture_dir):
    handle = tmp_path / "handle.json"
    out = tmp_path / "out"
    run = muflow("run", "muflow_cli_fixture:fanout", "--subject", "s:1", "--kwargs", '{"n": 30}',
                 "--output", out, "--handle", handle, path=fixture_dir)
    assert run.returncode == 0, run.stderr
    data = json.loads(handle.read_text())
    assert data["backend"] == "local" and len(data["node_prefixes"]) == 31

    status = muflow("status", f"@{handle}")
    assert status.returncode == 0, status.stderr
    assert "Backend:   local" in status.stdout and f"Plan id:   {data['plan_id']}" in status.stdout
    assert "State:     success" in status.stdout and "31/31 nodes complete (100.0%)" in status.stdout
    assert "Incomplete" not in status.stdout

    for prefix in list(data["node_prefixes"].values())[:25]:
        os.remove(os.path.join(prefix, "manifest.json"))
    status = muflow("status", handle.read_text())  # the JSON itself, not @file
    assert status.returncode == cli.EXIT_NOT_FINISHED == 3, status.stderr
    assert "State:     pending" in status.stdout and "6/31 nodes complete (19.4%)" in status.stdout
    assert PlanHandle.from_json(handle.read_text()).get_state() == "pending"  # the library agrees
    listed = [line.strip() for line in status.stdout.splitlines() if line.startswith("  /")]
    assert len(listed) == 20 and listed == list(data["node_prefixes"])[:20]
    assert "... and 5 more" in status.stdout

    as_json = muflow("status", f"@{handle}", "--json")
    assert as_json.returncode == 3
    as_json = json.loads(as_json.stdout)
    assert as_json["completed"] == 6 and as_json["total"] == 31 and len(as_json["incomplete"]) == 25
    assert as_json["state"] == "pending"


def test_status_after_a_failed_run(tmp_path, fixture_dir, capsys):
    handle = tmp_path / "handle.json"
    run = muflow("run", "muflow_cli_fixture:failing", "--subject", "s:3", "--output", tmp_path / "out",
                 "--handle", handle, "--workers", "1", path=fixture_dir)
    assert run.returncode == 1 and handle.exists()
    assert cli.main(["status", f"@{handle}"]) == cli.EXIT_FAILED == 1
    out = capsys.readouterr().out
    assert "State:     failure" in out and "Failed:    1 nodes" in out
    assert PlanHandle.from_json(handle.read_text()).get_state() == "failure"


def test_status_exit_codes_are_documented():
    """Every state get_state() can return has its exit status, and the help says which."""
    assert cli.STATUS_EXIT_CODES == {"success": 0, "failure": 1, "pending": 3, "running": 3}
    documented = " ".join(cli.__doc__.split())
    assert "0 success, 1 failure, 3 pending or running" in documented and "4 unknown" in documented
    help_text = " ".join(muflow("status", "--help").stdout.split())
    assert "0 success, 1 failure, 3 pending or running, 4 unknown" in help_text


def test_status_of_an_unreadable_state_is_unknown(capsys):
    handle = PlanHandle(backend="celery", plan_id="p", node_prefixes={}, storage_type="local", storage_config={})
    assert cli.main(["status", handle.to_json()]) == cli.EXIT_UNKNOWN == 4
    assert "State:     unknown (" in capsys.readouterr().out


# ── the progress display, without a terminal ────────────────────────────────


def snap(total=11, succeeded=0, cached=0, failed=0, skipped=0, running=0, elapsed=0.0):
    return RunSnapshot(total, succeeded, cached, failed, skipped, running, elapsed)


def test_format_duration():
    assert format_duration(0.04) == "0.04s" and format_duration(12.34) == "12.3s"
    assert format_duration(245) == "4m05s" and format_duration(7380) == "2h03m"
    assert format_duration(None) == "--"


def test_eta_counts_only_nodes_that_ran():
    assert eta(snap(succeeded=0, cached=5, elapsed=1.0)) is None
    assert eta(snap(total=10, succeeded=2, cached=4, elapsed=1.0)) == pytest.approx(2.0)
    assert eta(snap(total=10, succeeded=10, elapsed=3.0)) == 0.0


@pytest.mark.parametrize("width", [200, 100, 80, 60, 40, 20, 5])
def test_render_bar_fits_the_width(width):
    line = render_bar(snap(total=1000, succeeded=400, cached=300, failed=2, running=4, elapsed=75.0), width)
    assert len(line) <= width - 1 and "\n" not in line and "\r" not in line
    if width >= 40:
        assert "702/1000" in line and "cached 300" in line and "failed 2" in line
    if width >= 80:
        assert line.startswith("[") and "1m15s" in line and "ETA" in line


def test_render_bar_fill_and_states():
    half = render_bar(snap(total=10, succeeded=5, elapsed=1.0), 120)
    bar = half[1:half.index("]")]
    assert bar.count("#") == bar.count("-") == len(bar) // 2
    assert "5/10" in half and " 50%" in half and "ETA 1.00s" in half
    start = render_bar(snap(total=10), 120)
    assert "#" not in start and "0/10" in start and "ETA --" in start
    done = render_bar(snap(total=10, succeeded=3, cached=6, failed=1, elapsed=2.0), 120)
    assert "ETA" not in done and "100%" in done and "cached 6" in done and "failed 1" in done
    assert "skipped 2" in render_bar(snap(total=10, succeeded=3, skipped=2), 120)


def test_render_line():
    assert render_line(snap(total=11, succeeded=4, cached=3, elapsed=1.0)) == \
        "[ 63%] 7/11 nodes done (3 cached, 0 failed), 1.00s, ETA 1.00s"
    assert render_line(snap(total=11, cached=11, elapsed=0.5)) == "[100%] 11/11 nodes done (11 cached, 0 failed), 0.50s"


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class FakeTty:
    def __init__(self):
        self.text = ""

    def write(self, text):
        self.text += text

    def flush(self):
        pass

    def isatty(self):
        return True


def test_live_bar_redraws_in_place_at_most_ten_times_a_second():
    stream, clock = FakeTty(), FakeClock()
    bar = LiveBar(stream, width_source=lambda: 80, clock=clock)
    for i in range(101):  # 100 snapshots over 2 s
        clock.now = i * 0.02
        bar(snap(total=100, succeeded=i, elapsed=clock.now))
    bar.finish()
    draws = stream.text.count("\r")
    assert 11 <= draws <= 22 and stream.text.endswith("\n") and stream.text.count("\n") == 1
    last = stream.text.rsplit("\r", 1)[1]
    assert "100/100" in last
    assert all(len(part.rstrip("\n")) <= 79 for part in stream.text.split("\r"))


def test_plain_lines_stay_few_for_long_runs():
    stream, clock = FakeTty(), FakeClock()
    lines = PlainLines(stream, clock=clock)
    for i in range(10_001):  # 10,000 nodes over 1,000 s, a snapshot every 0.1 s
        clock.now = i * 0.1
        lines(snap(total=10_000, succeeded=i, elapsed=clock.now))
    lines.finish()
    printed = stream.text.splitlines()
    assert 10 <= len(printed) <= 10 + 1000 / 10 + 2
    assert printed[-1].startswith("[100%] 10000/10000")
    assert "\r" not in stream.text


def test_make_display_picks_by_tty():
    assert isinstance(make_display(FakeTty()), LiveBar)
    assert isinstance(make_display(FakeTty(), live=False), PlainLines)

    class Pipe(FakeTty):
        def isatty(self):
            return False

    assert isinstance(make_display(Pipe()), PlainLines)
    assert type(make_display(FakeTty(), quiet=True)).__name__ == "NullDisplay"
