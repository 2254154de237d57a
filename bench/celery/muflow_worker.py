"""The bench's muflow 0.4.0 worker: `celery -A muflow_worker worker`."""

import os

import muflow
from celery import Celery
from muflow.backends.celery import create_celery_task

import bench_tasks

app = Celery("bench_muflow", broker=os.environ["MUFLOW_TEST_REDIS"], backend=os.environ["MUFLOW_TEST_REDIS"])
app.conf.update(task_default_queue="default", worker_prefetch_multiplier=1, broker_connection_retry_on_startup=True)
create_celery_task(app, task_registry=bench_tasks.register(muflow))
