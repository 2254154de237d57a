"""CeleryBackend on a real redis-server and real celery workers (threads and prefork
pools), in level mode (muflow's) and dependency mode, with a shared directory as
storage.

One Redis and one worker per pool serve the module; tests that kill or restart
something start their own."""

import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("celery")

import muflow_native as mf  # noqa: E402
from muflow_native import ForEach, Pipeline, PlanHandle, Step  # noqa: E402
from muflow_native.backends.callbacks import CeleryCompletionCallback, LoggingCompletionCallback  # noqa: E402

from celery_services import TESTS, RedisServer, Worker  # noqa: E402
from seed_pipelines import ml_pipeline  # noqa: E402

MODES = ["levels", "dependencies"]
ENDED = ("success", "failure")


@pytest.fixture(scope="module")
def redis_server():
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def app(redis_server):
    os.environ["MUFLOW_TEST_REDIS"] = redis_server.url
    sys.path.insert(0, str(TESTS))
    module = importlib.import_module("celery_worker_app")
    PlanHandle.configure_celery(module.app)
    yield module.app
    module.app.close()


@pytest.fixture(scope="module")
def run_log(tmp_path_factory):
    return tmp_path_factory.mktemp("celery-log") / "runs.log"


@pytest.fixture(scope="module", params=["threads", "prefork"])
def worker(request, redis_server, app, run_log, tmp_path_factory):
    os.environ["MUFLOW_TEST_WORKER_LOGS"] = str(tmp_path_factory.mktemp("worker-logs"))
    process = Worker(redis_server.url, pool=request.param, log=str(run_log))
    try:
        process.wait_ready(app)
        yield process
    finally:
        process.stop()


def executions(run_log: Path, under: Path) -> list[str]:
    """The node directories under `under` whose task ran, once per execution."""
    if not run_log.exists():
        return []
    return [line for line in run_log.read_text().splitlines() if line.startswith(str(under))]


