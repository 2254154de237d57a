"""The task registry: task functions by name (and by display name).

``@register_task("app.name", parameters=Model, ...)`` records a :class:`TaskEntry`;
pipelines and executors look tasks up with :func:`get`, which returns ``None`` for an
unknown name. Fields of the parameters model annotated ``Annotated[T, IdentityKey()]``
are the task's identity keys: only they enter a node's storage prefix.

Every change to the registry goes through :func:`_register_entry`, :func:`unregister`
or :func:`clear`, each of which calls one ``_on_*`` hook after the change to keep the
native mirror (which the plan builder and the executors read) in step.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Type

import pydantic

from . import _native_registry


@dataclass
class IdentityKey:
    """``Annotated`` marker for the parameters that identify a task's result."""


@dataclass
class TaskEntry:
    """A registered task.

    ``identity_keys`` lists the parameters that enter the storage prefix, or is None
    when all kwargs do (no parameters model, or none of its fields marked).
    ``context_type`` names the context the task expects (see
    :mod:`muflow_native.context.factory`); ``"task"`` is the plain TaskContext.
    """

    name: str
    fn: Callable
    display_name: str = ""
    queue: str = "default"
    parameters: Optional[Type[pydantic.BaseModel]] = None
    outputs: Optional[Type] = None
    identity_keys: Optional[List[str]] = None
    context_type: str = "task"


class RegistryError(Exception):
    """Base class of the registry's errors."""


class AlreadyRegisteredException(RegistryError):
    def __init__(self, name: str):
        self.name = name
        super().__init__(f"Task '{name}' is already registered.")


class NotRegisteredException(RegistryError):
    def __init__(self, name: str):
        self.name = name
        super().__init__(f"No task registered with name '{name}'.")


_lock = threading.RLock()
_by_name: Dict[str, TaskEntry] = {}
_by_display_name: Dict[str, TaskEntry] = {}


def _identity_keys(parameters: Optional[Type[pydantic.BaseModel]]) -> Optional[List[str]]:
    """The fields of ``parameters`` marked with IdentityKey, in the model's field order
    (inherited fields first); None when there are none."""
    if parameters is None:
        return None
    if not (isinstance(parameters, type) and issubclass(parameters, pydantic.BaseModel)):
        raise TypeError(f"parameters must be a pydantic.BaseModel subclass, got {parameters!r}")
    keys = [
        name
        for name, field in parameters.model_fields.items()
        if any(isinstance(marker, IdentityKey) for marker in field.metadata)
    ]
    return keys or None


def register_task(
    name: str,
    *,
    display_name: str = "",
    queue: str = "default",
    parameters: Optional[Type[pydantic.BaseModel]] = None,
    outputs: Optional[Type] = None,
    context: str = "task",
) -> Callable:
    """Decorator registering ``fn(context)`` as task ``name``; returns ``fn`` unchanged.

    Raises AlreadyRegisteredException when ``name`` is taken. ``parameters`` (a
    pydantic model) validates the kwargs into ``context.kwargs``; ``outputs`` is a
    class with a ``files`` dict of :class:`~muflow_native.outputs.OutputFile`;
    ``context`` is the context type the task runs with.
    """

    def decorator(fn: Callable) -> Callable:
        _register_entry(
            TaskEntry(
                name=name,
                fn=fn,
                display_name=display_name,
                queue=queue,
                parameters=parameters,
                outputs=outputs,
                identity_keys=_identity_keys(parameters),
                context_type=context,
            )
        )
        return fn

    return decorator


def _register_entry(entry: TaskEntry) -> None:
    with _lock:
        if entry.name in _by_name:
            raise AlreadyRegisteredException(entry.name)
        replaced_display = _by_display_name.get(entry.display_name)
        _by_name[entry.name] = entry
        if entry.display_name:
            _by_display_name[entry.display_name] = entry
        try:
            _on_registered(entry)
        except BaseException:
            del _by_name[entry.name]
            if entry.display_name:
                if replaced_display is None:
                    del _by_display_name[entry.display_name]
                else:
                    _by_display_name[entry.display_name] = replaced_display
            raise


def get(name: str) -> Optional[TaskEntry]:
    """The task registered as ``name``, or None."""
    return _by_name.get(name)


def get_by_display_name(display_name: str) -> Optional[TaskEntry]:
    """The task last registered with this display name, or None."""
    return _by_display_name.get(display_name)


def get_all() -> Dict[str, TaskEntry]:
    """A copy of the registry: name -> entry, in registration order."""
    with _lock:
        return dict(_by_name)


def get_names() -> List[str]:
    """The registered names, in registration order."""
    with _lock:
        return list(_by_name)


def clear() -> None:
    """Forgets every task (for tests)."""
    with _lock:
        _by_name.clear()
        _by_display_name.clear()
        _on_cleared()


def unregister(name: str) -> None:
    """Removes task ``name``; NotRegisteredException when there is none."""
    with _lock:
        entry = _by_name.pop(name, None)
        if entry is None:
            raise NotRegisteredException(name)
        # Another task may have taken over the display name since; leave it to that one.
        if entry.display_name and _by_display_name.get(entry.display_name) is entry:
            del _by_display_name[entry.display_name]
        _on_unregistered(name)


# Hooks for a native mirror of the registry; called with the lock held, after the
# change. An exception from _on_registered undoes the registration.


def _on_registered(entry: TaskEntry) -> None:
    _native_registry.add(entry)


def _on_unregistered(name: str) -> None:
    _native_registry.remove(name)


def _on_cleared() -> None:
    _native_registry.clear()
