"""Steps as a vertical flow (the editor's and the process page's shape) and back.

A *flow* is a list of nodes, each a step's own keys (``id``, ``type``, ...) without
``next``/``yes``/``no``; a condition node has ``yes`` and ``no`` flows of its own. The
nodes of a flow follow each other; after a condition both branches go on with the
node after it (or finish when there is none).

``to_steps`` gives the steps list the API takes (the automation service checks it);
``to_flow`` draws a steps list as a flow, or gives ``None`` when the steps jump in a
way a flow cannot show (a loop back through a wait, say): such a process is edited
as JSON. Every drawing is checked: its steps go exactly where the original ones go.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tidings.automation.step_kinds.registry import STEPS
from tidings.errors import Invalid

BRANCHES = ("yes", "no")
LINKS = ("next", *BRANCHES)
MAX_DEPTH = 20
MAX_NODES = 100

Node = dict[str, Any]
Flow = list[Node]


class _NotAFlow(Exception):
    pass


def _is_condition(step: Mapping[str, Any]) -> bool:
    kind = STEPS.get(str(step.get("type")))
    return kind is not None and bool(kind.branches)


def _is_terminal(step: Mapping[str, Any]) -> bool:
    kind = STEPS.get(str(step.get("type")))
    return kind is not None and kind.terminal


# -- flow -> steps ------------------------------------------------------------------


def _check(flow: Any, path: str, depth: int, seen: set[str]) -> None:
    if not isinstance(flow, list):
        raise Invalid(f"{path}: must be a list of steps")
    if depth > MAX_DEPTH:
        raise Invalid(f"{path}: conditions nested more than {MAX_DEPTH} deep")
    for n, node in enumerate(flow):
        where = f"{path}[{n}]"
        if not isinstance(node, dict) or not isinstance(node.get("id"), str):
            raise Invalid(f"{where}: must be a step with an id")
        if node["id"] in seen:
            raise Invalid(f"{where}.id: {node['id']!r} is used by an earlier step")
        seen.add(node["id"])
        if len(seen) > MAX_NODES:
            raise Invalid(f"{path}: at most {MAX_NODES} steps")
        if "next" in node:
            raise Invalid(f"{where}.next: a flow's steps follow each other")
        if _is_condition(node):
            for branch in BRANCHES:
                _check(node.get(branch, []), f"{where}.{branch}", depth + 1, seen)
        elif any(branch in node for branch in BRANCHES):
            raise Invalid(f"{where}: only a condition has yes/no branches")


def to_steps(flow: Any) -> list[dict[str, Any]]:
    """The steps list of a flow (``Invalid`` when the flow itself is malformed; the
    steps are checked by the automation service)."""
    ids: set[str] = set()
    _check(flow, "flow", 0, ids)
    # Blocks of steps that fall through to each other: a flow is cut after each
    # condition (whose branches and the step after it are reached by id); a block ends
    # by going to ``after`` (the step after the condition of its branch), else finishes.
    blocks: list[tuple[Flow, str | None]] = []

    def add(flow: Flow, after: str | None) -> None:
        start = 0
        for n, node in enumerate(flow):
            then = flow[n + 1]["id"] if n + 1 < len(flow) else after
            if _is_condition(node):
                blocks.append((flow[start : n + 1], then))
                start = n + 1
                for branch in BRANCHES:
                    if node.get(branch):
                        add(node[branch], then)
        if start < len(flow) or not flow:
            blocks.append((flow[start:], after))

    add(flow, None)

    def is_open(item: tuple[Flow, str | None]) -> bool:
        block, after = item
        return bool(block) and after is None and not _stops(block[-1])

    # Blocks that end the run go last: the list's last step needs no finish step.
    ordered = [blocks[0], *sorted(blocks[1:], key=is_open)]
    out: list[dict[str, Any]] = []
    for index, (block, after) in enumerate(ordered):
        for n, node in enumerate(block):
            then = block[n + 1]["id"] if n + 1 < len(block) else after
            step = {k: v for k, v in node.items() if k not in BRANCHES}
            out.append(step)
            if _is_condition(node):
                for branch in BRANCHES:
                    nodes: Flow = node.get(branch) or []
                    step[branch] = nodes[0]["id"] if nodes else then
            elif n + 1 < len(block) or _is_terminal(node):
                continue
            elif then is not None:
                step["next"] = then
            elif index + 1 < len(ordered) and not _stops(node):
                step["next"] = _fresh_id(f"{node['id']}-end", ids)
                out.append({"id": step["next"], "type": "finish"})
    return out


def _stops(node: Mapping[str, Any]) -> bool:
    return _is_condition(node) or _is_terminal(node)


def _fresh_id(wanted: str, ids: set[str]) -> str:
    base = wanted[:58]
    candidate, n = base, 2
    while candidate in ids:
        candidate, n = f"{base}-{n}", n + 1
    ids.add(candidate)
    return candidate


# -- steps -> flow ------------------------------------------------------------------


def _successors(steps: list[dict[str, Any]]) -> dict[str, tuple[str | None, ...]]:
    """Where each step goes: its branches, else ``next``, else the following step."""
    out: dict[str, tuple[str | None, ...]] = {}
    for n, step in enumerate(steps):
        if _is_condition(step):
            out[step["id"]] = tuple(step.get(b) for b in BRANCHES)
        elif _is_terminal(step):
            out[step["id"]] = (None,)
        elif step.get("next") is not None:
            out[step["id"]] = (step["next"],)
        else:
            out[step["id"]] = (steps[n + 1]["id"] if n + 1 < len(steps) else None,)
    return out


def to_flow(steps: Any) -> Flow | None:
    """The steps drawn as a flow, or ``None`` when they cannot be drawn as one."""
    if not isinstance(steps, list) or not steps:
        return [] if steps == [] else None
    if not all(isinstance(s, dict) and isinstance(s.get("id"), str) for s in steps):
        return None
    goes = _successors(steps)
    by_id = {s["id"]: s for s in steps}
    visited: set[str] = set()

    def reach(start: str | None) -> list[str]:
        order: list[str] = []
        queue = [start]
        while queue:
            current = queue.pop(0)
            if current is None or current in order or current not in goes:
                continue
            order.append(current)
            queue.extend(goes[current])
        return order

    def walk(start: str | None, stop: str | None, depth: int) -> Flow:
        if depth > MAX_DEPTH:
            raise _NotAFlow
        flow: Flow = []
        current = start
        while current is not None and current != stop:
            if current in visited or current not in by_id:
                raise _NotAFlow
            visited.add(current)
            step = by_id[current]
            node = {k: v for k, v in step.items() if k not in LINKS}
            if _is_condition(step):
                yes, no = step.get("yes"), step.get("no")
                if yes is None or no is None:
                    if stop is not None and (yes, no) != (None, None):
                        raise _NotAFlow
                    merge = None
                else:
                    from_yes = set(reach(yes))
                    merge = next((s for s in reach(no) if s in from_yes), None)
                node["yes"] = walk(yes, merge, depth + 1)
                node["no"] = walk(no, merge, depth + 1)
                flow.append(node)
                current = merge
            else:
                flow.append(node)
                current = goes[current][0]
        return flow

    try:
        flow = walk(steps[0]["id"], None, 0)
    except (_NotAFlow, RecursionError):
        return None
    if len(visited) != len(steps) or not _same_paths(steps, to_steps_or_none(flow)):
        return None
    return flow


def to_steps_or_none(flow: Flow) -> list[dict[str, Any]] | None:
    """``to_steps`` for a flow drawn here (``None`` if it does not make one)."""
    try:
        return to_steps(flow)
    except Invalid:
        return None


def _same_paths(steps: list[dict[str, Any]], again: list[dict[str, Any]] | None) -> bool:
    """Whether every step goes where it went (a finish step added to close a branch
    counts as finishing)."""
    if again is None or again[0]["id"] != steps[0]["id"]:
        return False
    before, after = _successors(steps), _successors(again)
    added = {s["id"] for s in again} - set(before)

    def plain(target: str | None) -> str | None:
        return None if target in added else target

    return all(tuple(plain(t) for t in after.get(i, ())) == goes for i, goes in before.items())
