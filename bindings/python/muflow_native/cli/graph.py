"""A plan's DAG as Graphviz dot or Mermaid text, with node states when known.

Edges point from a dependency to the node that reads it (the direction data flows).
Plans of more than COLLAPSE_THRESHOLD nodes are drawn with one box per step and level
(``ml.compute_features x1000``) so that the picture stays readable.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Optional

from .. import _ffi
from ..plan import TaskPlan, plan_view
from ..storage.progress import LocalProgressChecker


COLLAPSE_THRESHOLD = 500

COMPLETE = "complete"
FAILED = "failed"
PENDING = "pending"

_DOT_STYLE = {
    COMPLETE: 'style="filled", fillcolor="#c8e6c9", color="#2e7d32"',
    FAILED: 'style="filled", fillcolor="#ffcdd2", color="#c62828"',
    PENDING: 'style="filled", fillcolor="#ffffff", color="#616161"',
}
_MERMAID_CLASS = {
    COMPLETE: "fill:#c8e6c9,stroke:#2e7d32",
    FAILED: "fill:#ffcdd2,stroke:#c62828",
    PENDING: "fill:#ffffff,stroke:#616161",
}
LEGEND = "legend: green = complete (manifest.json), red = failed (error.json), white = not run yet"


@dataclass
class NodeInfo:
    key: str
    function: str
    storage_prefix: str
    depends_on: list[str]


@dataclass
class _Box:
    """One drawn node: a plan node, or a group of them when collapsed."""

    id: str
    function: str
    label_detail: str
    members: int = 1
    first_key: str = ""
    states: Counter = field(default_factory=Counter)


def short_key(key: str) -> str:
    """The first 8 characters of the hash that ends a node key (or of the key)."""
    tail = key.rstrip("/").rsplit("/", 1)[-1]
    return tail[:8]


def node_infos(plan) -> list[NodeInfo]:
    """Key, function, prefix and dependencies of every node, without materialising the
    nodes' kwargs when the plan is a native one."""
    field_of = plan_view(plan).field if isinstance(plan, TaskPlan) else None
    infos = []
    for index, key in enumerate(plan.nodes):
        if field_of is not None:
            function = field_of(index, _ffi.NODE_FUNCTION).decode("utf-8", "surrogatepass")
            prefix = field_of(index, _ffi.NODE_STORAGE_PREFIX).decode("utf-8", "surrogatepass")
            depends_on = json.loads(field_of(index, _ffi.NODE_DEPENDS_ON))
        else:
            node = plan.nodes[key]
            function, prefix, depends_on = node.function, node.storage_prefix, list(node.depends_on)
        infos.append(NodeInfo(key, function, prefix, depends_on))
    return infos


def node_states(infos: list[NodeInfo]) -> dict[str, str]:
    """COMPLETE (a valid manifest.json), FAILED (error.json and no manifest) or PENDING,
    by node key, for nodes on local storage."""
    done = LocalProgressChecker().completed_prefixes([info.storage_prefix for info in infos])
    states = {}
    for info in infos:
        if info.storage_prefix in done:
            states[info.key] = COMPLETE
        elif os.path.exists(os.path.join(info.storage_prefix, "error.json")):
            states[info.key] = FAILED
        else:
            states[info.key] = PENDING
    return states


def _levels(plan) -> dict[str, int]:
    """Each node key's topological level, as the core decides it (mf_plan_levels); a
    plan of another library is read into a native one first."""
    if not isinstance(plan, TaskPlan):
        if not callable(getattr(plan, "to_json", None)):
            raise TypeError(f"a collapsed graph needs a TaskPlan (or a plan with to_json()), not {type(plan).__name__}")
        plan = TaskPlan.from_json(plan.to_json())
    return {key: level for level, keys in enumerate(plan.levels()) for key in keys}


