"""Step Functions + Lambda on moto's server: executions run by moto's state machine
executor, each Lambda invocation routed in-process to create_lambda_handler (see
aws_support), results in moto's S3."""

import json
import threading
import time
import uuid
from typing import Annotated

import pydantic
import pytest

import muflow_native as mf
from muflow_native import _ffi
from muflow_native.backends.step_functions import StepFunctionsBackend, create_lambda_handler, state_machine
from muflow_native.examples import ml_task
from muflow_native.registry import TaskEntry
from muflow_native.plan import plan_view
from muflow_native.storage.s3 import S3StorageBackend

from aws_support import MotoServer, lambda_routed_to, make_lambda_function, wait_for_execution
from seed_pipelines import ml_pipeline

ML_TASKS = {entry.name: entry for entry in (
    TaskEntry(name="ml.compute_features", fn=ml_task.compute_features),
    TaskEntry(name="ml.train_model", fn=ml_task.train_model),
    TaskEntry(name="ml.loo_cv", fn=ml_task.loo_cv),
    TaskEntry(name="ml.generate_report", fn=ml_task.generate_report),
)}


def _square(context):
    context.save_json("square.json", {"value": context.kwargs["x"] ** 2})


def _total(context):
    total = sum(context.dependency(key).read_json("square.json")["value"] for key in context.dependency_keys())
    context.save_json("total.json", {"total": total})


def _fail(context):
    context.save_text("partial.txt", "written before failing")
    raise ValueError("deliberate failure in the task")


_release = threading.Event()


def _wait(context):
    _release.wait(60)
    context.save_text("done.txt", "x")


TASKS = {**ML_TASKS, **{entry.name: entry for entry in (
    TaskEntry(name="t.square", fn=_square), TaskEntry(name="t.total", fn=_total),
    TaskEntry(name="t.fail", fn=_fail), TaskEntry(name="t.wait", fn=_wait),
)}}


def fan_out(count: int, task: str = "t.square"):
    return mf.Pipeline(name="t.fan", steps={
        "squares": mf.ForEach(task=task, over=lambda s, k: [{"x": i} for i in range(k["n"])]),
        "total": mf.Step(task="t.total", after=["squares"]),
    }).build_plan("fan:1", {"n": count})


@pytest.fixture(scope="module")
def server():
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def aws(server):
    s3, sfn = server.client("s3"), server.client("stepfunctions")
    function, role = make_lambda_function(server)
    return s3, sfn, function, role


@pytest.fixture
def bucket(aws):
    name = f"b-{uuid.uuid4().hex[:12]}"
    aws[0].create_bucket(Bucket=name)
    return name


@pytest.fixture
def backend(aws, bucket):
    s3, sfn, function, role = aws
    # A prefix of its own per test: the state machine is named after the root key.
    return StepFunctionsBackend(function, bucket, role, state_machine_prefix=f"t{uuid.uuid4().hex[:8]}",
                                sfn_client=sfn, s3_client=s3)


@pytest.fixture
def routed(aws):
    with lambda_routed_to(create_lambda_handler(TASKS, s3_client=aws[0])) as seen:
        yield seen


def run(backend, plan, aws):
    handle = backend.submit_plan(plan)
    return handle, wait_for_execution(aws[1], handle.plan_id)


def test_ml_pipeline_succeeds_with_every_output_in_s3(aws, bucket, backend, routed):
    s3 = aws[0]
    plan = ml_pipeline(mf).build_plan("experiment:1", {"datasets": ["dataset_a", "dataset_b", "dataset_c"]})
    handle, execution = run(backend, plan, aws)
    assert execution["status"] == "SUCCEEDED", execution
    assert handle.backend == "step_functions" and handle.plan_id == execution["executionArn"]
    assert backend.get_plan_state(handle.plan_id) == "success"
    assert len(routed) == len(plan.nodes) == 11
    assert all(set(event) == {"bucket", "plan_key", "node"} for event in routed.events)
    for node in plan.nodes.values():
        storage = S3StorageBackend(node.storage_prefix, bucket, s3)
        assert storage.is_cached(), node.key
        manifest = json.loads(storage.read_file("manifest.json"))
        for name in manifest["files"]:
            assert len(storage.read_file(name)) == manifest["file_sizes"][name]
    progress = handle.get_progress()
    assert progress.is_complete and progress.total == 11
    assert mf.PlanHandle.from_json(handle.to_json()).get_progress().completed == 11


