"""Parse and validate condition JSON into a tree; errors name the bad path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tidings.conditions.nodes import AllOf, AnyOf, Leaf, Node, NotOf
from tidings.conditions.registry import KINDS
from tidings.errors import Invalid

MAX_DEPTH = 32
MAX_NODES = 500
COMPOSITES = ("all", "any", "not")


def parse(data: Any, path: str = "condition") -> Node:
    """The tree for condition JSON ``data``; ``Invalid`` names the first bad path,
    e.g. ``condition.all[1].within_days: must be a positive integer up to 36500``."""
    counter = [0]
    return _parse(data, path, 1, counter)


def _parse(data: Any, path: str, depth: int, counter: list[int]) -> Node:
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise Invalid(f"{path}: the condition has more than {MAX_NODES} nodes")
    if depth > MAX_DEPTH:
        raise Invalid(f"{path}: nested more than {MAX_DEPTH} levels deep")
    if not isinstance(data, Mapping) or not all(isinstance(key, str) for key in data):
        raise Invalid(f"{path}: must be an object")
    composite = [key for key in COMPOSITES if key in data]
    if composite:
        if len(data) != 1:
            extra = sorted(key for key in data if key != composite[0])
            raise Invalid(
                f"{path}: a node holds exactly one of all, any, not or type (found {composite[0]}"
                f" with {', '.join(extra)})"
            )
        key = composite[0]
        inner = data[key]
        if key == "not":
            return NotOf(_parse(inner, f"{path}.not", depth + 1, counter))
        if not isinstance(inner, list):
            raise Invalid(f"{path}.{key}: must be a list of conditions")
        items = tuple(
            _parse(item, f"{path}.{key}[{index}]", depth + 1, counter)
            for index, item in enumerate(inner)
        )
        return AllOf(items) if key == "all" else AnyOf(items)
    if "type" not in data:
        raise Invalid(f"{path}: must have one of the keys all, any, not or type")
    return parse_leaf(data, path)


def parse_leaf(data: Mapping[str, Any], path: str = "condition") -> Leaf:
    """The leaf for a leaf's JSON object (``{"type": KIND, ...}``)."""
    name = data.get("type")
    kind = KINDS.get(name) if isinstance(name, str) else None
    if kind is None:
        known = ", ".join(sorted(KINDS))
        raise Invalid(f"{path}.type: unknown condition type {name!r} (known: {known})")
    return kind.leaf.parse(data, path)
