"""One switch for code written for muflow: after ``install_as_muflow()``, every
``import muflow`` and ``import muflow.X`` (``from muflow.backends import LocalBackend``,
``from muflow import registry``) gives muflow_native's module of the same path, the very
same module object, even with muflow itself installed. `muflow run` does it when the
environment variable ``MUFLOW_NATIVE_AS_MUFLOW=1`` is set.

Without the switch such lines reach the original library, and its objects meeting
muflow_native's (a muflow Pipeline, plan, registry or TaskEntry) raise a TypeError that
names the mix and this switch.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types

ENV_SWITCH = "MUFLOW_NATIVE_AS_MUFLOW"

SWITCH_HINT = (
    "call muflow_native.install_as_muflow() at program start (or set MUFLOW_NATIVE_AS_MUFLOW=1 "
    "for `muflow run`) so that every `import muflow` gives muflow_native"
)


def _native_name(name: str) -> str:
    return "muflow_native" + name[len("muflow"):]


def _is_muflow_name(name: str) -> bool:
    return name == "muflow" or name.startswith("muflow.")


class _MuflowAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``muflow`` and ``muflow.X`` as ``muflow_native`` and ``muflow_native.X``."""

    def __init__(self):
        self._native_specs: dict = {}

    def find_spec(self, fullname, path=None, target=None):
        if not _is_muflow_name(fullname):
            return None
        # Imported here, so that a missing module is muflow_native's ModuleNotFoundError
        # rather than a reason to look further and find the original library.
        native = importlib.import_module(_native_name(fullname))
        return importlib.util.spec_from_loader(fullname, self, is_package=hasattr(native, "__path__"))

    def create_module(self, spec):
        module = importlib.import_module(_native_name(spec.name))
        self._native_specs[module.__name__] = module.__spec__
        return module

    def exec_module(self, module):
        # The import system has just given the module this alias's spec: give it back its
        # own, so that muflow_native's modules stay what they are (reload, pickling).
        native_spec = self._native_specs.pop(module.__name__, None)
        if native_spec is not None:
            module.__spec__ = native_spec


def install_as_muflow() -> None:
    """Makes every later ``import muflow`` / ``import muflow.X`` give muflow_native's
    module. Call it at program start, before anything imports muflow: a RuntimeError
    names the modules of the original library already imported. Calling it again does
    nothing."""
    if any(isinstance(finder, _MuflowAlias) for finder in sys.meta_path):
        return
    original = sorted(name for name, module in list(sys.modules.items())
                      if _is_muflow_name(name) and not _is_native(module))
    if original:
        shown = ", ".join(original[:5]) + (", ..." if len(original) > 5 else "")
        raise RuntimeError(f"install_as_muflow() must run before anything imports muflow; the original "
                           f"library is already imported ({shown})")
    sys.meta_path.insert(0, _MuflowAlias())


def installed() -> bool:
    """Whether install_as_muflow() is in effect."""
    return any(isinstance(finder, _MuflowAlias) for finder in sys.meta_path)


def _is_native(module) -> bool:
    name = getattr(module, "__name__", "")
    return name == "muflow_native" or name.startswith("muflow_native.")


def original_muflow_origin(obj):
    """The module of the original muflow library that `obj` (an instance, class or
    function) comes from, or None."""
    if isinstance(obj, (types.FunctionType, types.MethodType, type)):
        module = getattr(obj, "__module__", None)
    else:
        module = type(obj).__module__
    return module if isinstance(module, str) and _is_muflow_name(module) else None


class MixedLibrariesError(TypeError):
    """An object of the original muflow library was handed to muflow_native. A run
    raises it from submit_plan rather than recording it as a failure of the node."""


def check_not_original(obj, what: str, where: str) -> None:
    """Raises TypeError when `obj` (a `what`, handed to `where`) comes from the original
    muflow library rather than muflow_native."""
    module = original_muflow_origin(obj)
    if module is not None:
        name = getattr(obj, "__qualname__", None) if isinstance(obj, (types.FunctionType, type)) else None
        name = name or type(obj).__qualname__
        raise MixedLibrariesError(f"{where} was given a {what} from the original muflow library ({module}.{name}), "
                        f"not from muflow_native: the two libraries are mixed. Import it from muflow_native, "
                        f"or {SWITCH_HINT}")


def registered_with_original_muflow(name: str) -> bool:
    """Whether the original muflow library, if already imported, has a task `name`."""
    registry = sys.modules.get("muflow.registry")
    if registry is None or _is_native(registry):
        return False
    try:
        return registry.get(name) is not None
    except Exception:
        return False


def mixed_task_error(name: str) -> MixedLibrariesError:
    """The error for a task registered with the original muflow only."""
    return MixedLibrariesError(f"task {name!r} is registered with the original muflow library, not with "
                               f"muflow_native: the two libraries are mixed (register it with muflow_native's "
                               f"register_task, or {SWITCH_HINT})")
