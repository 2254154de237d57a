"""Execution backends."""

from .base import ExecutionBackend, LocalBackend, PlanNotRunningError
from .callbacks import (
    CeleryCompletionCallback,
    CompletionCallback,
    LoggingCompletionCallback,
    NoOpCompletionCallback,
)
from .handle import PlanHandle, PlanProgress

__all__ = [
    "ExecutionBackend",
    "LocalBackend",
    "PlanNotRunningError",
    "PlanHandle",
    "PlanProgress",
    "CompletionCallback",
    "CeleryCompletionCallback",
    "NoOpCompletionCallback",
    "LoggingCompletionCallback",
]

try:  # as in muflow: exported when celery is installed
    import celery as _celery  # noqa: F401
except ImportError:
    pass
else:
    from .celery import CeleryBackend, create_celery_task  # noqa: F401

    __all__ += ["CeleryBackend", "create_celery_task"]
