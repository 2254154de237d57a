"""TaskPlan and TaskNode: a static DAG held by the native core.

A plan built by `Pipeline.build_plan` or read by `TaskPlan.from_json` lives in the
library; `plan.nodes` is a read-only mapping that materialises a `TaskNode` the first
time a key is looked up, so that a plan of many nodes with large kwargs costs nothing
in Python until it is inspected. JSON in both directions is byte-identical to
muflow 0.4.0's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from ctypes import byref, c_size_t, c_void_p
from typing import Iterator, Optional

import pydantic

from . import _ffi
from ._handles import NativeHandle


class TaskNode(pydantic.BaseModel):
    """One node: a task, its parameters, its storage prefix and its edges."""

    model_config = pydantic.ConfigDict(extra="forbid")

    key: str
    function: str
    subject_key: str
    kwargs: dict
    storage_prefix: str
    depends_on: list[str] = []
    depended_on_by: list[str] = []
    output_files: list[str] = []
    analysis_id: Optional[int] = None
    dependency_access_map: dict[str, str] = {}

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict) -> "TaskNode":
        return cls.model_validate(data)


class _PlanModel(pydantic.BaseModel):
    """The pydantic shape of a plan, used only to validate plans given as Python data."""

    model_config = pydantic.ConfigDict(extra="forbid")

    nodes: dict[str, TaskNode]
    root_key: str


class _NativePlan(NativeHandle):
    _free = _ffi.mf_plan_free
    __slots__ = ()


class _NodeMapping(Mapping):
    """`plan.nodes`: node key to TaskNode, in the plan's node order."""

    def __init__(self, plan: "TaskPlan"):
        self._plan = plan
        self._materialised: dict[str, TaskNode] = {}

    def __getitem__(self, key: str) -> TaskNode:
        node = self._materialised.get(key)
        if node is None:
            if not isinstance(key, str) or key not in self._plan._index:
                raise KeyError(key)
            # The library validated the plan already; build the model without redoing it.
            data = json.loads(self._plan._field(self._plan._index[key], _ffi.NODE_JSON))
            node = self._materialised[key] = TaskNode.model_construct(**data)
        return node

    def __iter__(self) -> Iterator[str]:
        return iter(self._plan._keys)

    def __len__(self) -> int:
        return len(self._plan._keys)

    def __contains__(self, key) -> bool:
        return key in self._plan._index

    def __repr__(self) -> str:
        return f"<{len(self)} plan nodes>"