def _boxes(plan, infos, states, collapse: bool):
    """(boxes, edges as (from id, to id, count), box id by node key)."""
    root = plan.root_key
    boxes: dict[object, _Box] = {}
    box_of: dict[str, str] = {}
    if collapse:
        level = _levels(plan)
        for info in infos:
            group = (level[info.key], info.function)
            box = boxes.get(group)
            if box is None:
                box = boxes[group] = _Box(f"g{len(boxes)}", info.function, "", first_key=info.key)
            else:
                box.members += 1
            box_of[info.key] = box.id
            if states is not None:
                box.states[states[info.key]] += 1
        for box in boxes.values():
            if box.members > 1:
                box.label_detail = f"x{box.members}"
            else:
                key = box.first_key
                box.label_detail = short_key(key) + (" (root)" if key == root else "")
    else:
        for index, info in enumerate(infos):
            detail = short_key(info.key) + (" (root)" if info.key == root else "")
            box = boxes[info.key] = _Box(f"n{index}", info.function, detail)
            box_of[info.key] = box.id
            if states is not None:
                box.states[states[info.key]] += 1
    edges: Counter = Counter()
    for info in infos:
        target = box_of[info.key]
        for dep in info.depends_on:
            edges[(box_of[dep], target)] += 1
    return list(boxes.values()), edges


def _box_state(box: _Box) -> Optional[str]:
    if not box.states:
        return None
    if box.states[FAILED]:
        return FAILED
    if box.states[COMPLETE] == box.members:
        return COMPLETE
    return PENDING


def _state_note(box: _Box) -> str:
    if not box.states or box.members == 1:
        return ""
    parts = [f"{box.states[COMPLETE]} done"]
    if box.states[FAILED]:
        parts.append(f"{box.states[FAILED]} failed")
    return ", ".join(parts)


def render_graph(plan, fmt: str, *, states: Optional[dict[str, str]] = None, collapse: Optional[bool] = None,
                 infos: Optional[list[NodeInfo]] = None, title: str = "") -> str:
    """The plan as ``fmt`` ("dot" or "mermaid"). `states` (node key -> COMPLETE, FAILED or
    PENDING) colours the nodes; `collapse` None collapses plans of more than
    COLLAPSE_THRESHOLD nodes."""
    if fmt not in ("dot", "mermaid"):
        raise ValueError(f"unknown graph format {fmt!r}; expected 'dot' or 'mermaid'")
    infos = infos if infos is not None else node_infos(plan)
    if collapse is None:
        collapse = len(infos) > COLLAPSE_THRESHOLD
    boxes, edges = _boxes(plan, infos, states, collapse)
    header = f"muflow plan: {len(infos)} nodes, root {plan.root_key}"
    if title:
        header = f"{title}: {header[len('muflow plan: '):]}"
    if collapse:
        header += (f"; collapsed to {len(boxes)} groups (one per function and level; "
                   "an edge label counts the node-to-node edges it stands for)")
    render = _dot if fmt == "dot" else _mermaid
    return render(boxes, edges, header, states is not None)


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _dot(boxes, edges, header, with_states) -> str:
    lines = ["digraph muflow {", f"  // {_dot_text(header)}"]
    if with_states:
        lines.append(f"  // {LEGEND}")
    lines += ["  rankdir=TB;", '  node [shape=box, fontname="Helvetica", fontsize=10];']
    for box in boxes:
        label = "\\n".join(_dot_text(part) for part in (box.function, box.label_detail, _state_note(box)) if part)
        attrs = [f'label="{label}"']
        state = _box_state(box)
        if state is not None:
            attrs.append(_DOT_STYLE[state])
        lines.append(f"  {box.id} [{', '.join(attrs)}];")
    for (source, target), count in edges.items():
        attr = f' [label="{count}"]' if count > 1 else ""
        lines.append(f"  {source} -> {target}{attr};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    return text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def _mermaid(boxes, edges, header, with_states) -> str:
    lines = ["flowchart TD", f"  %% {header}"]
    if with_states:
        lines.append(f"  %% {LEGEND}")
    for box in boxes:
        label = "<br/>".join(_mermaid_text(part) for part in (box.function, box.label_detail, _state_note(box)) if part)
        lines.append(f'  {box.id}["{label}"]')
    for (source, target), count in edges.items():
        arrow = f"-->|{count}|" if count > 1 else "-->"
        lines.append(f"  {source} {arrow} {target}")
    if with_states:
        by_state = defaultdict(list)
        for box in boxes:
            state = _box_state(box)
            if state is not None:
                by_state[state].append(box.id)
        for state, style in _MERMAID_CLASS.items():
            lines.append(f"  classDef {state} {style};")
        for state, ids in by_state.items():
            lines.append(f"  class {','.join(ids)} {state};")
    return "\n".join(lines) + "\n"