def test_failing_task_gives_failed_and_error_json(aws, bucket, backend, routed):
    plan = fan_out(2, task="t.fail")
    handle, execution = run(backend, plan, aws)
    assert execution["status"] == "FAILED"
    assert backend.get_plan_state(handle.plan_id) == "failure"
    # The Map state stops at its first failed item (no failure is tolerated), so the
    # other failing node may never have been invoked: check those that were.
    invoked = {e["node"] for e in routed.events}
    failed = [n for n in plan.nodes.values() if n.function == "t.fail" and plan_view(plan).index[n.key] in invoked]
    assert failed
    for node in failed:
        storage = S3StorageBackend(node.storage_prefix, bucket, aws[0])
        error = json.loads(storage.read_file("error.json"))
        assert error["error_message"] == "deliberate failure in the task"
        assert "ValueError" in error["error_traceback"]
        assert error["partial_manifest"] == {"files": ["context.json", "partial.txt"]}
        assert not storage.is_cached()
    assert not handle.get_progress().node_breakdown[plan.root_key]


def test_resubmission_skips_cached_nodes(aws, bucket, backend, routed):
    s3 = aws[0]
    plan = fan_out(5)
    assert run(backend, plan, aws)[1]["status"] == "SUCCEEDED"
    assert len(routed) == 6
    # Everything cached: no Lambda runs.
    _, again = run(backend, plan, aws)
    assert again["status"] == "SUCCEEDED"
    assert len(routed) == 6
    # One node's manifest gone: it runs; its dependent, which recorded its inputs, is
    # invoked after it to check them, finds them the same, and does not run again.
    redo = next(n for n in plan.nodes.values() if n.function == "t.square")
    root = plan.nodes[plan.root_key]
    total_manifest = s3.head_object(Bucket=bucket, Key=f"{root.storage_prefix}/manifest.json")["ETag"]
    s3.delete_object(Bucket=bucket, Key=f"{redo.storage_prefix}/manifest.json")
    _, third = run(backend, plan, aws)
    assert third["status"] == "SUCCEEDED"
    assert [e["node"] for e in routed.events[6:]] == [plan_view(plan).index[redo.key], plan_view(plan).index[root.key]]
    assert S3StorageBackend(redo.storage_prefix, bucket, s3).is_cached()
    assert s3.head_object(Bucket=bucket, Key=f"{root.storage_prefix}/manifest.json")["ETag"] == total_manifest


@pytest.mark.parametrize("limits, mode", [(None, "INLINE"), ({"history_events": 1000}, "DISTRIBUTED")])
def test_two_hundred_node_fan_out_runs_through_a_map_state(aws, bucket, routed, limits, mode):
    """Within AWS's limits the fan-out is an inline Map; under a lower history limit, a
    Distributed Map whose ItemReader takes the node indices from S3."""
    s3, sfn, function, role = aws
    backend = StepFunctionsBackend(function, bucket, role, state_machine_prefix=f"t{uuid.uuid4().hex[:8]}",
                                   sfn_client=sfn, s3_client=s3, limits=limits)
    plan = fan_out(200)
    options = {"function_arn": "arn:f", "bucket": bucket, "plan_key": "k", **({"limits": limits} if limits else {})}
    machine = state_machine(plan, options)
    maps = [s for s in json.loads(machine["definition"])["States"].values() if s["Type"] == "Map"]
    assert [m["ItemProcessor"]["ProcessorConfig"]["Mode"] for m in maps] == [mode]
    assert machine["history_events"] <= (limits or {}).get("history_events", 25_000)
    handle, execution = run(backend, plan, aws)
    assert execution["status"] == "SUCCEEDED", execution
    assert len(routed) == 201
    total = next(n for n in plan.nodes.values() if n.function == "t.total")
    result = json.loads(S3StorageBackend(total.storage_prefix, bucket, s3).read_file("total.json"))
    assert result == {"total": sum(i * i for i in range(200))}
    assert handle.get_progress().completed == 201


