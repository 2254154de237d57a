"""The bench's muflow_native worker: `celery -A native_worker worker`."""

import os

from celery import Celery

import muflow_native
from muflow_native.backends.celery import create_celery_task

import bench_tasks

app = Celery("bench_native", broker=os.environ["MUFLOW_TEST_REDIS"], backend=os.environ["MUFLOW_TEST_REDIS"])
app.conf.update(task_default_queue="default", worker_prefetch_multiplier=1, broker_connection_retry_on_startup=True)
bench_tasks.register(muflow_native)
create_celery_task(app)
