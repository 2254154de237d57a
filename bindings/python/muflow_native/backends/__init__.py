"""Execution backends."""

from .base import ExecutionBackend, LocalBackend
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
    "PlanHandle",
    "PlanProgress",
    "CompletionCallback",
    "CeleryCompletionCallback",
    "NoOpCompletionCallback",
    "LoggingCompletionCallback",
]
