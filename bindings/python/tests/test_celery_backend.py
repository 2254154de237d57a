"""CeleryBackend on a real redis-server and real celery workers (threads and prefork
pools), in level mode (muflow's) and dependency mode, on a shared directory and on S3
through moto's server over HTTP.

One Redis, one moto server and one worker per pool serve the module; tests that kill
or restart something start their own."""

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
from muflow_native.plan import plan_view  # noqa: E402

from celery_services import TESTS, RedisServer, Worker  # noqa: E402
from seed_pipelines import ml_pipeline  # noqa: E402

MODES = ["levels", "dependencies"]
ENDED = ("success", "failure")


@pytest.fixture(scope="module")
def moto_server():
    from aws_support import MotoServer

    server = MotoServer().start()  # sets AWS_ENDPOINT_URL, which the workers inherit
    yield server
    server.stop()


class SharedDirectory:
    """Storage in a directory every worker sees."""

    def __init__(self, path: Path):
        self.path = path

    def backend(self, app, mode: str):
        return mf.CeleryBackend(app, shared_directory=str(self.path), mode=mode)

    def where(self, prefix: str) -> str:
        return str(self.path / prefix)

    def exists(self, prefix: str, name: str) -> bool:
        return (self.path / prefix / name).exists()

    def read(self, prefix: str, name: str) -> bytes:
        return (self.path / prefix / name).read_bytes()

    def touched(self, prefix: str) -> bool:
        return (self.path / prefix).exists()

    def stamp(self, prefix: str, name: str):
        return (self.path / prefix / name).stat().st_mtime_ns

    def remove(self, prefix: str, name: str) -> None:
        (self.path / prefix / name).unlink()

    def write(self, prefix: str, name: str, data: bytes) -> None:
        (self.path / prefix / name).write_bytes(data)


class Bucket:
    """Storage in an S3 bucket of moto's server."""

    def __init__(self, client, name: str):
        self.client, self.name = client, name
        client.create_bucket(Bucket=name)

    def backend(self, app, mode: str):
        return mf.CeleryBackend(app, self.name, mode=mode)

    def where(self, prefix: str) -> str:
        return f"{self.name}/{prefix}"

    def exists(self, prefix: str, name: str) -> bool:
        return self.client.list_objects_v2(Bucket=self.name, Prefix=f"{prefix}/{name}")["KeyCount"] > 0

    def read(self, prefix: str, name: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=f"{prefix}/{name}")["Body"].read()

    def touched(self, prefix: str) -> bool:
        return self.client.list_objects_v2(Bucket=self.name, Prefix=f"{prefix}/")["KeyCount"] > 0

    def stamp(self, prefix: str, name: str):
        return self.client.head_object(Bucket=self.name, Key=f"{prefix}/{name}")["ETag"] + \
            str(self.client.head_object(Bucket=self.name, Key=f"{prefix}/{name}")["LastModified"])

    def remove(self, prefix: str, name: str) -> None:
        self.client.delete_object(Bucket=self.name, Key=f"{prefix}/{name}")

    def write(self, prefix: str, name: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=f"{prefix}/{name}", Body=data)


_buckets = iter(range(10**6))


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path, moto_server):
    if request.param == "local":
        return SharedDirectory(tmp_path / "shared")
    return Bucket(moto_server.client("s3"), f"celery-test-{next(_buckets)}")


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
def worker(request, redis_server, moto_server, app, run_log, tmp_path_factory):
    os.environ["MUFLOW_TEST_WORKER_LOGS"] = str(tmp_path_factory.mktemp("worker-logs"))
    process = Worker(redis_server.url, pool=request.param, log=str(run_log))
    try:
        process.wait_ready(app)
        yield process
    finally:
        process.stop()


@pytest.fixture
def spawn(redis_server, worker, run_log, app):
    """spawn(**Worker options): a worker of this test, ready, and stopped at its end
    whatever happens (a killed one too)."""
    started = []

    def start(**options):
        options.setdefault("pool", worker_pool(worker))
        options.setdefault("log", str(run_log))
        process = Worker(redis_server.url, **options)
        started.append(process)
        process.wait_ready(app)
        return process

    yield start
    for process in started:
        process.stop()


