"""muflow_native: the muflow workflow engine on a native (Swift) core.

A drop-in replacement for muflow 0.4.0: ``import muflow_native as muflow``.
"""

import logging

from . import _ffi
from . import registry
from .as_muflow import install_as_muflow
from .backends import (
    CeleryCompletionCallback,
    CompletionCallback,
    ExecutionBackend,
    LocalBackend,
    LoggingCompletionCallback,
    NoOpCompletionCallback,
    PlanHandle,
    PlanProgress,
)
from .context import TaskContext, create_local_context, set_context_factory
from .executor import ExecutionPayload, ExecutionResult, execute_task
from .io import (
    ExtendedJSONEncoder,
    ResourceManager,
    dumps_json,
    is_local_file,
    is_url,
    load_xarray_from_bytes,
    loads_json,
    resolve_uri,
    save_xarray_to_bytes,
)
from .outputs import OutputFile, get_outputs_schema
from .pipeline import ForEach, Pipeline, Step
from .plan import TaskNode, TaskPlan
from .registry import IdentityKey, TaskEntry, register_task
from .storage import LocalStorageBackend, S3StorageBackend, StorageBackend, compute_prefix, compute_prefixes
from .testing import LocalExecutionResult, run_plan_locally

__version__ = _ffi.VERSION  # the library's too: _ffi refuses any other

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "__version__",
    "StorageBackend",
    "LocalStorageBackend",
    "S3StorageBackend",
    "compute_prefix",
    "compute_prefixes",
    "TaskContext",
    "create_local_context",
    "set_context_factory",
    "OutputFile",
    "get_outputs_schema",
    "registry",
    "IdentityKey",
    "TaskEntry",
    "register_task",
    "ExecutionPayload",
    "ExecutionResult",
    "execute_task",
    "TaskNode",
    "TaskPlan",
    "Pipeline",
    "Step",
    "ForEach",
    "ExecutionBackend",
    "LocalBackend",
    "PlanHandle",
    "PlanProgress",
    "ExtendedJSONEncoder",
    "dumps_json",
    "loads_json",
    "load_xarray_from_bytes",
    "save_xarray_to_bytes",
    "is_url",
    "is_local_file",
    "resolve_uri",
    "ResourceManager",
    "LocalExecutionResult",
    "run_plan_locally",
    "CompletionCallback",
    "CeleryCompletionCallback",
    "NoOpCompletionCallback",
    "LoggingCompletionCallback",
    "install_as_muflow",
]

try:
    import boto3 as _boto3  # noqa: F401
except ImportError:
    pass
else:
    from .backends.step_functions import StepFunctionsBackend, create_lambda_handler

    __all__ += ["StepFunctionsBackend", "create_lambda_handler"]
    del _boto3

try:
    from .backends import CeleryBackend, create_celery_task  # noqa: F401
except ImportError:  # celery is not installed
    pass
else:
    __all__ += ["CeleryBackend", "create_celery_task"]
