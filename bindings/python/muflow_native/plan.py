"""TaskPlan and TaskNode: a static DAG held by the native core.

A plan built by `Pipeline.build_plan` or read by `TaskPlan.from_json` lives in the
library; `plan.nodes` is a read-only mapping that materialises a `TaskNode` the first
time a key is looked up, so that a plan of many nodes with large kwargs costs nothing
in Python until it is inspected. JSON in both directions is byte-identical to
muflow 0.4.0's.
"""

from __future__ import annotations

import ctypes
import io
import json
import pickle
from collections.abc import ItemsView, Mapping, ValuesView
from ctypes import byref, c_int, c_size_t, c_void_p
from typing import Iterator, Optional

import pydantic

from . import _ffi, _text
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


def _construct_model(cls, fields_set: frozenset):
    """A builder of `cls` instances from trusted field dicts: what `model_construct`
    does for a model without aliases, defaults to fill or post-init, in four attribute
    writes, when this pydantic's model_construct is seen to give the same object."""
    set_attribute = object.__setattr__

    def construct(data: dict):
        model = cls.__new__(cls)
        set_attribute(model, "__dict__", data)
        set_attribute(model, "__pydantic_fields_set__", set(fields_set))
        set_attribute(model, "__pydantic_extra__", None)
        set_attribute(model, "__pydantic_private__", None)
        return model

    sample = {"key": "k", "function": "f", "subject_key": "s", "kwargs": {"a": [1]}, "storage_prefix": "p",
              "depends_on": ["d"], "depended_on_by": [], "output_files": ["o"], "analysis_id": 3,
              "dependency_access_map": {"x": "d"}}
    try:
        if construct(dict(sample)).__getstate__() == cls.model_construct(**sample).__getstate__():
            return construct
    except Exception:  # another pydantic: keep to its public constructor
        pass
    return lambda data: cls.model_construct(**data)


_construct_node = _construct_model(TaskNode, frozenset(TaskNode.model_fields))
# Nodes built per library call: at most this many, and no more once their pickle
# reaches this many bytes.
_BATCH_NODES = 64
_BATCH_BYTES = 16384


class _NodePickler(NativeHandle):
    _free = _ffi.mf_node_pickler_free
    __slots__ = ()


