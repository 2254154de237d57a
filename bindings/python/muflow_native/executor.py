"""Running one node: the protocol every backend shares.

A node whose storage already holds a complete manifest is skipped (cached). Otherwise
``context.json`` is written, the parameters are validated, the task runs, and then
either ``manifest.json`` (success) or ``error.json`` (failure, with the files written
so far) records the outcome; a failed node is retried on the next run.
"""

from __future__ import annotations

import traceback
from typing import Callable, Optional

import pydantic

from ._node_run import prepared_context, record_failure, task_entry
from .context.task import TaskContext


class ExecutionPayload(pydantic.BaseModel):
    """Everything needed to run one node, serialisable for remote workers."""

    model_config = pydantic.ConfigDict(extra="forbid")

    task_name: str
    kwargs: dict
    storage_prefix: str
    context_data: dict = {}
    dependency_prefixes: dict[str, str] = {}
    queue: Optional[str] = None

    def to_dict(self) -> dict:
        return self.model_dump(mode="json", exclude_none=True)

    @classmethod
    def from_dict(cls, data: dict) -> "ExecutionPayload":
        return cls.model_validate(data)


class ExecutionResult(pydantic.BaseModel):
    """The outcome of one node."""

    model_config = pydantic.ConfigDict(extra="forbid")

    success: bool
    cached: bool = False
    error_message: Optional[str] = None
    error_traceback: Optional[str] = None

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict) -> "ExecutionResult":
        return cls.model_validate(data)


def execute_task(payload: ExecutionPayload, context: TaskContext, get_entry: Callable) -> ExecutionResult:
    """Runs the node described by `payload` in `context`, looking its task up with
    `get_entry(name) -> TaskEntry`. Never raises for a task's failure: the result and
    ``error.json`` carry it."""
    if context.storage.is_cached():
        return ExecutionResult(success=True, cached=True)
    try:
        context.storage.save_json("context.json", payload.context_data, allow_protected=True)
        entry = task_entry(get_entry, payload.task_name)
        context = prepared_context(context, entry, payload.kwargs, payload.context_data)
        entry.fn(context)
        context.storage.write_manifest()
        return ExecutionResult(success=True)
    except Exception as exc:
        details = traceback.format_exc()
        record_failure(context.storage, str(exc), details)
        return ExecutionResult(success=False, error_message=str(exc), error_traceback=details)
