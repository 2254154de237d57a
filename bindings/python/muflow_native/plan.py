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


class PlanView:
    """The package's view of a TaskPlan's native side, for its backends and CLI (not
    part of muflow's API; get it with `plan_view`). Keys, index and prefixes are read
    from the library once per plan, when first needed (a plan is immutable); fields
    are read on each call.

    - `native`: the native plan handle (pass it to mf_plan_* functions);
    - `keys`: the keys the nodes are filed under, in node order; `index`: key to
      position;
    - `field(i, f)`: one NODE_* field of node i, as the library's JSON bytes;
      `field_values(f)`: that field of every node, decoded;
    - `prefixes`: each node's storage prefix in node order; `storage_prefixes()`: a
      new dict from key to prefix;
    - `sentinel_key()`: the key of the pipeline's sentinel root, or None;
    - `dependency_groups()`: (group of each node, dependencies of each group).
    """

    __slots__ = ("native", "_shared", "_prefixes", "_prefix_map")

    def __init__(self, shared: "_PlanKeys"):
        self.native = shared.native
        self._shared = shared
        self._prefixes: Optional[list[str]] = None
        self._prefix_map: Optional[dict[str, str]] = None

    @property
    def keys(self) -> list[str]:
        return self._shared.keys

    @property
    def index(self) -> dict[str, int]:
        return self._shared.index

    def field(self, index: int, field: int) -> bytes:
        return _ffi.call_returning_bytes(_ffi.mf_plan_node_field, self.native, index, field)

    def field_values(self, field: int) -> list:
        return json.loads(_ffi.call_returning_string(_ffi.mf_plan_field_values, self.native, field))

    @property
    def prefixes(self) -> list[str]:
        if self._prefixes is None:
            self._prefixes = self.field_values(_ffi.NODE_STORAGE_PREFIX)
        return self._prefixes

    def storage_prefixes(self) -> dict[str, str]:
        """Node key to storage prefix, a new dict each call (each PlanHandle owns its
        own), copied from one made once: a copy costs a tenth of making it."""
        if self._prefix_map is None:
            self._prefix_map = dict(zip(self.keys, self.prefixes))
        return self._prefix_map.copy()

    def sentinel_key(self) -> Optional[str]:
        """The key of the sentinel root (see mf_plan_sentinel_index), or None."""
        found, index = c_int(), c_size_t()
        _ffi.check(_ffi.mf_plan_sentinel_index(byref(found), byref(index), self.native))
        return self.keys[index.value] if found.value else None

    def dependency_groups(self) -> list:
        """[group of each node, dependencies (node indices) of each group]."""
        return json.loads(_ffi.call_returning_string(_ffi.mf_plan_dependency_groups, self.native))


def plan_view(plan: "TaskPlan") -> PlanView:
    """The package's internal view of `plan` (see PlanView)."""
    return plan._view


def plan_from_native(handle) -> "TaskPlan":
    """A TaskPlan owning `handle`, a plan the library made (mf_pipeline_build)."""
    return TaskPlan._from_native(_NativePlan(handle))


