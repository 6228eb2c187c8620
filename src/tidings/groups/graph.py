"""Dependencies between groups (``in_group`` leaves): checks on save, order for updates."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from tidings.conditions import KINDS, Node, parse, references
from tidings.errors import Invalid
from tidings.groups.kind import group_ids
from tidings.groups.models import ContactGroup

log = logging.getLogger(__name__)


def load_conditions(session: Session) -> dict[int, tuple[ContactGroup, Node]]:
    """Every group with its parsed condition, by id."""
    groups = session.scalars(select(ContactGroup).order_by(ContactGroup.id))
    return {group.id: (group, parse(group.condition)) for group in groups}


# Parsed trees by stored JSON text: incremental updates run per activity and would
# otherwise decode and parse every group's condition each time.
_parsed: dict[str, Node] = {}
_PARSED_MAX = 1_000


def _parse_cached(stored: str) -> Node:
    node = _parsed.get(stored)
    if node is None:
        if len(_parsed) >= _PARSED_MAX:
            _parsed.clear()
        node = _parsed[stored] = parse(json.loads(stored))
    return node


def group_rows(session: Session) -> list[tuple[int, str]]:
    """Every group's (id, stored condition JSON text), by id (no ORM objects)."""
    table = ContactGroup.__table__.c
    statement = select(table.id, cast(table.condition, Text)).order_by(table.id)
    return [(gid, stored) for gid, stored in session.connection().execute(statement)]


def nodes_in_order(rows: Iterable[tuple[int, str]]) -> list[tuple[int, Node]]:
    """(id, stored condition) rows as parsed trees, dependencies first."""
    nodes = {gid: _parse_cached(stored) for gid, stored in rows}
    order = dependency_order({gid: group_ids(node) for gid, node in nodes.items()})
    return [(gid, nodes[gid]) for gid in order]


def dependency_order(edges: Mapping[int, set[int]]) -> list[int]:
    """Group ids with every group after the groups it depends on (ties by id).

    ``edges[g]`` holds the groups ``g``'s condition refers to. Saving refuses cycles; if
    one got in anyway, its groups come last in id order rather than being skipped.
    """
    remaining = {gid: {dep for dep in deps if dep in edges} for gid, deps in edges.items()}
    order: list[int] = []
    while remaining:
        ready = sorted(gid for gid, deps in remaining.items() if not deps)
        if not ready:
            stuck = sorted(remaining)
            log.error("contact groups %s depend on each other in a cycle", stuck)
            order.extend(stuck)
            break
        order.extend(ready)
        for gid in ready:
            del remaining[gid]
        for deps in remaining.values():
            deps.difference_update(ready)
    return order


def ordered_conditions(session: Session) -> list[tuple[ContactGroup, Node]]:
    """Every group with its parsed condition, dependencies first."""
    loaded = load_conditions(session)
    order = dependency_order({gid: group_ids(node) for gid, (_, node) in loaded.items()})
    return [loaded[gid] for gid in order]


def dependents(session: Session, group_id: int) -> list[int]:
    """Groups that depend on ``group_id`` directly or indirectly, in update order."""
    loaded = load_conditions(session)
    edges = {gid: group_ids(node) for gid, (_, node) in loaded.items()}
    found: set[int] = set()
    frontier = {group_id}
    while frontier:
        frontier = {gid for gid, deps in edges.items() if deps & frontier} - found
        found |= frontier
    return [gid for gid in dependency_order(edges) if gid in found and gid != group_id]


def check_condition(session: Session, node: Node, *, group_id: int | None = None) -> None:
    """Refuse a condition that points at missing rows, at its own group, or that would
    close a cycle of groups; ``Invalid`` names the path of the leaf at fault."""
    _check_references_exist(session, node)
    if group_id is None:
        return
    edges = {
        gid: group_ids(other)
        for gid, (_, other) in load_conditions(session).items()
        if gid != group_id
    }
    for ref in references(node):
        if ref.target != "group":
            continue
        target = int(ref.key)
        if target == group_id:
            raise Invalid(f"{ref.path}: a group cannot refer to itself")
        chain = _path_to(edges, start=target, goal=group_id)
        if chain is not None:
            steps = " -> ".join(str(gid) for gid in [group_id, *chain])
            raise Invalid(f"{ref.path}: would make a cycle of groups ({steps})")


def _path_to(edges: Mapping[int, set[int]], *, start: int, goal: int) -> list[int] | None:
    """Group ids from ``start`` to ``goal`` following ``edges``, if ``goal`` is reachable."""
    stack: list[tuple[int, list[int]]] = [(start, [start])]
    seen: set[int] = set()
    while stack:
        node, trail = stack.pop()
        if node == goal:
            return trail
        if node in seen:
            continue
        seen.add(node)
        for dep in sorted(edges.get(node, ()), reverse=True):
            stack.append((dep, [*trail, dep]))
    return None


def _check_references_exist(session: Session, node: Node) -> None:
    """Refuse the first reference (in document order) to a row that does not exist:
    one look-up per reference target."""
    found = references(node)
    targets = KINDS.targets
    keys: dict[str, set[Any]] = {}
    for ref in found:
        keys.setdefault(ref.target, set()).add(ref.key)
    missing = {
        name: targets[name].missing(session, wanted)
        for name, wanted in keys.items()
        if name in targets
    }
    for ref in found:
        if ref.key in missing.get(ref.target, ()):
            raise Invalid(f"{ref.path}: {targets[ref.target].describe(ref.key)} does not exist")