def wait_ended(handle, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = handle.get_state()
        if state in ENDED:
            return state
        time.sleep(0.05)
    raise AssertionError(f"plan {handle.plan_id} still {handle.get_state()!r} after {timeout} s")


def single_pipeline():
    return Pipeline(name="ct.single", steps={"only": Step(task="celery_test.record")})


def fan_pipeline(task="celery_test.noop", name="ct.fan"):
    """n nodes of `task`, joined by the pipeline's sentinel root (n + 1 nodes)."""
    return Pipeline(name=name, steps={"each": ForEach(task=task, over=lambda s, k: [{"i": i} for i in range(k["n"])])})


def chain_pipeline():
    """Three recording nodes, then a flaky one, then a node after it and one beside it."""
    return Pipeline(name="ct.chain", steps={
        "first": ForEach(task="celery_test.record", over=lambda s, k: [{"i": i} for i in range(3)]),
        "flaky": Step(task="celery_test.flaky", after=["first"]),
        "after_flaky": Step(task="celery_test.sleep", after=["flaky"]),
        "beside": Step(task="celery_test.record", after=["first"]),
    })


def manifests(base: Path, handle) -> dict[str, bool]:
    return {key: (base / prefix / "manifest.json").exists() for key, prefix in handle.node_prefixes.items()}


# -- Plans run to the end -------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_one_node(worker, app, tmp_path, run_log, mode):
    backend = mf.CeleryBackend(app, shared_directory=str(tmp_path), mode=mode)
    plan = single_pipeline().build_plan("subject:1", {"x": 1})
    assert len(plan.nodes) == 1
    handle = backend.submit_plan(plan)
    assert (handle.backend, handle.storage_type, handle.storage_config) == ("celery", "local", {"path": str(tmp_path)})
    assert wait_ended(handle) == "success"
    assert backend.get_plan_state(handle.plan_id) == "success"
    node = plan.nodes[plan.root_key]
    value = json.loads((tmp_path / node.storage_prefix / "value.json").read_text())
    assert value == {"kwargs": {"x": 1}, "inputs": {}}
    assert handle.get_progress().is_complete
    assert executions(run_log, tmp_path) == [str(tmp_path / node.storage_prefix)]


@pytest.mark.parametrize("mode", MODES)
def test_ml_pipeline_outputs_match_a_local_run(worker, app, tmp_path, mode):
    plan = ml_pipeline(mf).build_plan("experiment:1", {"datasets": ["dataset_a", "dataset_b", "dataset_c"]})
    assert len(plan.nodes) == 11
    handle = mf.CeleryBackend(app, shared_directory=str(tmp_path / "celery"), mode=mode).submit_plan(plan)
    assert wait_ended(handle) == "success"
    local = tmp_path / "local"
    local.mkdir()
    cwd = os.getcwd()
    os.chdir(local)
    try:
        mf.LocalBackend(str(local)).submit_plan(plan)
    finally:
        os.chdir(cwd)
    compared = 0
    for node in plan.nodes.values():
        ours, theirs = tmp_path / "celery" / node.storage_prefix, local / node.storage_prefix
        assert (ours / "manifest.json").exists()
        names = {p.name for p in theirs.iterdir()} - {"manifest.json"}
        assert {p.name for p in ours.iterdir()} - {"manifest.json"} == names
        for name in names - {"context.json"}:
            assert (ours / name).read_bytes() == (theirs / name).read_bytes(), (node.function, name)
            compared += 1
    assert compared >= 10
    assert handle.get_progress().completed == 11


@pytest.mark.parametrize("mode", MODES)
def test_thousand_nodes(worker, app, tmp_path, mode):
    plan = fan_pipeline().build_plan("subject:1", {"n": 999})
    assert len(plan.nodes) == 1000
    backend = mf.CeleryBackend(app, shared_directory=str(tmp_path), mode=mode)
    handle = backend.submit_plan(plan)
    assert wait_ended(handle, timeout=300) == "success"
    assert all(manifests(tmp_path, handle).values())
    assert handle.get_progress().completed == 1000
    # Submitted again: everything is cached; dependency mode queues nothing at all.
    again = backend.submit_plan(plan)
    if mode == "dependencies":
        assert again.get_state() == "success"
        assert app.backend.client.llen("default") == 0
    assert wait_ended(again) == "success"


# -- Failures ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_failure_then_resubmission_runs_only_what_failed(worker, app, tmp_path, run_log, mode):
    flag = tmp_path / "fail"
    flag.write_text("")
    shared = tmp_path / "shared"
    plan = chain_pipeline().build_plan("subject:1", {"fail_while": str(flag)})
    backend = mf.CeleryBackend(app, shared_directory=str(shared), mode=mode)
    handle = backend.submit_plan(plan)
    assert wait_ended(handle) == "failure"
    by_function = {}
    for node in plan.nodes.values():
        by_function.setdefault(node.function, []).append(node)
    (flaky,) = by_function["celery_test.flaky"]
    error = json.loads((shared / flaky.storage_prefix / "error.json").read_text())
    assert error["error_message"] == "told to fail"
    assert error["partial_manifest"] == {"files": ["context.json", "partial.txt"]}
    (after,) = by_function["celery_test.sleep"]
    assert after.depends_on == [flaky.key] and not (shared / after.storage_prefix).exists()
    first = [n for n in by_function["celery_test.record"] if "i" in n.kwargs]
    assert all((shared / n.storage_prefix / "manifest.json").exists() for n in first)
    ran_before = executions(run_log, shared)

    flag.unlink()
    handle = backend.submit_plan(plan)
    assert wait_ended(handle) == "success"
    ran_again = executions(run_log, shared)[len(ran_before):]
    assert str(shared / flaky.storage_prefix) in ran_again
    assert not {str(shared / n.storage_prefix) for n in first} & set(ran_again)
    assert all(manifests(shared, handle).values())


def test_unknown_task_fails_the_plan_with_a_value_error(worker, app, tmp_path):
    """(An unregistered root is a pipeline's sentinel, a built-in no-op, as in local runs.)"""
    plan = Pipeline(name="ct.unknown", steps={"x": Step(task="celery_test.not_registered"),
                                              "y": Step(task="celery_test.record", after=["x"])}).build_plan("s:1", {})
    unknown = [node.function for node in plan.nodes.values()].index("celery_test.not_registered")
    for mode in MODES:
        handle = mf.CeleryBackend(app, shared_directory=str(tmp_path / mode), mode=mode).submit_plan(plan)
        assert wait_ended(handle) == "failure"
        assert not (tmp_path / mode / plan.root_key).exists()
        node_result = app.AsyncResult(f"{handle.plan_id}-{unknown}")
        if mode == "levels":
            node_result.get(timeout=10, propagate=False)
            assert isinstance(node_result.result, ValueError)
            assert str(node_result.result) == "Unknown task: celery_test.not_registered"
        else:
            assert "Unknown task: celery_test.not_registered" in str(app.AsyncResult(handle.plan_id).result)


# -- Completion callbacks --------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_celery_completion_callback(worker, app, tmp_path, mode):
    client = app.backend.client
    client.delete("muflow-test:completed")
    plan = single_pipeline().build_plan("subject:callback", {"mode": mode})
    callback = CeleryCompletionCallback(app, "celery_test.completed", queue="callbacks")
    handle = mf.CeleryBackend(app, shared_directory=str(tmp_path), mode=mode).submit_plan(plan, callback)
    assert wait_ended(handle) == "success"
    deadline = time.monotonic() + 30
    while client.llen("muflow-test:completed") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.lrange("muflow-test:completed", 0, -1) == [f"{plan.root_key}|True|None".encode()]


def test_a_callback_that_is_not_celerys_is_a_type_error(app, tmp_path):
    backend = mf.CeleryBackend(app, shared_directory=str(tmp_path))
    with pytest.raises(TypeError, match="CeleryCompletionCallback"):
        backend.submit_plan(single_pipeline().build_plan("s:1", {}), LoggingCompletionCallback())


# -- State from another process, cancel ------------------------------------------------


@pytest.fixture
def probe(redis_server):
    process = subprocess.Popen([sys.executable, str(TESTS / "celery_state_probe.py")], cwd=str(TESTS),
                               env=dict(os.environ, MUFLOW_TEST_REDIS=redis_server.url, PYTHONPATH=str(TESTS)),
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(handle, command="state"):
        process.stdin.write(f"{command} {handle.to_json()}\n")
        process.stdin.flush()
        return process.stdout.readline().strip()

    yield ask
    process.stdin.close()
    process.wait(30)


@pytest.mark.parametrize("mode", MODES)
def test_state_from_another_process(worker, app, redis_server, tmp_path, run_log, probe, mode):
    """Nodes of queue "isolated" wait for a worker of their own: pending, then running,
    then success; a failing plan; a cancelled plan, whose nodes never run."""
    shared = tmp_path / "shared"
    plan = slow_pipeline().build_plan("subject:1", {"seconds": 1.5})
    backend = mf.CeleryBackend(app, shared_directory=str(shared), mode=mode)
    handle = backend.submit_plan(plan)
    time.sleep(0.5)
    assert probe(handle) == "pending"
    isolated = Worker(redis_server.url, pool=worker_pool(worker), log=str(run_log), queues="isolated")
    try:
        isolated.wait_ready(app)
        deadline = time.monotonic() + 30
        while probe(handle) == "pending" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert probe(handle) == "running"
        assert wait_ended(handle) == "success"
        assert probe(handle) == "success"

        flag = tmp_path / "fail"
        flag.write_text("")
        failing = backend.submit_plan(chain_pipeline().build_plan("subject:1", {"fail_while": str(flag)}))
        assert wait_ended(failing) == "failure"
        assert probe(failing) == "failure"
    finally:
        isolated.stop()

    cancelled = backend.submit_plan(slow_pipeline().build_plan("subject:1", {"seconds": 0.1}))
    assert probe(cancelled) == "pending"
    assert probe(cancelled, "cancel") == "cancelled"
    assert probe(cancelled) == "failure"
    before = executions(run_log, shared)
    isolated = Worker(redis_server.url, pool=worker_pool(worker), log=str(run_log), queues="isolated")
    try:
        isolated.wait_ready(app)
        time.sleep(1.0)
    finally:
        isolated.stop()
    assert executions(run_log, shared) == before
    assert cancelled.get_state() == "failure"


def slow_pipeline():
    return Pipeline(name="ct.slow", steps={
        "slow": Step(task="celery_test.record_slowly"),
        "next": Step(task="celery_test.record", after=["slow"]),
    })


def worker_pool(worker) -> str:
    return "prefork" if "prefork" in " ".join(worker.process.args) else "threads"


# -- Crashes and restarts ---------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_worker_killed_mid_plan_then_resubmitted(worker, app, redis_server, tmp_path, run_log, mode):
    """A worker of queue "isolated" is killed with SIGKILL while nodes run; the plan
    submitted again completes on a new worker, and no node that had finished runs
    again."""
    shared = tmp_path / "shared"
    plan = Pipeline(name="ct.killed", steps={
        "each": ForEach(task="celery_test.record_slowly", over=lambda s, k: [{"i": i, "seconds": 0.4} for i in range(8)]),
        "join": Step(task="celery_test.record_slowly", after=["each"]),
    }).build_plan("subject:1", {})
    backend = mf.CeleryBackend(app, shared_directory=str(shared), mode=mode)
    first = Worker(redis_server.url, pool=worker_pool(worker), log=str(run_log), queues="isolated")
    first.wait_ready(app)
    handle = backend.submit_plan(plan)
    deadline = time.monotonic() + 60
    while sum(manifests(shared, handle).values()) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    first.kill()
    done_before = {key for key, done in manifests(shared, handle).items() if done}
    assert 3 <= len(done_before) < len(plan.nodes)
    stamps = {key: (shared / handle.node_prefixes[key] / "manifest.json").stat().st_mtime_ns for key in done_before}

    again = backend.submit_plan(plan)
    assert handle.get_state() == "failure"  # superseded by the new run
    second = Worker(redis_server.url, pool=worker_pool(worker), log=str(run_log), queues="isolated")
    try:
        second.wait_ready(app)
        assert wait_ended(again) == "success"
    finally:
        second.stop()
    assert all(manifests(shared, again).values())
    for key in done_before:
        assert (shared / again.node_prefixes[key] / "manifest.json").stat().st_mtime_ns == stamps[key]
    ran = executions(run_log, shared)
    for key, prefix in again.node_prefixes.items():
        count = ran.count(str(shared / prefix))
        if key in done_before:
            assert count == 1, key
        elif plan.nodes[key].function == "celery_test.record_slowly":
            assert 1 <= count <= 2, key  # at most once more than the attempt that was killed
        value = json.loads((shared / prefix / "value.json").read_text()) if (shared / prefix / "value.json").exists() else None
        if plan.nodes[key].function == "celery_test.record_slowly":
            assert value["kwargs"] == plan.nodes[key].kwargs


@pytest.mark.parametrize("mode", MODES)
def test_redis_restarted_between_plans(worker, app, redis_server, tmp_path, mode):
    backend = mf.CeleryBackend(app, shared_directory=str(tmp_path), mode=mode)
    first = backend.submit_plan(single_pipeline().build_plan("subject:1", {"restart": mode}))
    assert wait_ended(first) == "success"
    redis_server.restart()
    plan = fan_pipeline(task="celery_test.record").build_plan("subject:2", {"n": 3, "restart": mode})
    deadline = time.monotonic() + 60
    while True:  # the first calls after the restart may meet the old connections
        try:
            second = backend.submit_plan(plan)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert wait_ended(second) == "success"
    assert all(manifests(tmp_path, second).values())


# -- muflow's internals that suites call -----------------------------------------------


def test_levels_and_node_messages_as_muflow_builds_them(app, tmp_path):
    import muflow

    from muflow.backends.celery import CeleryBackend as MuflowCeleryBackend

    kwargs = {"datasets": ["dataset_a", "dataset_b", "dataset_c"]}
    plan = ml_pipeline(mf).build_plan("experiment:1", kwargs)
    theirs = ml_pipeline(muflow).build_plan("experiment:1", kwargs)
    ours_backend = mf.CeleryBackend(app, "bucket")
    their_backend = MuflowCeleryBackend(app, "bucket")
    ours_levels = ours_backend._compute_levels(plan)
    their_levels = their_backend._compute_levels(theirs)
    assert [sorted(n.key for n in level) for level in ours_levels] == \
        [sorted(n.key for n in level) for level in their_levels]
    for level in ours_levels:
        for node in level:
            ours = ours_backend._make_node_task(node, plan)
            their = their_backend._make_node_task(theirs.nodes[node.key], theirs)
            assert ours.task == their.task == "muflow.execute_node"
            assert ours.args == their.args
            assert ours.immutable
    canvas = ours_backend._build_celery_task(ours_levels, plan)
    assert type(canvas).__name__ == type(their_backend._build_celery_task(their_levels, theirs)).__name__ == "_chord"


def test_node_messages_go_to_the_queue_the_task_was_registered_with(app):
    plan = single_pipeline().build_plan("s:1", {})
    signature = mf.CeleryBackend(app, "bucket")._make_node_task(plan.nodes[plan.root_key], plan)
    assert signature.options["queue"] == "records"


def test_storage_and_mode_are_checked(app, tmp_path):
    with pytest.raises(ValueError, match="either a bucket"):
        mf.CeleryBackend(app, "bucket", shared_directory=str(tmp_path))
    with pytest.raises(ValueError, match="bucket .* or a shared_directory is required"):
        mf.CeleryBackend(app)
    with pytest.raises(ValueError, match="Unknown mode 'fast'"):
        mf.CeleryBackend(app, "bucket", mode="fast")


def test_handle_records_the_storage_and_its_progress_checker_follows_it(worker, app, tmp_path):
    handle = mf.CeleryBackend(app, shared_directory=str(tmp_path), mode="dependencies").submit_plan(
        single_pipeline().build_plan("subject:progress", {}))
    assert wait_ended(handle) == "success"
    restored = PlanHandle.from_json(handle.to_json())
    assert restored.storage_config == {"path": str(tmp_path)}
    cwd = os.getcwd()
    os.chdir("/")  # relative prefixes are read under the recorded directory, not here
    try:
        assert restored.get_progress().is_complete
    finally:
        os.chdir(cwd)
