"""The condition language of contact groups, email variants and automation (B11).

``parse`` turns condition JSON into a tree; the tree compiles to SQL for whole groups
(``matching_ids``, ``count_matching``) and evaluates in Python for one contact
(``evaluate`` over ``load_facts``, or ``matches``). Kinds live in ``registry.KINDS``.
"""

from __future__ import annotations

from tidings.conditions.backends import (
    count_matching,
    dialect_of,
    evaluate,
    matches,
    matching_ids,
)
from tidings.conditions.facts import ActivityFact, ContactFacts, load_facts
from tidings.conditions.nodes import (
    AllOf,
    AnyOf,
    Leaf,
    Node,
    NotOf,
    Reference,
    activity_types,
    group_ids,
    references,
)
from tidings.conditions.parse import parse
from tidings.conditions.registry import KINDS
from tidings.conditions.sql import SqlContext

__all__ = [
    "KINDS",
    "ActivityFact",
    "AllOf",
    "AnyOf",
    "ContactFacts",
    "Leaf",
    "Node",
    "NotOf",
    "Reference",
    "SqlContext",
    "activity_types",
    "count_matching",
    "dialect_of",
    "evaluate",
    "group_ids",
    "load_facts",
    "matches",
    "matching_ids",
    "parse",
    "references",
]