class TaskPlan:
    """A complete, static execution DAG: `nodes` by key and the `root_key` of the node
    the user asked for. Interchangeable with muflow's TaskPlan through JSON."""

    def __init__(self, nodes: Optional[dict] = None, root_key: Optional[str] = None, **extra):
        if extra:
            raise TypeError(f"TaskPlan got unexpected fields: {', '.join(sorted(extra))}")
        model = _PlanModel.model_validate({"nodes": nodes, "root_key": root_key})
        self._adopt(_read_native(model.model_dump_json().encode("utf-8")))

    @classmethod
    def _from_native(cls, native: _NativePlan) -> "TaskPlan":
        plan = cls.__new__(cls)
        plan._adopt(native)
        return plan

    def _adopt(self, native: _NativePlan) -> None:
        self._native = native
        self._keys: list[str] = json.loads(_ffi.call_returning_string(_ffi.mf_plan_node_keys, native))
        self._index = {key: i for i, key in enumerate(self._keys)}
        self._nodes = _NodeMapping(self)
        self._root_key: Optional[str] = None
        self._dependencies: Optional[list[list[int]]] = None
        self._ready = None

    def _field(self, index: int, field: int) -> bytes:
        return _ffi.call_returning_bytes(_ffi.mf_plan_node_field, self._native, index, field)

    @property
    def nodes(self) -> Mapping:
        return self._nodes

    @property
    def root_key(self) -> str:
        if self._root_key is None:
            self._root_key = self._keys[_ffi.mf_plan_root_index(self._native)]
        return self._root_key

    # -- Queries ----------------------------------------------------------------------

    def _dependency_indices(self) -> list[list[int]]:
        if self._dependencies is None:
            text = _ffi.call_returning_string(_ffi.mf_plan_field_values, self._native, _ffi.NODE_DEPENDS_ON)
            index = self._index
            self._dependencies = [[index[k] for k in deps] for deps in json.loads(text)]
        return self._dependencies

    def leaf_nodes(self) -> list[TaskNode]:
        """Nodes without dependencies, in node order."""
        keys = json.loads(_ffi.call_returning_string(_ffi.mf_plan_leaf_nodes, self._native))
        return [self._nodes[k] for k in keys]

    def ready_nodes(self, completed: set[str]) -> list[TaskNode]:
        """Nodes not in `completed` whose dependencies all are, in node order.

        Calls with a growing set (the usual loop) cost time proportional to the growth
        plus one C-speed subset check, not to the size of the plan."""
        if not isinstance(completed, (set, frozenset)):
            completed = set(completed)
        if self._ready is None:
            self._ready = _ReadyTracker(self._keys, self._index, self._dependency_indices())
        return [self._nodes[self._keys[i]] for i in self._ready.ready(completed)]

    def is_complete(self, completed: set[str]) -> bool:
        return self.root_key in completed

    def _storage_prefixes(self) -> dict[str, str]:
        text = _ffi.call_returning_string(_ffi.mf_plan_field_values, self._native, _ffi.NODE_STORAGE_PREFIX)
        return dict(zip(self._keys, json.loads(text)))

    def levels(self) -> list[list[str]]:
        """Node keys by topological level (level 0: no dependencies)."""
        return json.loads(_ffi.call_returning_string(_ffi.mf_plan_levels, self._native))

    # -- Serialisation ----------------------------------------------------------------

    def to_json(self) -> str:
        return _ffi.call_returning_bytes(_ffi.mf_plan_to_json, self._native).decode("utf-8", "surrogatepass")

    def to_dict(self) -> dict:
        return json.loads(self.to_json())

    @classmethod
    def from_json(cls, s) -> "TaskPlan":
        data = s.encode("utf-8", "surrogatepass") if isinstance(s, str) else bytes(s)
        return cls._from_native(_read_native(data))

    @classmethod
    def from_dict(cls, data: dict) -> "TaskPlan":
        return cls(**data) if isinstance(data, dict) else cls(nodes=None, root_key=None)

    # pydantic spellings, for code written against muflow's pydantic model
    model_dump_json = to_json
    model_validate_json = from_json
    model_validate = from_dict

    def model_dump(self, mode: str = "python") -> dict:
        return self.to_dict()

    def __eq__(self, other) -> bool:
        return isinstance(other, TaskPlan) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        return f"TaskPlan(nodes=<{len(self._keys)} nodes>, root_key={self.root_key!r})"


def _read_native(data: bytes) -> _NativePlan:
    handle = c_void_p()
    _ffi.check(_ffi.mf_plan_from_json(byref(handle), data, len(data)))
    return _NativePlan(handle)


class _ReadyTracker:
    """Incremental ready_nodes: remaining-dependency counters updated by the keys that
    joined the completed set since the previous call."""

    def __init__(self, keys, index, dependencies):
        self._keys = keys
        self._index = index
        self._dependencies = dependencies
        self._dependents = [[] for _ in keys]
        for node, deps in enumerate(dependencies):
            for d in deps:
                self._dependents[d].append(node)
        self._reset()

    def _reset(self):
        self._done: set[str] = set()
        self._remaining = [len(deps) for deps in self._dependencies]
        self._waiting = {i for i, n in enumerate(self._remaining) if n == 0}
        self._last: list[int] = []

    def ready(self, completed) -> list[int]:
        if not self._done.issubset(completed):
            self._reset()
        keys = self._keys
        newly = [i for i in self._last if keys[i] in completed]
        if len(completed) != len(self._done) + len(newly):
            index = self._index
            newly = [index[k] for k in completed.difference(self._done) if k in index]
        for i in newly:
            self._done.add(keys[i])
            self._waiting.discard(i)
            for j in self._dependents[i]:
                self._remaining[j] -= 1
                if self._remaining[j] == 0:
                    self._waiting.add(j)
        self._last = sorted(i for i in self._waiting if keys[i] not in completed)
        return self._last
