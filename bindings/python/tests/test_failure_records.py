"""A failed node's error.json and "Node X failed" message: formatted by the core alone
(mf_node_error_record, mf_node_failure_message), byte for byte as muflow 0.4.0 writes
and raises them, on every path that reports a failure."""

import json
import os

import pytest

import muflow_native as mf
from muflow_native._node_run import failure_message, record_failure
from muflow_native.context.task import TaskContext, create_local_context
from muflow_native.executor import ExecutionPayload, execute_task
from muflow_native.registry import TaskEntry

MESSAGES = ["boom", 'bad "value" in\tplace\n2nd line', "caf\u00e9 \u2603 \U0001F600", "nul \0 byte", "lone \udc80"]


def _failing(message):
    def task(context):
        context.save_text("z.txt", "z")
        context.save_text("a.txt", "a")
        raise RuntimeError(message)

    return task


def _traceback_field(data: bytes) -> str:
    return json.loads(data)["error_traceback"]


@pytest.mark.parametrize("message", MESSAGES)
def test_execute_task_error_json_is_byte_identical_to_muflows(tmp_path, message):
    muflow = pytest.importorskip("muflow")
    from muflow.executor import ExecutionPayload as MuflowPayload, execute_task as muflow_execute

    ours_dir, theirs_dir = tmp_path / "ours", tmp_path / "theirs"
    ours = execute_task(ExecutionPayload(task_name="t", kwargs={}, storage_prefix=str(ours_dir)),
                        create_local_context(str(ours_dir), {}),
                        lambda name: TaskEntry(name="t", fn=_failing(message)))
    theirs = muflow_execute(MuflowPayload(task_name="t", kwargs={}, storage_prefix=str(theirs_dir)),
                            muflow.create_local_context(str(theirs_dir), {}),
                            lambda name: muflow.TaskEntry(name="t", fn=_failing(message)))
    assert not ours.success and not theirs.success and ours.error_message == theirs.error_message == message
    our_bytes = (ours_dir / "error.json").read_bytes()
    their_bytes = (theirs_dir / "error.json").read_bytes()
    # The tracebacks name different files; everything else is the same bytes.
    ours_tb, theirs_tb = _traceback_field(our_bytes), _traceback_field(their_bytes)
    assert ours_tb == ours.error_traceback and "RuntimeError" in ours_tb
    assert our_bytes.replace(json.dumps(ours_tb).encode(), json.dumps(theirs_tb).encode()) == their_bytes


def test_the_local_backend_and_execute_task_write_the_same_error_json(tmp_path):
    @mf.register_task("layers.fails")
    def fails(context):
        context.save_text("partial.txt", "p")
        raise ValueError("broken \u00e9")

    try:
        plan = mf.Pipeline(name="p", steps={"only": mf.Step(task="layers.fails")}).build_plan(
            "s:1", {}, base_prefix=str(tmp_path / "run"))
        with pytest.raises(RuntimeError) as raised:
            mf.LocalBackend(str(tmp_path)).submit_plan(plan)
        node = next(n for n in plan.nodes.values() if n.function == "layers.fails")
        with open(os.path.join(node.storage_prefix, "error.json"), "rb") as f:
            native = f.read()
        direct = tmp_path / "direct"
        execute_task(ExecutionPayload(task_name="layers.fails", kwargs={}, storage_prefix=str(direct)),
                     create_local_context(str(direct), {}), mf.registry.get)
        written = (direct / "error.json").read_bytes()
        tb = _traceback_field(native)
        assert _traceback_field(written) != "" and tb != ""
        assert written.replace(json.dumps(_traceback_field(written)).encode(), json.dumps(tb).encode()) == native
        # The run's error: the core's message, then the traceback.
        assert str(raised.value) == failure_message("layers.fails", "broken \u00e9", tb)
        assert str(raised.value).startswith("Node layers.fails failed: broken \u00e9\nTraceback")
    finally:
        mf.registry.unregister("layers.fails")


def test_failure_message_matches_muflows_local_backend(tmp_path):
    muflow = pytest.importorskip("muflow")

    @muflow.register_task("layers.oracle_fails")
    def fails(context):
        raise RuntimeError("it broke")

    try:
        plan = muflow.Pipeline(name="p", steps={"only": muflow.Step(task="layers.oracle_fails")}).build_plan(
            "s:1", {}, base_prefix=str(tmp_path))
        with pytest.raises(RuntimeError) as raised:
            muflow.LocalBackend(str(tmp_path)).submit_plan(plan)
    finally:
        muflow.registry.unregister("layers.oracle_fails")
    text = str(raised.value)
    head, _, tb = text.partition("\n")
    assert failure_message("layers.oracle_fails", "it broke", tb) == text
    assert failure_message("layers.oracle_fails", "it broke") == head


def test_failure_message_keeps_any_text():
    assert failure_message("f", "m") == "Node f failed: m"
    assert failure_message("f", "m", "") == "Node f failed: m\n"
    assert failure_message("f.\udc80", "a\0b", "tb") == "Node f.\udc80 failed: a\0b\ntb"


class _OwnStorage:
    """A storage of the user's own, with muflow's save_json only."""

    def __init__(self):
        self.written_files = {"b.txt", "a.txt"}
        self.saved = {}

    def save_json(self, filename, data, allow_protected=False):
        self.saved[filename] = (data, allow_protected)


def test_record_failure_on_a_storage_of_the_users_own_gives_it_the_record():
    storage = _OwnStorage()
    record_failure(storage, "m\u00e9", "tb")
    data, allow_protected = storage.saved["error.json"]
    assert allow_protected is True
    assert list(data) == ["error_message", "error_traceback", "partial_manifest"]
    assert data == {"error_message": "m\u00e9", "error_traceback": "tb", "partial_manifest": {"files": ["a.txt", "b.txt"]}}


def test_a_context_built_by_hand_records_its_failure(tmp_path):
    from muflow_native.storage.local import LocalStorageBackend

    storage = LocalStorageBackend(str(tmp_path / "n"))
    context = TaskContext(storage, {})
    result = execute_task(ExecutionPayload(task_name="t", kwargs={}, storage_prefix=str(tmp_path / "n")), context,
                          lambda name: TaskEntry(name="t", fn=_failing("x")))
    assert not result.success
    record = json.loads((tmp_path / "n" / "error.json").read_text())
    assert record["partial_manifest"]["files"] == ["a.txt", "context.json", "z.txt"]