def executions(run_log: Path, store) -> list[str]:
    """Where the nodes of `store` whose task ran write, once per execution."""
    if not run_log.exists():
        return []
    mark = store.where("")
    return [line for line in run_log.read_text().splitlines() if line.startswith(mark)]


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


def manifests(store, handle) -> dict[str, bool]:
    return {key: store.exists(prefix, "manifest.json") for key, prefix in handle.node_prefixes.items()}


# -- Plans run to the end -------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_one_node(worker, app, store, run_log, mode):
    backend = store.backend(app, mode)
    plan = single_pipeline().build_plan("subject:1", {"x": 1})
    assert len(plan.nodes) == 1
    handle = backend.submit_plan(plan)
    if isinstance(store, Bucket):
        assert (handle.backend, handle.storage_type, handle.storage_config) == ("celery", "s3", {"bucket": store.name})
    else:
        assert (handle.backend, handle.storage_type, handle.storage_config) == \
            ("celery", "local", {"path": str(store.path)})
    assert wait_ended(handle) == "success"
    assert backend.get_plan_state(handle.plan_id) == "success"
    assert backend._plan_results[handle.plan_id].state == "SUCCESS"
    node = plan.nodes[plan.root_key]
    assert json.loads(store.read(node.storage_prefix, "value.json")) == {"kwargs": {"x": 1}, "inputs": {}}
    assert handle.get_progress().is_complete
    assert executions(run_log, store) == [store.where(node.storage_prefix)]


@pytest.mark.parametrize("mode", MODES)
def test_ml_pipeline_outputs_match_a_local_run(worker, app, store, tmp_path, mode):
    plan = ml_pipeline(mf).build_plan("experiment:1", {"datasets": ["dataset_a", "dataset_b", "dataset_c"]})
    assert len(plan.nodes) == 11
    handle = store.backend(app, mode).submit_plan(plan)
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
        assert store.exists(node.storage_prefix, "manifest.json")
        for path in (local / node.storage_prefix).iterdir():
            if path.name not in ("manifest.json", "context.json"):
                assert store.read(node.storage_prefix, path.name) == path.read_bytes(), (node.function, path.name)
                compared += 1
    assert compared >= 10
    assert handle.get_progress().completed == 11


@pytest.mark.parametrize("mode, where", [("levels", "local"), ("dependencies", "local"), ("dependencies", "s3")])
def test_thousand_nodes(worker, app, tmp_path, moto_server, mode, where):
    store = SharedDirectory(tmp_path) if where == "local" else Bucket(moto_server.client("s3"), f"thousand-{mode}")
    plan = fan_pipeline().build_plan("subject:1", {"n": 999})
    assert len(plan.nodes) == 1000
    backend = store.backend(app, mode)
    handle = backend.submit_plan(plan)
    assert wait_ended(handle, timeout=300) == "success"
    assert handle.get_progress().completed == 1000
    # Submitted again: everything is cached; dependency mode queues nothing at all.
    pushes = app.backend.client.info("commandstats").get("cmdstat_lpush", {}).get("calls", 0)
    again = backend.submit_plan(plan)
    if mode == "dependencies":
        assert again.get_state() == "success"
        assert app.backend.client.info("commandstats").get("cmdstat_lpush", {}).get("calls", 0) == pushes
    assert wait_ended(again) == "success"


