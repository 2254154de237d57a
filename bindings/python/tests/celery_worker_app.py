"""The Celery app the tests' workers run (`celery -A celery_worker_app worker`) and
the tests submit to: broker and result backend from MUFLOW_TEST_REDIS, the tasks
below, the seed's ML tasks, and muflow_native's node task."""

import os
import time
from typing import Annotated

import pydantic

from celery import Celery

import muflow_native
import muflow_native.examples.ml_task  # noqa: F401  (registers the ML tasks)
from muflow_native.backends.celery import create_celery_task

REDIS_URL = os.environ.get("MUFLOW_TEST_REDIS", "redis://127.0.0.1:6379/0")

app = Celery("muflow_tests", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    task_default_queue="default",
    broker_connection_retry_on_startup=True,
    worker_prefetch_multiplier=1,
    result_expires=3600,
)
if os.environ.get("MUFLOW_TEST_ACKS_LATE"):
    # A message is acknowledged once its task returns; one still unacknowledged 3 s after
    # its delivery (its worker died) goes back to its queue, checked every second. The
    # lock of that check expires after 2 s, not kombu's 5 minutes, for a worker killed
    # while holding it.
    app.conf.update(task_acks_late=True, task_reject_on_worker_lost=True, broker_transport_options={
        "visibility_timeout": 3, "unacked_restore_interval": 1, "unacked_restore_throttle": 1,
        "unacked_mutex_expire": 2})


def where(storage) -> str:
    """A node's storage as the tests name it: its directory, or bucket/prefix."""
    bucket = getattr(storage, "bucket", None)
    return f"{bucket}/{storage.storage_prefix}" if bucket else storage.storage_prefix


def _log_run(context) -> None:
    """Appends where this node writes to MUFLOW_TEST_LOG, one line per execution."""
    log = os.environ.get("MUFLOW_TEST_LOG")
    if log:
        with open(log, "a") as f:
            f.write(where(context.storage) + "\n")


@muflow_native.register_task("celery_test.noop")
def noop(context):
    pass


@muflow_native.register_task("celery_test.record", queue="records")
def record(context):
    """Writes its kwargs and what its dependencies wrote; logs the execution."""
    _log_run(context)
    inputs = {key: context.dependency(key).read_json("value.json") for key in context.dependency_keys()}
    context.save_json("value.json", {"kwargs": dict(context.kwargs), "inputs": inputs})


@muflow_native.register_task("celery_test.sleep")
def sleep(context):
    """Sleeps kwargs["seconds"]; logs the execution."""
    _log_run(context)
    time.sleep(context.kwargs.get("seconds", 0))
    context.save_json("slept.json", {"seconds": context.kwargs.get("seconds", 0)})


@muflow_native.register_task("celery_test.record_slowly", queue="isolated")
def record_slowly(context):
    """Logs the execution, sleeps kwargs["seconds"], writes its kwargs; on a queue
    that only the workers a test starts for it serve."""
    _log_run(context)
    time.sleep(context.kwargs.get("seconds", 0))
    context.save_json("value.json", {"kwargs": dict(context.kwargs)})


@muflow_native.register_task("celery_test.flaky")
def flaky(context):
    """Fails while the file kwargs["fail_while"] exists."""
    _log_run(context)
    context.save_text("partial.txt", "written before the failure")
    if os.path.exists(context.kwargs["fail_while"]):
        raise ValueError("told to fail")
    context.save_json("value.json", {"ok": True})


@muflow_native.register_task("celery_test.mixed", queue="mixed")
def mixed(context):
    """Served by muflow's workers and ours alike (see celery_muflow_worker_app)."""
    time.sleep(0.1)
    context.save_json("value.json", {"kwargs": dict(context.kwargs), "by": "muflow_native"})


class _Item(pydantic.BaseModel):
    n: Annotated[int, muflow_native.IdentityKey()]
    scale_file: str = ""


class _Total(pydantic.BaseModel):
    label: Annotated[str, muflow_native.IdentityKey()] = "total"
    ns: list = []
    scale_file: str = ""


@muflow_native.register_task("celery_test.item_v", parameters=_Item)
def item_v(context):
    """v = n times the number in kwargs["scale_file"] (1 without one); logs the execution."""
    _log_run(context)
    path = context.kwargs.scale_file
    factor = int(open(path).read()) if path and os.path.exists(path) else 1
    context.save_json("v.json", {"v": context.kwargs.n * factor})


@muflow_native.register_task("celery_test.total", parameters=_Total)
def total(context):
    """The sum of its dependencies' v (its prefix holds only `label`: unchanged when the
    items move); logs the execution."""
    _log_run(context)
    values = [context.dependency(key).read_json("v.json")["v"] for key in context.dependency_keys()]
    context.save_json("sum.json", {"sum": sum(values)})


@app.task(name="celery_test.completed")
def completed(plan_id, success, error):
    """A completion callback: records the notification under a Redis key."""
    app.backend.client.rpush("muflow-test:completed", f"{plan_id}|{success}|{error}")


execute_node = create_celery_task(app)