class _NodeUnpickler(pickle.Unpickler):
    """Reads the library's node pickles, which hold plain data only: no class or
    function is ever looked up."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"node pickles name no class, got {module}.{name}")


class _PlanKeys:
    """What a plan and its node mapping both read: the native plan, the keys its nodes
    are filed under (fetched when first needed) and, once ready_nodes needed them, each
    node's own key. Both hold it, so that the mapping need not hold the plan, which
    holds the mapping: a dropped plan is freed at once, not by the cycle collector."""

    __slots__ = ("native", "count", "_list", "_index", "node_keys")

    def __init__(self, native: "_NativePlan"):
        self.native = native
        self.count: int = _ffi.mf_plan_node_count(native)
        self._list: Optional[list[str]] = None
        self._index: Optional[dict[str, int]] = None
        self.node_keys: Optional[list[str]] = None

    @property
    def keys(self) -> list[str]:
        if self._list is None:
            self._list = json.loads(_ffi.call_returning_string(_ffi.mf_plan_node_keys, self.native))
        return self._list

    @property
    def index(self) -> dict[str, int]:
        if self._index is None:
            self._index = {key: i for i, key in enumerate(self.keys)}
        return self._index


class _NodeMapping(Mapping):
    """`plan.nodes`: node key to TaskNode, in the plan's node order.

    Nodes come from the library as pickles (mf_node_pickler_nodes), read by pickle's C
    unpickler. A large value the plan holds once for many nodes (the ML pipeline's
    dataset list in every node's kwargs, a fan-in's dependency list) comes once, as a
    persistent id resolved through `_shared`: kwargs values are then one object for
    all nodes, as in muflow's build_plan; a node's kwargs dict, edge lists and access
    map are its own shallow copies."""

    def __init__(self, plan: _PlanKeys):
        self._plan = plan
        self._materialised: Optional[list] = None
        self._pickler: Optional[_NodePickler] = None
        self._shared: list = []

    def _load(self, function, *args):
        """Unpickles what `function(&out, &length, pickler, *args)` returns."""
        unpickler = _NodeUnpickler(io.BytesIO(_ffi.call_returning_bytes(function, self._pickler, *args)))
        unpickler.persistent_load = self._shared_value
        return unpickler.load()

    def _shared_value(self, pid: int):
        """persistent_load: shared value pid >> 1, fetched once; a shallow copy where
        pid & 1 says the node owns its own (see mf_node_pickler in muflow.h)."""
        number = pid >> 1
        value = self._shared[number]
        if value is None:
            value = self._shared[number] = self._load(_ffi.mf_node_pickler_shared, number)
        return value.copy() if pid & 1 else value

    def _at(self, index: int) -> TaskNode:
        """The node at `index`, built the first time it is asked for, together with
        the next few not built yet (nodes are mostly asked for in order) as long as
        their pickle stays small."""
        materialised = self._materialised
        if materialised is None:
            handle = c_void_p()
            _ffi.check(_ffi.mf_node_pickler_new(byref(handle), self._plan.native))
            self._pickler = _NodePickler(handle)
            self._shared = [None] * _ffi.mf_node_pickler_shared_count(self._pickler)
            materialised = self._materialised = [None] * len(self)
        node = materialised[index]
        if node is None:
            end = min(len(materialised), index + _BATCH_NODES)
            count = 1
            while index + count < end and materialised[index + count] is None:
                count += 1
            # The library validated the plan already; build the models without redoing it.
            node_keys = self._plan.node_keys
            for offset, data in enumerate(self._load(_ffi.mf_node_pickler_nodes, index, count, _BATCH_BYTES)):
                if node_keys is not None:
                    # The tracker's own str: a completed set holding it is probed by identity.
                    data["key"] = node_keys[index + offset]
                materialised[index + offset] = _construct_node(data)
            node = materialised[index]
        return node

    def _in_order(self) -> Iterator[TaskNode]:
        """The nodes in order, built a batch at a time as the iteration reaches them."""
        at = self._at
        for index in range(len(self)):
            materialised = self._materialised
            node = materialised[index] if materialised is not None else None
            yield node if node is not None else at(index)

    def values(self) -> "ValuesView":
        return _NodeValues(self)

    def items(self) -> "ItemsView":
        return _NodeItems(self)

    def __getitem__(self, key: str) -> TaskNode:
        index = self._plan.index.get(key) if isinstance(key, str) else None
        if index is None:
            raise KeyError(key)
        return self._at(index)

    def __iter__(self) -> Iterator[str]:
        return iter(self._plan.keys)

    def __len__(self) -> int:
        return self._plan.count

    def __contains__(self, key) -> bool:
        return key in self._plan.index

    def __repr__(self) -> str:
        return f"<{len(self)} plan nodes>"


class _NodeValues(ValuesView):
    """plan.nodes.values(), iterated without a key lookup per node."""

    def __iter__(self):
        return self._mapping._in_order()


class _NodeItems(ItemsView):
    """plan.nodes.items(), iterated without a key lookup per node."""

    def __iter__(self):
        return zip(self._mapping._plan.keys, self._mapping._in_order())


class TaskPlan:
    """A complete, static execution DAG: `nodes` by key and the `root_key` of the node
    the user asked for. Interchangeable with muflow's TaskPlan through JSON."""

    def __init__(self, nodes: Optional[dict] = None, root_key: Optional[str] = None, **extra):
        if extra:
            raise TypeError(f"TaskPlan got unexpected fields: {', '.join(sorted(extra))}")
        model = _PlanModel.model_validate({"nodes": nodes, "root_key": root_key})
        data = model.model_dump_json().encode("utf-8")
        self._adopt(_read_native(data, len(data)))

    @classmethod
    def _from_native(cls, native: _NativePlan) -> "TaskPlan":
        plan = cls.__new__(cls)
        plan._adopt(native)
        return plan

    def _adopt(self, native: _NativePlan) -> None:
        # Keys and edges are fetched when first needed: a plan built or read only to be
        # written, stored or submitted never needs them in Python.
        self._native = native
        self._shared = _PlanKeys(native)
        self._nodes = _NodeMapping(self._shared)
        self._prefixes: Optional[list[str]] = None
        self._prefix_map: Optional[dict[str, str]] = None
        self._root_key: Optional[str] = None
        self._ready = None

    @property
    def _keys(self) -> list[str]:
        """The keys the nodes are filed under, in node order."""
        return self._shared.keys

    @property
    def _index(self) -> dict[str, int]:
        return self._shared.index

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

    def leaf_nodes(self) -> list[TaskNode]:
        """Nodes without dependencies, in node order."""
        keys = json.loads(_ffi.call_returning_string(_ffi.mf_plan_leaf_nodes, self._native))
        return [self._nodes[k] for k in keys]

    def _ready_tracker(self) -> "_ReadyTracker":
        if self._ready is None:
            groups, dependencies = json.loads(_ffi.call_returning_string(_ffi.mf_plan_dependency_groups, self._native))
            node_keys = json.loads(_ffi.call_returning_string(_ffi.mf_plan_field_values, self._native, _ffi.NODE_KEY))
            if node_keys == self._keys:
                node_keys = self._keys
            self._shared.node_keys = node_keys
            self._ready = _ReadyTracker(self._keys, self._index, node_keys, groups, dependencies)
        return self._ready

    def ready_nodes(self, completed: set[str]) -> list[TaskNode]:
        """Nodes whose key is not in `completed` and whose dependencies all are, in node
        order.

        The usual loop, a set that grows by keys of the nodes this returned, costs each
        call one C-speed subset test of the set plus Python work in proportion to the
        keys added and the nodes ready, not to the plan (see _ReadyTracker)."""
        if not isinstance(completed, (set, frozenset)):
            completed = set(completed)
        node_at = self._nodes._at
        return [node_at(i) for i in self._ready_tracker().ready(completed)]

    def is_complete(self, completed: set[str]) -> bool:
        return self.root_key in completed

    @property
    def _prefix_list(self) -> list[str]:
        """Each node's storage prefix, in node order, read from the library once (a plan
        is immutable: a plan run again does not read them again)."""
        if self._prefixes is None:
            text = _ffi.call_returning_string(_ffi.mf_plan_field_values, self._native, _ffi.NODE_STORAGE_PREFIX)
            self._prefixes = json.loads(text)
        return self._prefixes

    def _storage_prefixes(self) -> dict[str, str]:
        """Node key to storage prefix, a new dict each call (each PlanHandle owns its
        own), copied from one made once: a copy costs a tenth of making it."""
        if self._prefix_map is None:
            self._prefix_map = dict(zip(self._keys, self._prefix_list))
        return self._prefix_map.copy()

    def _sentinel_key(self) -> Optional[str]:
        """The key of the sentinel root (see mf_plan_sentinel_index), or None."""
        found, index = c_int(), c_size_t()
        _ffi.check(_ffi.mf_plan_sentinel_index(byref(found), byref(index), self._native))
        return self._keys[index.value] if found.value else None

    def levels(self) -> list[list[str]]:
        """Node keys by topological level (level 0: no dependencies)."""
        return json.loads(_ffi.call_returning_string(_ffi.mf_plan_levels, self._native))

    # -- Serialisation ----------------------------------------------------------------

    def to_json(self) -> str:
        layout, length, ascii = c_void_p(), c_size_t(), c_int()
        _ffi.check(_ffi.mf_plan_json_layout(byref(layout), byref(length), byref(ascii), self._native))
        try:
            target = _text.new_ascii(length.value) if ascii.value else None
            if target is not None:
                _ffi.mf_plan_json_write(target[1], layout)
                return target[0]
            buffer = ctypes.create_string_buffer(length.value)
            _ffi.mf_plan_json_write(buffer, layout)
            return buffer.raw.decode("utf-8")
        finally:
            _ffi.mf_plan_json_free(layout)

    def to_dict(self) -> dict:
        return json.loads(self.to_json())

    @classmethod
    def from_json(cls, s) -> "TaskPlan":
        if isinstance(s, str):
            address = _text.ascii_view(s)
            if address is not None:
                return cls._from_native(_read_native(address, len(s)))
            s = s.encode("utf-8", "surrogatepass")
        data = bytes(s)
        return cls._from_native(_read_native(data, len(data)))

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
        return f"TaskPlan(nodes=<{self._shared.count} nodes>, root_key={self.root_key!r})"