# -- Failures ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_failure_then_resubmission_runs_only_what_failed(worker, app, store, tmp_path, run_log, mode):
    flag = tmp_path / "fail"
    flag.write_text("")
    plan = chain_pipeline().build_plan("subject:1", {"fail_while": str(flag)})
    backend = store.backend(app, mode)
    handle = backend.submit_plan(plan)
    assert wait_ended(handle) == "failure"
    by_function = {}
    for node in plan.nodes.values():
        by_function.setdefault(node.function, []).append(node)
    (flaky,) = by_function["celery_test.flaky"]
    error = json.loads(store.read(flaky.storage_prefix, "error.json"))
    assert error["error_message"] == "told to fail"
    if mode == "levels":  # node results are kept in level mode, which chords need
        node_result = app.AsyncResult(f"{handle.plan_id}-{list(plan.nodes).index(flaky.key)}")
        node_result.get(timeout=10, propagate=False)  # stored as the task raises, after the plan's failure
        assert isinstance(node_result.result, RuntimeError) and str(node_result.result) == "told to fail"
    assert error["partial_manifest"] == {"files": ["context.json", "partial.txt"]}
    (after,) = by_function["celery_test.sleep"]
    assert after.depends_on == [flaky.key] and not store.touched(after.storage_prefix)
    first = [n for n in by_function["celery_test.record"] if "i" in n.kwargs]
    assert all(store.exists(n.storage_prefix, "manifest.json") for n in first)
    ran_before = executions(run_log, store)

    flag.unlink()
    handle = backend.submit_plan(plan)
    assert wait_ended(handle) == "success"
    ran_again = executions(run_log, store)[len(ran_before):]
    assert store.where(flaky.storage_prefix) in ran_again
    assert not {store.where(n.storage_prefix) for n in first} & set(ran_again)
    assert all(manifests(store, handle).values())


def test_an_unregistered_root_that_is_not_the_sentinel_fails(worker, app, tmp_path):
    """Only the sentinel (mf_plan_sentinel_index) is a built-in no-op: a root with a
    misspelled task after a fan-out fails, as in local runs."""
    plan = Pipeline(name="ct.typo", steps={
        "x": ForEach(task="celery_test.record", over=lambda s, k: [{"i": i} for i in range(2)]),
        "total": Step(task="celery_test.totl", after=["x"])}).build_plan("s:1", {})
    assert plan_view(plan).sentinel_key() is None
    for mode in MODES:
        handle = mf.CeleryBackend(app, shared_directory=str(tmp_path / mode), mode=mode).submit_plan(plan)
        assert wait_ended(handle) == "failure"
        assert not (tmp_path / mode / plan.root_key / "manifest.json").exists()


def test_unknown_task_fails_the_plan_with_a_value_error(worker, app, tmp_path):
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
def test_state_from_another_process(worker, app, spawn, store, tmp_path, run_log, probe, mode):
    """Nodes of queue "isolated" wait for a worker of their own: pending, then running,
    then success; a failing plan; a cancelled plan, whose nodes never run."""
    plan = slow_pipeline().build_plan("subject:1", {"seconds": 1.5})
    backend = store.backend(app, mode)
    handle = backend.submit_plan(plan)
    time.sleep(0.5)
    assert probe(handle) == "pending"
    isolated = spawn(queues="isolated")
    try:
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
    before = executions(run_log, store)
    isolated = spawn(queues="isolated")
    try:
        time.sleep(1.0)
    finally:
        isolated.stop()
    assert executions(run_log, store) == before
    assert cancelled.get_state() == "failure"


def slow_pipeline():
    return Pipeline(name="ct.slow", steps={
        "slow": Step(task="celery_test.record_slowly"),
        "next": Step(task="celery_test.record", after=["slow"]),
    })


def worker_pool(worker) -> str:
    return "prefork" if "prefork" in " ".join(worker.process.args) else "threads"


# -- Crashes and restarts ---------------------------------------------------------------


def killed_plan():
    return Pipeline(name="ct.killed", steps={
        "each": ForEach(task="celery_test.record_slowly", over=lambda s, k: [{"i": i, "seconds": 0.4} for i in range(8)]),
        "join": Step(task="celery_test.record_slowly", after=["each"]),
    }).build_plan("subject:1", {})