def test_plan_over_a_limit_is_refused_before_anything_is_created(aws, bucket, backend, routed):
    s3, sfn = aws[0], aws[1]
    steps = {f"s{i}": mf.Step(task="t.square", after=[f"s{i - 1}"] if i else None,
                              kwargs_map=lambda s, k, i=i: {"x": i}) for i in range(1800)}
    plan = mf.Pipeline(name="t.chain", steps=steps).build_plan("chain:1", {})
    machines_before = sfn.list_state_machines()["stateMachines"]
    with pytest.raises(ValueError) as refused:
        backend.submit_plan(plan)
    message = str(refused.value)
    assert "worst-case execution history is 25,202 events" in message
    assert "over the 25,000-event history limit by 202 events" in message
    assert sfn.list_state_machines()["stateMachines"] == machines_before
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    assert len(routed) == 0


def test_cancel_plan_stops_the_execution(aws, bucket, backend, routed):
    _release.clear()
    plan = fan_out(1, task="t.wait")
    handle = backend.submit_plan(plan)
    try:
        deadline = time.monotonic() + 60
        while len(routed) == 0 and time.monotonic() < deadline:  # until the task runs
            time.sleep(0.01)
        assert backend.get_plan_state(handle.plan_id) == "running"
        backend.cancel_plan(handle.plan_id)
        _release.set()  # moto ends the execution once its running task returns
        assert wait_for_execution(aws[1], handle.plan_id)["status"] == "ABORTED"
        assert handle.get_state() == "failure"
    finally:
        _release.set()


def test_handler_takes_muflows_event(aws, bucket):
    s3 = aws[0]
    handler = create_lambda_handler(TASKS, s3_client=s3)
    S3StorageBackend("muflow/t.square/dep", bucket, s3).save_json("square.json", {"value": 9})
    event = {"task_name": "t.total", "kwargs": {}, "storage_prefix": "muflow/t.total/x",
             "dependency_prefixes": {"squares:0": "muflow/t.square/dep"}, "bucket": bucket, "node_key": "k1"}
    assert handler(event, None) == {"status": "success", "node_key": "k1"}
    assert json.loads(S3StorageBackend("muflow/t.total/x", bucket, s3).read_file("total.json")) == {"total": 9}
    with pytest.raises(ValueError, match="Unknown task: 't.nope'"):
        handler({**event, "task_name": "t.nope"}, None)
    with pytest.raises(RuntimeError, match="deliberate failure"):
        handler({**event, "task_name": "t.fail", "storage_prefix": "muflow/t.fail/y"}, None)


def test_handler_completes_only_the_sentinel_without_a_task(aws, bucket):
    """An unregistered root that is not the sentinel (a single last step after a fan-out,
    its task misspelled) fails; the sentinel of a plan ending in a fan-out completes."""
    s3 = aws[0]
    handler = create_lambda_handler(TASKS, s3_client=s3)
    squares = lambda s, k: [{"x": i} for i in range(3)]
    typo = mf.Pipeline(name="t.typo", steps={"squares": mf.ForEach(task="t.square", over=squares),
                                             "total": mf.Step(task="t.totl", after=["squares"])}).build_plan("s", {})
    fan = mf.Pipeline(name="t.fan", steps={"squares": mf.ForEach(task="t.square", over=squares)}).build_plan("s", {})
    for name, plan in (("typo", typo), ("fan", fan)):
        s3.put_object(Bucket=bucket, Key=name, Body=_ffi.call_returning_bytes(_ffi.mf_plan_store_json, plan_view(plan).native))
    root = {"bucket": bucket, "plan_key": "typo", "node": plan_view(typo).index[typo.root_key]}
    with pytest.raises(ValueError, match="Unknown task: 't.totl'"):
        handler(root, None)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix=typo.root_key)
    sentinel = {"bucket": bucket, "plan_key": "fan", "node": plan_view(fan).index[plan_view(fan).sentinel_key()]}
    assert handler(sentinel, None) == {"status": "success", "node_key": fan.root_key}
    assert S3StorageBackend(fan.root_key, bucket, s3).is_cached()