class TaskPlan:
    """A complete, static execution DAG: `nodes` by key and the `root_key` of the node
    the user asked for. Interchangeable with muflow's TaskPlan through JSON."""

    def __init__(self, nodes: Optional[dict] = None, root_key: Optional[str] = None, **extra):
        if extra:
            raise TypeError(f"TaskPlan got unexpected fields: {', '.join(sorted(extra))}")
        model = _PlanModel.model_validate({"nodes": nodes, "root_key": root_key})
        data = model.model_dump_json().encode("utf-8")
        self._take_native(_read_native(data, len(data)))

    @classmethod
    def _from_native(cls, native: _NativePlan) -> "TaskPlan":
        plan = cls.__new__(cls)
        plan._take_native(native)
        return plan

    def _take_native(self, native: _NativePlan) -> None:
        # Keys and edges are fetched when first needed: a plan built or read only to be
        # written, stored or submitted never needs them in Python.
        self._plan_handle = native
        self._shared = _PlanKeys(native)
        self._view = PlanView(self._shared)
        self._nodes = _NodeMapping(self._shared)
        self._root_key: Optional[str] = None
        self._ready = None

    @property
    def nodes(self) -> Mapping:
        return self._nodes

    @property
    def root_key(self) -> str:
        if self._root_key is None:
            self._root_key = self._shared.keys[_ffi.mf_plan_root_index(self._plan_handle)]
        return self._root_key

    # -- Queries ----------------------------------------------------------------------

    def leaf_nodes(self) -> list[TaskNode]:
        """Nodes without dependencies, in node order."""
        keys = json.loads(_ffi.call_returning_string(_ffi.mf_plan_leaf_nodes, self._plan_handle))
        return [self._nodes[k] for k in keys]

    def _ready_tracker(self) -> "_ReadyNodes":
        if self._ready is None:
            view = self._view
            node_keys = view.field_values(_ffi.NODE_KEY)
            if node_keys == view.keys:
                node_keys = view.keys
            self._shared.node_keys = node_keys
            self._ready = _ReadyNodes(view.native, node_keys)
        return self._ready

    def ready_nodes(self, completed: set[str]) -> list[TaskNode]:
        """Nodes whose key is not in `completed` and whose dependencies all are, in node
        order.

        The usual loop, a set that grows by keys of the nodes this returned, costs each
        call one C-speed subset test of the set plus work in proportion to the keys
        added and the nodes ready, not to the plan (see _ReadyNodes)."""
        if not isinstance(completed, (set, frozenset)):
            completed = set(completed)
        node_at = self._nodes._at
        return [node_at(i) for i in self._ready_tracker().ready(completed)]

    def is_complete(self, completed: set[str]) -> bool:
        return self.root_key in completed

    def levels(self) -> list[list[str]]:
        """Node keys by topological level (level 0: no dependencies)."""
        return json.loads(_ffi.call_returning_string(_ffi.mf_plan_levels, self._plan_handle))

    # -- Serialisation ----------------------------------------------------------------

    def to_json(self) -> str:
        layout, length, ascii = c_void_p(), c_size_t(), c_int()
        _ffi.check(_ffi.mf_plan_json_layout(byref(layout), byref(length), byref(ascii), self._plan_handle))
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


class _ReadyNodes(NativeHandle):
    """ready_nodes as the core decides it (mf_ready_tracker), told of the changes of
    the caller's completed set since the previous call.

    muflow reads the set afresh on every call, so any change to it between calls
    counts, a removal included. The usual loop adds keys of the nodes the previous call
    returned; that is confirmed exactly by the size of the set and one C-speed subset
    test against a copy of the previous set, and those nodes are handed to the core by
    index (the fast path); anything else hands the core the keys that joined and left
    (the general path). test_ready_fast_path.py keeps the two in agreement with the
    core's stateless mf_plan_ready_nodes."""

    _free = _ffi.mf_ready_tracker_free

    def __init__(self, native, node_keys):
        handle = c_void_p()
        _ffi.check(_ffi.mf_ready_tracker_new(byref(handle), native))
        super().__init__(handle)
        self._node_keys = node_keys
        self._previous: Optional[set] = None  # a copy of the previous set
        self._last: list[int] = []
        self._out = ctypes.POINTER(c_size_t)()
        self._count = c_size_t()
        self._out_refs = (byref(self._out), byref(self._count))
        self._indices = (c_size_t * max(len(node_keys), 1))()

    def ready(self, completed) -> list[int]:
        # Both native calls hold the GIL (see _ffi), which keeps the tracker to one
        # thread at a time; like muflow's, a plan's ready_nodes is not meant for callers
        # on several threads at once.
        node_keys, previous = self._node_keys, self._previous
        # Nodes returned last time whose keys are now completed: not in the previous set
        # (they were not completed then), so if the set is the previous one plus these
        # keys, its size says so and the subset test confirms it.
        gained = [i for i in self._last if node_keys[i] in completed]
        keys = {node_keys[i] for i in gained}
        if previous is not None and len(completed) == len(previous) + len(keys) and previous <= completed:
            indices, count = self._indices, len(gained)
            if count == 1:
                indices[0] = gained[0]
            else:
                indices[:count] = gained
            status = _ffi.mf_ready_tracker_add_nodes(*self._out_refs, self._handle, indices,
                                                     _SIZES[count] if count < len(_SIZES) else c_size_t(count))
            if status:
                raise _ffi.error_for(status)
            for key in keys:
                # One add at a time, as the caller adds: the copy keeps the set's table
                # layout, so the next subset test reads both tables in step.
                previous.add(key)
        else:
            before = previous if previous is not None else set()
            added = [k for k in completed.difference(before) if isinstance(k, str)]
            removed = [k for k in before.difference(completed) if isinstance(k, str)]
            _ffi.check(_ffi.mf_ready_tracker_update(*self._out_refs, self, _keys_json(added), _keys_json(removed)))
            self._previous = set(completed)
        self._last = self._out[:self._count.value]
        return self._last


_SIZES = tuple(c_size_t(n) for n in range(64))  # counts as the argument-less call takes them


def _keys_json(keys: list) -> Optional[bytes]:
    return json.dumps(keys).encode("ascii") if keys else None
