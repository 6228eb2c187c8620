"""A condition tree in words: each leaf says itself (``Leaf.words``), groups become
clauses (all of these, none of these...)."""

from __future__ import annotations

from typing import Any

from tidings.conditions.parse import parse_leaf
from tidings.conditions.words import Clause, Names, Phrase, text
from tidings.errors import Invalid

GROUPS = ("all", "any")


def is_group(node: Any) -> bool:
    """Whether ``node`` is an ``all`` or ``any`` node over a list."""
    return (
        isinstance(node, dict)
        and len(node) == 1
        and next(iter(node)) in GROUPS
        and isinstance(next(iter(node.values())), list)
    )


def describe(data: Any, names: Names, negate: bool = False) -> Phrase | Clause:
    """Condition JSON as words (a saved, valid condition; anything else is "unknown")."""
    if isinstance(data, dict) and len(data) == 1 and "not" in data:
        return describe(data["not"], names, not negate)
    if is_group(data):
        key = next(iter(data))
        items = data[key]
        if not items:
            matches_all = (key == "all") != negate
            return _phrase("every contact" if matches_all else "no contact (an empty group)")
        if len(items) == 1:  # all / any of one condition: that condition
            return describe(items[0], names, negate)
        label = {
            ("all", False): "all of these",
            ("any", False): "any of these",
            ("all", True): "not all of these",
            ("any", True): "none of these",
        }[key, negate]
        return Clause(label, tuple(describe(item, names) for item in items))
    if isinstance(data, dict) and "type" in data:
        try:
            leaf = parse_leaf(data)
        except Invalid:
            pass
        else:
            return Phrase(tuple(leaf.words(names, negate)))
    return _phrase("does not match an unknown condition" if negate else "an unknown condition")


def _phrase(words: str) -> Phrase:
    return Phrase((text(words),))