def test_dependency_storage_is_read_only_in_the_handler(aws, bucket):
    s3 = aws[0]

    def vandal(context):
        context.dependency("squares:0").save_text("planted.txt", "x")

    handler = create_lambda_handler({"t.vandal": TaskEntry(name="t.vandal", fn=vandal)}, s3_client=s3)
    event = {"task_name": "t.vandal", "kwargs": {}, "storage_prefix": "muflow/t.vandal/x",
             "dependency_prefixes": {"squares:0": "muflow/t.square/dep"}, "bucket": bucket, "node_key": "k"}
    with pytest.raises(RuntimeError, match="read-only"):
        handler(event, None)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="muflow/t.square/")


def test_compatibility_views_match_muflow():
    import muflow
    from muflow.backends.step_functions import StepFunctionsBackend as TheirBackend

    class NoClient:
        pass

    args = ("arn:aws:lambda:us-east-1:123456789012:function:w", "bucket", "arn:aws:iam::123456789012:role/r")
    ours = StepFunctionsBackend(*args, sfn_client=NoClient(), s3_client=NoClient())
    theirs = TheirBackend(*args, sfn_client=NoClient())
    kwargs = {"datasets": ["a", "b", "c"]}
    our_plan = ml_pipeline(mf).build_plan("experiment:1", kwargs)
    their_plan = ml_pipeline(muflow).build_plan("experiment:1", kwargs)
    our_levels = ours._compute_levels(our_plan)
    their_levels = theirs._compute_levels(their_plan)
    assert [sorted(n.key for n in level) for level in our_levels] == \
        [sorted(n.key for n in level) for level in their_levels]
    # The same levels, in the same order, give the same definition.
    ordered = [[their_plan.nodes[n.key] for n in level] for level in our_levels]
    assert ours._build_asl(our_levels, our_plan) == theirs._build_asl(ordered, their_plan)
    assert ours._build_asl([], our_plan) is None
    for root in (our_plan.root_key, "muflow/x.y/ab:cd!", "plain", "a/" + "z" * 100):
        assert ours._state_machine_name(root) == theirs._state_machine_name(root)


def test_readme_deployment_runs_on_moto(aws):
    """The README's Lambda module and submission, run as written (the function and role
    ARNs it names are moto's default account's)."""
    import pathlib
    import re

    from muflow_native import registry

    readme = pathlib.Path(__file__).resolve().parents[3] / "README.md"
    worker, submission = re.findall(r"```python aws\n(.*?)```", readme.read_text(), re.S)
    aws[0].create_bucket(Bucket="my-muflow-results")
    added = [name for name in ML_TASKS if name not in registry.get_names()]
    for name in added:  # another test may have cleared the registry the worker relies on
        mf.register_task(name=name)(ML_TASKS[name].fn)
    try:
        namespace = {}
        exec(compile(worker, str(readme), "exec"), namespace)
        with lambda_routed_to(namespace["handler"]) as seen:
            exec(compile(submission, str(readme), "exec"), namespace)
            handle = namespace["handle"]
            assert wait_for_execution(aws[1], handle.plan_id)["status"] == "SUCCEEDED"
        assert handle.get_state() == "success"
        assert handle.get_progress().is_complete and len(seen) == 11
    finally:
        for name in added:
            registry.unregister(name)


def test_stored_plan_gives_each_node_what_running_it_takes():
    from muflow_native.backends.step_functions import _StoredPlan

    plan = ml_pipeline(mf).build_plan("experiment:1", {"datasets": [f"dataset_{i:04d}" for i in range(200)],
                                                      "weights": {"a": 1.5, "nested": [1, None, "x"]}})
    body = _ffi.call_returning_bytes(_ffi.mf_plan_store_json, plan_view(plan).native)
    stored = _StoredPlan(body)
    assert stored.root == plan_view(plan).index[plan.root_key]
    assert stored.sentinel == plan_view(plan).index[plan_view(plan).sentinel_key()] == stored.root
    for index, key in enumerate(plan_view(plan).keys):
        node = plan.nodes[key]
        assert stored.node(index) == (key, node.function, node.storage_prefix, node.kwargs,
                                      node.dependency_access_map, len(node.depends_on))
    # The dataset list every node holds, and the loo_cv nodes' access map, are written once.
    assert len(body) * 20 < len(plan.to_json())
    with pytest.raises(ValueError, match="Not a stored muflow plan"):
        _StoredPlan(plan.to_json().encode())


