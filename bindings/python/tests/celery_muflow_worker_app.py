"""A muflow 0.4.0 worker for the mixed-fleet test: `celery -A celery_muflow_worker_app
worker -Q mixed`, the same broker as celery_worker_app, muflow's own node task."""

import os
import time

import muflow
from celery import Celery
from muflow.backends.celery import create_celery_task

REDIS_URL = os.environ["MUFLOW_TEST_REDIS"]

app = Celery("muflow_tests", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(task_default_queue="default", broker_connection_retry_on_startup=True, worker_prefetch_multiplier=1)


@muflow.register_task("celery_test.mixed", queue="mixed")
def mixed(context):
    time.sleep(0.1)
    context.save_json("value.json", {"kwargs": dict(context.kwargs), "by": "muflow"})


create_celery_task(app, task_registry={"celery_test.mixed": muflow.registry.get("celery_test.mixed")})
