"""Plan-level completion notifications: `notify(plan_id, success, error=None)`."""

from __future__ import annotations

import logging
from typing import Optional, Protocol


class CompletionCallback(Protocol):
    """Told once when a plan finishes, successfully or not."""

    def notify(self, plan_id: str, success: bool, error: Optional[str] = None) -> None: ...


class CeleryCompletionCallback:
    """Sends the Celery task `task_name` with arguments (plan_id, success, error)."""

    def __init__(self, celery_app, task_name: str, queue: str = "callbacks"):
        self._app = celery_app
        self._task_name = task_name
        self._queue = queue

    def notify(self, plan_id: str, success: bool, error: Optional[str] = None) -> None:
        self._app.send_task(self._task_name, args=[plan_id, success, error], queue=self._queue)


class NoOpCompletionCallback:
    """Ignores every notification."""

    def notify(self, plan_id: str, success: bool, error: Optional[str] = None) -> None:
        pass


class LoggingCompletionCallback:
    """Logs each notification to `logger` (kept as ``_log``, as muflow does): info on
    success, error on failure."""

    def __init__(self, logger: logging.Logger = None):
        self._log = logger or logging.getLogger(__name__)

    def notify(self, plan_id: str, success: bool, error: Optional[str] = None) -> None:
        if success:
            self._log.info("Plan completed: plan_id=%s", plan_id)
        else:
            self._log.error("Plan failed: plan_id=%s, error=%s", plan_id, error)
