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