def kill_mid_plan(backend, store, spawn, plan, **worker_options):
    """Submits `plan` to a worker of queue "isolated", killed with SIGKILL in the middle
    of its next tasks once three of its nodes are complete: (the handle, the nodes
    complete then, their manifests' stamps).

    Not in the instant after a node ends: kombu's Redis transport then takes the next
    message (BRPOP) before recording it as unacknowledged, and a kill between the two
    loses that message, which acks_late cannot bring back (a resubmission does)."""
    first = spawn(queues="isolated", **worker_options)
    handle = backend.submit_plan(plan)
    deadline = time.monotonic() + 60
    while sum(manifests(store, handle).values()) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.15)  # the tasks take 0.4 s
    first.kill()
    done_before = {key for key, done in manifests(store, handle).items() if done}
    assert 3 <= len(done_before) < len(plan.nodes)
    return handle, done_before, {key: store.stamp(handle.node_prefixes[key], "manifest.json") for key in done_before}


def ended_on_new_worker(spawn, handle, **worker_options) -> str:
    """The state the plan of `handle` ends in, served by a new worker of queue "isolated"."""
    worker = spawn(queues="isolated", **worker_options)
    try:
        return wait_ended(handle)
    finally:
        worker.stop()


def assert_completed_once(store, run_log, plan, handle, done_before, stamps):
    """Every node complete; those complete before the kill untouched and run once; the
    others run at most once more than the attempt that was killed."""
    assert all(manifests(store, handle).values())
    for key in done_before:
        assert store.stamp(handle.node_prefixes[key], "manifest.json") == stamps[key]
    ran = executions(run_log, store)
    for key, prefix in handle.node_prefixes.items():
        count = ran.count(store.where(prefix))
        if key in done_before:
            assert count == 1, key
        elif plan.nodes[key].function == "celery_test.record_slowly":
            assert 1 <= count <= 2, key
        if plan.nodes[key].function == "celery_test.record_slowly":
            assert json.loads(store.read(prefix, "value.json"))["kwargs"] == plan.nodes[key].kwargs


@pytest.mark.parametrize("mode", MODES)
def test_worker_killed_mid_plan_then_resubmitted(worker, app, spawn, store, run_log, mode):
    """The plan submitted again after the kill completes on a new worker."""
    plan = killed_plan()
    backend = store.backend(app, mode)
    handle, done_before, stamps = kill_mid_plan(backend, store, spawn, plan)

    again = backend.submit_plan(plan)
    assert handle.get_state() == "failure"  # superseded by the new run
    assert ended_on_new_worker(spawn, again) == "success"
    assert_completed_once(store, run_log, plan, again, done_before, stamps)


@pytest.mark.parametrize("mode", MODES)
def test_worker_killed_mid_plan_then_redelivered_with_acks_late(worker, app, spawn, store, run_log, mode):
    """With acks_late, the messages the killed worker held go back to the queue (after
    the visibility timeout, 3 s here): a new worker completes the same run, with no
    resubmission."""
    plan = killed_plan()
    backend = store.backend(app, mode)
    acks_late = {"extra_env": {"MUFLOW_TEST_ACKS_LATE": "1"}}
    handle, done_before, stamps = kill_mid_plan(backend, store, spawn, plan, **acks_late)
    assert handle.get_state() == "running"
    assert ended_on_new_worker(spawn, handle, **acks_late) == "success"
    assert_completed_once(store, run_log, plan, handle, done_before, stamps)


@pytest.mark.parametrize("mode", MODES)
def test_redis_restarted_between_plans(worker, app, redis_server, store, mode):
    backend = store.backend(app, mode)
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
    assert all(manifests(store, second).values())


def test_a_mixed_fleet_of_muflow_and_native_workers_runs_level_mode(worker, app, spawn, moto_server):
    """muflow 0.4.0's workers and ours serve one queue; level mode's messages are
    muflow's, so either runs any node, on S3."""
    bucket = Bucket(moto_server.client("s3"), "mixed-fleet")
    plan = Pipeline(name="ct.mixed", steps={
        "each": ForEach(task="celery_test.mixed", over=lambda s, k: [{"i": i} for i in range(8)]),
        "join": Step(task="celery_test.mixed", after=["each"]),
    }).build_plan("subject:1", {})
    spawn(queues="mixed", log="")
    spawn(queues="mixed", log="", app_module="celery_muflow_worker_app")
    handle = bucket.backend(app, "levels").submit_plan(plan)
    assert wait_ended(handle) == "success"
    ran_by = set()
    for node in plan.nodes.values():
        value = json.loads(bucket.read(node.storage_prefix, "value.json"))
        assert value["kwargs"] == node.kwargs
        ran_by.add(value["by"])
    assert ran_by <= {"muflow", "muflow_native"} and ran_by
    assert handle.get_progress().is_complete


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


