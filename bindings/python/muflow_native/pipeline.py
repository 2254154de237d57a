"""Pipelines: the DAG of steps, compiled into a TaskPlan by the native planner."""

from __future__ import annotations

import json
from ctypes import POINTER, byref, c_int, c_size_t, c_void_p
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Union

from . import _ffi, _native_registry, _values
from ._handles import NativeHandle
from .as_muflow import check_not_original
from .plan import TaskPlan, plan_from_native

OverFunc = Callable[[str, dict], List[dict]]


@dataclass
class Step:
    """One node running `task` after the steps named in `after`; `kwargs_map(subject_key,
    kwargs)` may supply step-specific kwargs."""

    task: str
    after: list[str] = field(default_factory=list)
    kwargs_map: Optional[Callable[[str, dict], dict]] = None


@dataclass
class ForEach:
    """One node per dict that `over(subject_key, kwargs)` returns, each merged into the
    pipeline kwargs."""

    task: str
    over: OverFunc
    after: list[str] = field(default_factory=list)


class _NativePipeline(NativeHandle):
    _free = _ffi.mf_pipeline_free
    __slots__ = ()


@dataclass
class Pipeline:
    """A named DAG of steps; step names may not contain ':' (it indexes fan-outs)."""

    name: str
    display_name: str = ""
    steps: Dict[str, Union[Step, ForEach]] = field(default_factory=dict)

    def build_plan(self, subject_key: str, kwargs: dict, base_prefix: str = "muflow") -> TaskPlan:
        """Compiles the pipeline into a TaskPlan, as muflow does: `over` and `kwargs_map`
        are called once per step, in dependency order."""
        pipeline = self._native_pipeline()
        jobs = _JobSource(self.steps, subject_key, kwargs)
        callback = _ffi.JOBS_CALLBACK(jobs)
        kwargs_data = _values.encode_plain(kwargs)
        plan = c_void_p()
        status = _ffi.mf_pipeline_build(
            byref(plan), pipeline, _native_registry.registry, _ffi.encode_text(subject_key),
            _ffi.FORMAT_PICKLE, kwargs_data, len(kwargs_data),
            _ffi.encode_text(base_prefix if isinstance(base_prefix, str) else format(base_prefix)),
            0, callback, None,
        )
        jobs.raise_pending()
        _ffi.check(status)
        return plan_from_native(plan)

    def _native_pipeline(self) -> _NativePipeline:
        handle = c_void_p()
        _ffi.check(_ffi.mf_pipeline_new(byref(handle), _ffi.encode_text(self.name),
                                        _ffi.encode_text(self.display_name or "")))
        pipeline = _NativePipeline(handle)
        for name, step in self.steps.items():
            if not isinstance(step, (Step, ForEach)):
                check_not_original(step, "step", f"Pipeline {self.name!r}")
            kind = _ffi.STEP_FOREACH if isinstance(step, ForEach) else _ffi.STEP_SINGLE
            after = json.dumps(list(step.after)).encode("utf-8") if step.after else None
            _ffi.check(_ffi.mf_pipeline_add_step(pipeline, _ffi.encode_text(name), _ffi.encode_text(step.task),
                                                 kind, after))
        return pipeline


class _JobSource:
    """The jobs callback: runs a step's `over` or `kwargs_map` when the builder asks,
    keeps the pickled result alive until the next call, and carries any Python
    exception back across the library to be raised where build_plan was called."""

    def __init__(self, steps, subject_key, kwargs):
        self._steps = steps
        self._subject_key = subject_key
        self._kwargs = kwargs
        self._data = b""
        self._error: Optional[BaseException] = None

    def __call__(self, user_data, step_name, format_out, data_out, length_out) -> int:
        try:
            step = self._steps[step_name.decode("utf-8", "surrogatepass")]
            if isinstance(step, ForEach):
                jobs = step.over(self._subject_key, self._kwargs)
                if not isinstance(jobs, (list, tuple)):
                    jobs = list(jobs)
            elif step.kwargs_map:
                jobs = step.kwargs_map(self._subject_key, self._kwargs)
            else:
                data_out[0] = None
                return _ffi.OK
            self._data = _values.encode_plain(jobs)
            format_out[0] = _ffi.FORMAT_PICKLE
            data_out[0] = _ffi.ctypes.cast(_ffi.ctypes.c_char_p(self._data), c_void_p).value
            length_out[0] = len(self._data)
            return _ffi.OK
        except BaseException as error:  # carried across the C boundary, re-raised below
            self._error = error
            return _ffi.ERR_TASK_FAILED  # the user's code failed, not a cancellation

    def raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error