def _read_native(data, length: int) -> _NativePlan:
    """The plan read from `length` bytes at `data` (bytes, or an address kept valid by
    the caller)."""
    handle = c_void_p()
    _ffi.check(_ffi.mf_plan_from_json(byref(handle), data, length))
    return _NativePlan(handle)


class _ReadyTracker:
    """Incremental ready_nodes over a plan's grouped edges.

    Nodes with the same depends_on list form a group; each group counts its
    dependencies not yet completed, and `ready` holds the nodes of the groups at zero
    whose own key is not completed. A call applies only the keys that joined (or left)
    the completed set since the previous call.

    muflow reads the set afresh on every call, so any change to it between calls
    counts, a removal included. The usual loop adds keys of the nodes the previous
    call returned; that is confirmed exactly by the size of the set and one C-speed
    subset test against a copy of the previous set (cost: one hash probe per key of
    the set, no Python work per node); anything else takes a full comparison."""

    def __init__(self, entry_keys, entry_index, node_keys, group_of_node, group_dependencies):
        self._entry_index = entry_index
        self._node_keys = node_keys
        # Node keys equal the filing keys except in hand-made plan JSON.
        self._by_node_key = None if node_keys == entry_keys else _indices_by_value(node_keys)
        self._group_of_node = group_of_node
        self._members = [[] for _ in group_dependencies]
        for node, group in enumerate(group_of_node):
            self._members[group].append(node)
        self._dependents = [[] for _ in entry_keys]
        for group, dependencies in enumerate(group_dependencies):
            for dependency in dependencies:
                self._dependents[dependency].append(group)
        self._remaining = [len(dependencies) for dependencies in group_dependencies]
        self._done = [False] * len(node_keys)
        self._ready = {node for group, n in enumerate(self._remaining) if n == 0 for node in self._members[group]}
        self._seen: set[str] = set()  # the plan's keys in the previous set
        self._previous: Optional[set] = None  # a copy of the previous set
        self._last: list[int] = []

    def _nodes_keyed(self, key: str, entry: Optional[int]):
        """The nodes whose own key is `key` (`entry`: the node filed under it, if any)."""
        if self._by_node_key is None:
            return () if entry is None else (entry,)
        return self._by_node_key.get(key, ())

    def _relevant(self, key) -> bool:
        return key in self._entry_index or (self._by_node_key is not None and key in self._by_node_key)

    def _add(self, key: str) -> None:
        self._seen.add(key)
        entry = self._entry_index.get(key)
        done, ready = self._done, self._ready
        if self._by_node_key is None:
            if entry is not None:
                done[entry] = True
                ready.discard(entry)
        else:
            for node in self._by_node_key.get(key, ()):
                done[node] = True
                ready.discard(node)
        if entry is not None:
            remaining, members = self._remaining, self._members
            for group in self._dependents[entry]:
                remaining[group] -= 1
                if remaining[group] == 0:
                    ready.update(m for m in members[group] if not done[m])

    def _remove(self, key: str) -> None:
        self._seen.discard(key)
        entry = self._entry_index.get(key)
        for node in self._nodes_keyed(key, entry):
            self._done[node] = False
            if self._remaining[self._group_of_node[node]] == 0:
                self._ready.add(node)
        if entry is not None:
            for group in self._dependents[entry]:
                if self._remaining[group] == 0:
                    self._ready.difference_update(self._members[group])
                self._remaining[group] += 1

    def ready(self, completed) -> list[int]:
        node_keys, seen, previous = self._node_keys, self._seen, self._previous
        # Keys of the nodes returned last time that are now completed: not in the
        # previous set (they were not completed then), so if the set is the previous
        # one plus these, its size says so and the subset test confirms it.
        gained = {node_keys[i] for i in self._last if node_keys[i] in completed} - seen
        if previous is not None and len(completed) == len(previous) + len(gained) and previous <= completed:
            for key in gained:
                self._add(key)
                # One add at a time, as the caller adds: the copy keeps the set's table
                # layout, so the next subset test reads both tables in step.
                previous.add(key)
        else:
            for key in seen.difference(completed):
                self._remove(key)
            for key in completed.difference(seen):
                if isinstance(key, str) and self._relevant(key):
                    self._add(key)
            self._previous = set(completed)
        self._last = sorted(self._ready)
        return self._last


def _indices_by_value(values) -> dict:
    positions: dict = {}
    for i, value in enumerate(values):
        positions.setdefault(value, []).append(i)
    return positions