# -- Stale inputs (issue 12): the core's rule at submission and in workers ---------------


def reduce_pipeline():
    """items (one node per n) -> total, whose prefix holds only its `label`: unchanged
    when the items move (celery_worker_app's item_v and total)."""
    return Pipeline(name="ct.reduce", steps={
        "items": ForEach(task="celery_test.item_v",
                         over=lambda s, k: [{"n": n, "scale_file": k["scale_file"]} for n in k["ns"]]),
        "total": Step(task="celery_test.total", after=["items"]),
    })


@pytest.mark.parametrize("mode", MODES)
def test_stale_inputs_run_exactly_the_affected_nodes(worker, app, store, run_log, tmp_path, mode):
    backend = store.backend(app, mode)
    scale = tmp_path / "scale"

    def submit(ns):
        plan = reduce_pipeline().build_plan("s:1", {"ns": ns, "scale_file": str(scale)})
        before = len(executions(run_log, store))
        handle = backend.submit_plan(plan)
        assert wait_ended(handle) == "success"
        return plan, sorted(executions(run_log, store)[before:]), backend.stale_nodes(handle.plan_id)

    def where(plan, *ns):
        return sorted(store.where(n.storage_prefix) for n in plan.nodes.values()
                      if n.kwargs.get("n") in ns or (None in ns and "n" not in n.kwargs))

    def total(plan):
        return json.loads(store.read(plan.nodes[plan.root_key].storage_prefix, "sum.json"))["sum"]

    first, ran, stale = submit([1, 2])
    assert ran == where(first, 1, 2, None) and total(first) == 3 and stale == 0
    assert submit([1, 2])[1:] == ([], 0)

    # The items move: the total keeps its prefix, but recorded other inputs.
    moved, ran, stale = submit([3, 4])
    assert moved.nodes[moved.root_key].storage_prefix == first.nodes[first.root_key].storage_prefix
    assert ran == where(moved, 3, 4, None) and stale == 1 and total(moved) == 7
    root = moved.nodes[moved.root_key]
    manifest = json.loads(store.read(root.storage_prefix, "manifest.json"))
    assert list(manifest["inputs"]) == list(root.dependency_access_map)
    assert {k: v["prefix"] for k, v in manifest["inputs"].items()} == dict(root.dependency_access_map)

    # An item run again with the same outputs does not cascade; with other outputs it does.
    (item3,) = [n for n in moved.nodes.values() if n.kwargs.get("n") == 3]
    store.remove(item3.storage_prefix, "manifest.json")
    assert submit([3, 4])[1:] == (where(moved, 3), 0)
    scale.write_text("10")
    store.remove(item3.storage_prefix, "manifest.json")
    _, ran, stale = submit([3, 4])
    assert ran == where(moved, 3, None) and stale == 1 and total(moved) == 34

    # Found stale at submission: item 3's manifest rewritten (by muflow: no record, so
    # trusted, but its bytes are other outputs than the total recorded).
    listed = json.loads(store.read(item3.storage_prefix, "manifest.json"))
    muflows = {"files": listed["files"], "timestamp": listed["timestamp"]}
    store.write(item3.storage_prefix, "manifest.json", json.dumps(muflows, indent=2).encode())
    assert submit([3, 4])[1:] == (where(moved, None), 1)

    # A total written by muflow (no record) is trusted, as muflow trusts it.
    store.write(root.storage_prefix, "manifest.json", json.dumps(muflows, indent=2).encode())
    back, ran, stale = submit([1, 2])
    assert ran == [] and stale == 0 and total(back) == 34
