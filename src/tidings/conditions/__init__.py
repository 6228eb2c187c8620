"""The condition language of contact groups, email variants and automation (B11).

``parse`` turns condition JSON into a tree; the tree compiles to SQL for whole groups
(``matching_ids``, ``count_matching``) and evaluates in Python for one contact
(``evaluate`` over ``load_facts``, or ``matches``). Each kind is one module (its leaf
class and its ``Kind`` entry), listed in the table ``registry.KINDS``; a package that
brings a kind of its own registers it there (see ``docs/groups.md``).
"""

from __future__ import annotations

from tidings.conditions.backends import (
    count_matching,
    dialect_of,
    evaluate,
    matches,
    matching_ids,
)
from tidings.conditions.builder import Builder, Input, Option, Other
from tidings.conditions.describe import describe, is_group
from tidings.conditions.facts import (
    ContactFacts,
    FactQuery,
    FactRow,
    FactSource,
    Needs,
    chunked,
    load_facts,
    merge_needs,
)
from tidings.conditions.kind import Kind
from tidings.conditions.nodes import (
    AllOf,
    AnyOf,
    Leaf,
    Node,
    NotOf,
    Reference,
    leaves,
    needs,
    references,
)
from tidings.conditions.parse import parse, parse_leaf
from tidings.conditions.registry import KINDS, BuilderPart, KindRegistry
from tidings.conditions.sql import SqlContext
from tidings.conditions.targets import Target
from tidings.conditions.words import Clause, Names, Part, Phrase, plain

__all__ = [
    "KINDS",
    "AllOf",
    "AnyOf",
    "Builder",
    "BuilderPart",
    "Clause",
    "ContactFacts",
    "FactQuery",
    "FactRow",
    "FactSource",
    "Input",
    "Kind",
    "KindRegistry",
    "Leaf",
    "Names",
    "Needs",
    "Node",
    "NotOf",
    "Option",
    "Other",
    "Part",
    "Phrase",
    "Reference",
    "SqlContext",
    "Target",
    "chunked",
    "count_matching",
    "describe",
    "dialect_of",
    "evaluate",
    "is_group",
    "leaves",
    "load_facts",
    "matches",
    "matching_ids",
    "merge_needs",
    "needs",
    "parse",
    "parse_leaf",
    "plain",
    "references",
]
