"""Running a pipeline locally in one call, for tests and scripts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

from .as_muflow import check_not_original
from .backends.base import LocalBackend

if TYPE_CHECKING:
    from .pipeline import Pipeline
    from .plan import TaskPlan


@dataclass
class LocalExecutionResult:
    """The outcome of `run_plan_locally`; the read helpers read the root node's outputs."""

    success: bool
    plan: "TaskPlan"
    output_dir: Path
    root_output_dir: Path
    error: Optional[str] = None

    def read_json(self, filename: str) -> Any:
        with open(self.root_output_dir / filename) as f:
            return json.load(f)

    def read_file(self, filename: str) -> bytes:
        return (self.root_output_dir / filename).read_bytes()

    def list_files(self) -> list[str]:
        return [entry.name for entry in self.root_output_dir.iterdir() if entry.is_file()]


def run_plan_locally(
    pipeline: "Pipeline",
    subject_key: str,
    kwargs: dict,
    output_dir: Union[str, Path],
    verbose: bool = False,
) -> LocalExecutionResult:
    """Builds `pipeline`'s plan under `output_dir` and runs it on a LocalBackend;
    nodes already complete there are skipped. A failed node makes `success` False
    and `error` its message rather than raising."""

    check_not_original(pipeline, "Pipeline", "run_plan_locally")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    base = str(output_dir.absolute())
    if verbose:
        print(f"Planning {pipeline.name}...")
    plan = pipeline.build_plan(subject_key=subject_key, kwargs=kwargs, base_prefix=base)
    if verbose:
        print(f"Plan has {len(plan.nodes)} nodes")
        print("Executing plan...")

    def on_complete(key: str) -> None:
        if verbose:
            print(f"  [DONE] {key[:50]}...")

    def on_failure(key: str, error: str) -> None:
        if verbose:
            print(f"  [FAIL] {key[:50]}...: {error}")

    error = None
    try:
        LocalBackend(base_path=base).submit_plan(plan, on_node_complete=on_complete, on_node_failure=on_failure)
    except RuntimeError as exc:
        error = str(exc)
    root = Path(plan.nodes[plan.root_key].storage_prefix)
    return LocalExecutionResult(success=error is None, plan=plan, output_dir=output_dir, root_output_dir=root,
                                error=error)
