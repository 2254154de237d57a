"""Choosing the context a task runs with.

A task declares the kind of context it wants (``register_task(context="...")``);
``"task"``, the default, is the plain TaskContext. A domain package installs one
factory, ``factory(base_context, context_type, context_data) -> context``, that builds
richer contexts for its own types (typically a TaskContext subclass sharing the base
context's storage, dependencies and progress reporter); ``context_data`` is the node's
``context.json`` payload. The engine itself knows only the type names.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

ContextFactory = Callable[[Any, str, dict], Any]

_factory: Optional[ContextFactory] = None


def set_context_factory(factory: Optional[ContextFactory]) -> None:
    """Installs the process-wide context factory; ``None`` removes it."""
    global _factory
    _factory = factory


def get_context_factory() -> Optional[ContextFactory]:
    """The installed context factory, or None."""
    return _factory


def build_typed_context(base_context, context_type: str, context_data: dict):
    """The context for a task of ``context_type``: ``base_context`` itself for the
    plain type (``"task"`` or empty) or when no factory is installed, else what the
    factory returns (given ``{}`` for missing ``context_data``)."""
    factory = _factory
    if not context_type or context_type == "task" or factory is None:
        return base_context
    return factory(base_context, context_type, context_data or {})
