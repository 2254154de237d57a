"""A second process for the Celery tests: reads PlanHandle JSON lines on stdin and
answers each with the handle's get_state() (or "cancelled" after a "cancel " line)."""

import sys

from celery_worker_app import app

from muflow_native import PlanHandle

PlanHandle.configure_celery(app)
for line in sys.stdin:
    command, _, handle = line.strip().partition(" ")
    handle = PlanHandle.from_json(handle)
    if command == "cancel":
        handle.cancel()
        print("cancelled", flush=True)
    else:
        print(handle.get_state(), flush=True)
