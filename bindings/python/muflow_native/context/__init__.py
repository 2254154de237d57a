"""What a task sees: its context (storage, dependencies, parameters, progress), and
how a task's declared context type is turned into one."""

from .factory import build_typed_context, get_context_factory, set_context_factory
from .task import TaskContext, create_local_context

__all__ = [
    "TaskContext",
    "create_local_context",
    "set_context_factory",
    "get_context_factory",
    "build_typed_context",
]