# -- Stale inputs (issue 12): the core's rule at submission and in the Lambda handler ----


class _Item(pydantic.BaseModel):
    n: Annotated[int, mf.IdentityKey()]


class _Sum(pydantic.BaseModel):
    label: Annotated[str, mf.IdentityKey()] = "total"
    ns: list = []


_stale_ran: list = []
_stale_scale = {"factor": 1}


@mf.register_task("sfn_stale.item", parameters=_Item)
def _stale_item(context):
    _stale_ran.append(("item", context.kwargs.n))
    context.save_json("v.json", {"v": context.kwargs.n * _stale_scale["factor"]})


@mf.register_task("sfn_stale.total", parameters=_Sum)
def _stale_total(context):
    _stale_ran.append(("total",))
    values = [context.dependency(key).read_json("v.json")["v"] for key in context.dependency_keys()]
    context.save_json("sum.json", {"sum": sum(values)})


def test_stale_inputs_run_exactly_the_affected_nodes(aws, bucket, backend):
    s3 = aws[0]
    pipeline = mf.Pipeline(name="sfn_stale.reduce", steps={
        "items": mf.ForEach(task="sfn_stale.item", over=lambda s, k: [{"n": n} for n in k["ns"]]),
        "total": mf.Step(task="sfn_stale.total", after=["items"]),
    })
    tasks = {name: mf.registry.get(name) for name in ("sfn_stale.item", "sfn_stale.total")}

    def submit(ns):
        plan = pipeline.build_plan("s:1", {"ns": ns})
        _stale_ran.clear()
        assert run(backend, plan, aws)[1]["status"] == "SUCCEEDED"
        return plan, sorted(_stale_ran), backend.last_submission["stale"]

    def total(plan):
        prefix = plan.nodes[plan.root_key].storage_prefix
        return json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}/sum.json")["Body"].read())["sum"]

    with lambda_routed_to(create_lambda_handler(tasks, s3_client=s3)):
        first, ran, stale = submit([1, 2])
        assert ran == [("item", 1), ("item", 2), ("total",)] and total(first) == 3
        assert submit([1, 2])[1:] == ([], 0)
        assert backend.last_submission == {"cached": 3, "stale": 0, "to_run": 0}

        moved, ran, stale = submit([3, 4])
        root = moved.nodes[moved.root_key]
        assert root.storage_prefix == first.nodes[first.root_key].storage_prefix
        assert ran == [("item", 3), ("item", 4), ("total",)] and total(moved) == 7
        manifest = json.loads(S3StorageBackend(root.storage_prefix, bucket, s3).read_file("manifest.json"))
        assert {k: v["prefix"] for k, v in manifest["inputs"].items()} == dict(root.dependency_access_map)

        (item3,) = [n for n in moved.nodes.values() if n.kwargs.get("n") == 3]
        manifest_key = f"{item3.storage_prefix}/manifest.json"
        s3.delete_object(Bucket=bucket, Key=manifest_key)
        assert submit([3, 4])[1] == [("item", 3)]  # the same outputs: no cascade
        _stale_scale["factor"] = 10
        try:
            s3.delete_object(Bucket=bucket, Key=manifest_key)
            assert submit([3, 4])[1] == [("item", 3), ("total",)] and total(moved) == 34
        finally:
            _stale_scale["factor"] = 1

        # Stale at submission: item 3's manifest rewritten by muflow (trusted, other bytes).
        listed = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
        muflows = json.dumps({"files": listed["files"], "timestamp": listed["timestamp"]}, indent=2).encode()
        s3.put_object(Bucket=bucket, Key=manifest_key, Body=muflows)
        assert submit([3, 4])[1:] == ([("total",)], 1)
        assert backend.last_submission["to_run"] == 1

        # A total written by muflow (no record) is trusted.
        s3.put_object(Bucket=bucket, Key=f"{root.storage_prefix}/manifest.json", Body=muflows)
        back, ran, stale = submit([1, 2])
        assert (ran, stale, total(back)) == ([], 0, 34)
