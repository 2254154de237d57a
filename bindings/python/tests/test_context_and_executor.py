"""TaskContext and execute_task: muflow's node protocol on native storage."""

import json
import os

import pydantic
import pytest

import muflow_native
from muflow_native.context.task import TaskContext, create_local_context
from muflow_native.executor import ExecutionPayload, ExecutionResult, execute_task
from muflow_native.registry import TaskEntry


def _entry(fn, parameters=None):
    return TaskEntry(name="t", fn=fn, parameters=parameters)


def test_context_reads_dependencies_and_reports_progress(tmp_path):
    dep = create_local_context(str(tmp_path / "dep"), {})
    dep.save_json("features.json", {"x": 1})
    seen = []
    ctx = create_local_context(
        str(tmp_path / "me"), {"k": 1}, {"features:0": str(tmp_path / "dep")}, lambda *a: seen.append(a)
    )
    assert ctx.kwargs == {"k": 1}
    assert ctx.dependency_keys() == ["features:0"]
    assert ctx.has_dependency("features:0") and not ctx.has_dependency("x")
    assert ctx.dependency("features:0").read_json("features.json") == {"x": 1}
    with pytest.raises(KeyError):
        ctx.dependency("missing")
    ctx.report_progress(1, 2, "half")
    assert seen == [(1, 2, "half")]
    assert ctx.storage_prefix == str(tmp_path / "me")


def test_success_writes_context_and_manifest(tmp_path):
    ctx = create_local_context(str(tmp_path / "n"), {"a": 1})

    def task(context):
        context.save_json("out.json", {"a": context.kwargs["a"]})

    payload = ExecutionPayload(task_name="t", kwargs={"a": 1}, storage_prefix=str(tmp_path / "n"))
    result = execute_task(payload, ctx, lambda name: _entry(task))
    assert result == ExecutionResult(success=True)
    manifest = json.loads((tmp_path / "n" / "manifest.json").read_text())
    assert manifest["files"] == ["context.json", "out.json"]
    assert json.loads((tmp_path / "n" / "context.json").read_text()) == {}

    again = execute_task(payload, create_local_context(str(tmp_path / "n"), {}), lambda name: pytest.fail("ran"))
    assert again.cached and again.success


def test_failure_writes_error_json_and_no_manifest(tmp_path):
    def task(context):
        context.save_text("partial.txt", "p")
        raise RuntimeError("boom")

    ctx = create_local_context(str(tmp_path / "n"), {})
    payload = ExecutionPayload(task_name="t", kwargs={}, storage_prefix=str(tmp_path / "n"))
    result = execute_task(payload, ctx, lambda name: _entry(task))
    assert not result.success and result.error_message == "boom"
    assert "RuntimeError: boom" in result.error_traceback
    error = json.loads((tmp_path / "n" / "error.json").read_text())
    assert error["error_message"] == "boom"
    assert error["partial_manifest"] == {"files": ["context.json", "partial.txt"]}
    assert not (tmp_path / "n" / "manifest.json").exists()


def test_parameters_are_validated_into_kwargs(tmp_path):
    class Params(pydantic.BaseModel):
        n: int

    seen = []
    ctx = create_local_context(str(tmp_path / "n"), {"n": "3"})
    payload = ExecutionPayload(task_name="t", kwargs={"n": "3"}, storage_prefix="x")
    assert execute_task(payload, ctx, lambda name: _entry(lambda c: seen.append(c.kwargs), Params)).success
    assert seen == [Params(n=3)]

    bad = ExecutionPayload(task_name="t", kwargs={"n": "x"}, storage_prefix="x")
    result = execute_task(bad, create_local_context(str(tmp_path / "m"), {}), lambda name: _entry(lambda c: None, Params))
    assert not result.success and "validation error" in result.error_message


def test_registry_returning_something_else_is_a_failure(tmp_path):
    ctx = create_local_context(str(tmp_path / "n"), {})
    payload = ExecutionPayload(task_name="t", kwargs={}, storage_prefix="x")
    result = execute_task(payload, ctx, lambda name: object())
    assert not result.success and "non-TaskEntry" in result.error_message


def test_payload_and_result_round_trip():
    payload = ExecutionPayload(task_name="t", kwargs={"a": 1}, storage_prefix="p", dependency_prefixes={"d": "q"})
    assert ExecutionPayload.from_dict(payload.to_dict()) == payload
    assert "queue" not in payload.to_dict()
    result = ExecutionResult(success=False, error_message="m")
    assert ExecutionResult.from_dict(result.to_dict()) == result
    with pytest.raises(pydantic.ValidationError):
        ExecutionPayload.from_dict({"task_name": "t", "kwargs": {}, "storage_prefix": "p", "extra": 1})


def test_top_level_exports_match_the_api_surface():
    for name in ["TaskContext", "create_local_context", "ExecutionPayload", "ExecutionResult", "execute_task",
                 "LocalStorageBackend", "StorageBackend", "compute_prefix"]:
        assert hasattr(muflow_native, name), name
