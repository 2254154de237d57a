"""The messages of a Celery run: the headers a node's message carries beyond muflow's
arguments (muflow's workers ignore them), and the queuing of a dependency-mode run's
nodes. Shared by the submitting backend (celery.py) and the workers (_celery_worker.py).
"""

from __future__ import annotations

from typing import Optional

from ._celery_runs import node_task_id

_RUN, _INDEX, _DEPENDENTS, _SENTINEL, _STORAGE = "muflow_run", "muflow_index", "muflow_dependents", "muflow_sentinel", \
    "muflow_storage"
# A node complete at submission whose dependency runs first: its worker checks it again.
_RECHECK = "muflow_recheck"


def send_nodes(app, task_name: str, run_id: str, messages: list[dict], storage_header: Optional[str],
               bucket: str) -> None:
    """Queues the nodes of a dependency-mode run, over one broker connection."""
    if not messages:
        return
    # ignore_result: a node's outcome is the run's record and the node's files; a stored
    # result per node would cost the sender a subscription per message.
    with app.producer_or_acquire() as producer:
        for m in messages:
            app.send_task(
                task_name, args=[m["key"], m["payload"], bucket], queue=m["queue"], ignore_result=True,
                task_id=node_task_id(run_id, m["i"]), producer=producer, argsrepr=m["key"], kwargsrepr="{}",
                headers=_headers(run_id, m["sentinel"], storage_header, **{_INDEX: m["i"],
                                                                       _DEPENDENTS: m["dependents"]},
                                 **({_RECHECK: True} if m.get("recheck") else {})))


def _headers(run_id: str, sentinel: bool, storage_header: Optional[str], **more) -> dict:
    """`sentinel`: the node is the plan's sentinel root (mf_plan_sentinel_index), which a
    worker completes as a no-op when no task of its name is registered."""
    headers = {_RUN: run_id, **more}
    if sentinel:
        headers[_SENTINEL] = True
    if storage_header:
        headers[_STORAGE] = storage_header
    return headers
