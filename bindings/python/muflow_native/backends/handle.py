"""PlanHandle: a serialisable reference to a submitted plan, and its progress."""

from __future__ import annotations

from typing import ClassVar, Literal, Optional

import pydantic

from ..storage.progress import make_progress_checker
from ._celery_runs import RunStore


class PlanProgress(pydantic.BaseModel):
    """How many of a plan's nodes are complete, and which."""

    model_config = pydantic.ConfigDict(extra="forbid")

    total: int
    completed: int
    node_breakdown: dict[str, bool]

    @property
    def fraction(self) -> float:
        return self.completed / self.total if self.total else 0.0

    @property
    def is_complete(self) -> bool:
        return self.completed == self.total


_CELERY_STATES = {"PENDING": "pending", "STARTED": "running", "SUCCESS": "success", "FAILURE": "failure",
                  "REVOKED": "failure"}
_SFN_STATES = {"RUNNING": "running", "SUCCEEDED": "success", "FAILED": "failure", "TIMED_OUT": "failure",
               "ABORTED": "failure"}


class PlanHandle(pydantic.BaseModel):
    """Where a plan runs (`backend`, `plan_id`) and where its nodes write
    (`node_prefixes`, `storage_type`, `storage_config`); store `to_json()` and query it
    later from any process."""

    model_config = pydantic.ConfigDict(extra="forbid")

    backend: Literal["local", "celery", "step_functions"]
    plan_id: str
    node_prefixes: dict[str, str]
    storage_type: str
    storage_config: dict

    _celery_app: ClassVar[Optional[object]] = None

    @classmethod
    def configure_celery(cls, app) -> None:
        """The Celery app that get_state and cancel use for Celery handles."""
        cls._celery_app = app

    def get_state(self) -> str:
        """"pending", "running", "success" or "failure". A local plan's state is read
        from its nodes' storage, as `muflow status` reports it: "success" when every
        node is complete, "failure" when a node that is not has an ``error.json``,
        else "pending" (not run yet, interrupted, or its outputs were deleted).
        muflow 0.4.0 says "success" for every local handle."""
        if self.backend == "local":
            return local_state(self, self.get_progress())
        if self.backend == "celery":
            return celery_state(self._require_celery(), self.plan_id)
        if self.backend == "step_functions":
            import boto3

            status = boto3.client("stepfunctions").describe_execution(executionArn=self.plan_id)["status"]
            return _SFN_STATES.get(status, "pending")
        raise ValueError(f"Unknown backend: {self.backend!r}")

    def get_progress(self) -> PlanProgress:
        """Checks every node's manifest (one native call for local storage)."""
        checker = make_progress_checker(self.storage_type, self.storage_config)
        done = checker.completed_prefixes(list(self.node_prefixes.values()))
        breakdown = {key: prefix in done for key, prefix in self.node_prefixes.items()}
        return PlanProgress(total=len(breakdown), completed=sum(breakdown.values()), node_breakdown=breakdown)

    def cancel(self) -> None:
        if self.backend == "local":
            raise NotImplementedError("A local plan has finished by the time its handle exists; nothing to cancel")
        if self.backend == "celery":
            RunStore(self._require_celery()).cancel(self.plan_id)
            return
        if self.backend == "step_functions":
            import boto3

            boto3.client("stepfunctions").stop_execution(executionArn=self.plan_id,
                                                         cause="Cancelled by muflow PlanHandle")
            return
        raise ValueError(f"Unknown backend: {self.backend!r}")

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, s: str) -> "PlanHandle":
        return cls.model_validate_json(s)

    def _require_celery(self):
        if self._celery_app is None:
            raise RuntimeError("No Celery app configured. Call PlanHandle.configure_celery(app) first.")
        return self._celery_app


def local_state(handle: PlanHandle, progress: PlanProgress) -> str:
    """The state of a local plan with this progress: see PlanHandle.get_state."""
    if progress.is_complete:
        return "success"
    return "failure" if failed_nodes(handle, progress) else "pending"


def failed_nodes(handle: PlanHandle, progress: PlanProgress) -> list[str]:
    """Keys of the incomplete nodes of a plan on local storage that hold an error.json."""
    import os

    if handle.storage_type != "local":
        return []
    return [key for key, done in progress.node_breakdown.items()
            if not done and os.path.exists(os.path.join(handle.node_prefixes[key], "error.json"))]


def celery_state(app, plan_id: str) -> str:
    """The state of a Celery run, from the result backend, which holds it under the
    run's id (see backends/celery.py)."""
    return _CELERY_STATES.get(app.AsyncResult(plan_id).state, "pending")
