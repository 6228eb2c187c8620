"""The condition tree: ``all`` / ``any`` / ``not`` nodes over leaves of registered kinds.

Each node compiles to SQL (``to_sql``) and evaluates in Python (``evaluate``); the two
must agree for every contact, which ``tests/conditions/test_agreement.py`` checks. A
leaf also names the facts its evaluation reads (``needs``), the rows it points at
(``references``) and says itself in words (``words``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Self

from sqlalchemy import and_, false, not_, or_, true
from sqlalchemy.sql.elements import ColumnElement

from tidings.conditions.facts import ContactFacts, FactSource, Needs, merge_needs
from tidings.conditions.sql import SqlContext
from tidings.conditions.words import Names, Part


@dataclass(frozen=True)
class Reference:
    """Something a leaf points at, e.g. ``("group", 3)`` or ``("consent", "tracking")``."""

    target: str
    key: int | str
    path: str


class Node(ABC):
    """A node of a condition tree."""

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        """The node as condition JSON (normalized)."""

    @abstractmethod
    def to_sql(self, ctx: SqlContext) -> ColumnElement[bool]:
        """A never-NULL boolean expression about ``ctx.contact_id``."""

    @abstractmethod
    def evaluate(self, facts: ContactFacts, now: datetime) -> bool:
        """Whether the contact described by ``facts`` matches at ``now``."""

    def children(self) -> tuple[Node, ...]:
        """Direct sub-nodes (none for a leaf)."""
        return ()

    def walk(self) -> Iterator[Node]:
        """This node and all nodes below it, depth first."""
        yield self
        for child in self.children():
            yield from child.walk()


class Leaf(Node):
    """A leaf of one kind (``kind``, its ``type`` in the JSON), registered with its
    builder description in ``tidings.conditions.registry.KINDS``.

    ``path`` records where the leaf stood in the JSON it was parsed from, so errors
    found later (e.g. a group that does not exist) can name it.
    """

    kind: ClassVar[str]
    path: str

    @classmethod
    @abstractmethod
    def parse(cls, data: Mapping[str, object], path: str) -> Self:
        """Build the leaf from its JSON object; ``Invalid`` names the bad key."""

    def references(self) -> tuple[Reference, ...]:
        """Rows this leaf points at, checked to exist when a group is saved."""
        return ()

    def needs(self) -> Needs:
        """The fact sources ``evaluate`` reads (with the keys it looks at, or None for
        every row): only those are loaded. The contact row is always there."""
        return {}

    @abstractmethod
    def words(self, names: Names, negate: bool) -> list[Part]:
        """The leaf in words (``negate``: its ``not``), e.g. ``is subscribed to the list
        “News”``; ``names`` holds the names of the rows it points at."""


@dataclass(frozen=True)
class AllOf(Node):
    """True when every child is (vacuously true when empty)."""

    items: tuple[Node, ...]

    def to_json(self) -> dict[str, Any]:
        return {"all": [item.to_json() for item in self.items]}

    def to_sql(self, ctx: SqlContext) -> ColumnElement[bool]:
        if not self.items:
            return true()
        return and_(*(item.to_sql(ctx) for item in self.items))

    def evaluate(self, facts: ContactFacts, now: datetime) -> bool:
        return all(item.evaluate(facts, now) for item in self.items)

    def children(self) -> tuple[Node, ...]:
        return self.items


@dataclass(frozen=True)
class AnyOf(Node):
    """True when at least one child is (false when empty)."""

    items: tuple[Node, ...]

    def to_json(self) -> dict[str, Any]:
        return {"any": [item.to_json() for item in self.items]}

    def to_sql(self, ctx: SqlContext) -> ColumnElement[bool]:
        if not self.items:
            return false()
        return or_(*(item.to_sql(ctx) for item in self.items))

    def evaluate(self, facts: ContactFacts, now: datetime) -> bool:
        return any(item.evaluate(facts, now) for item in self.items)

    def children(self) -> tuple[Node, ...]:
        return self.items


@dataclass(frozen=True)
class NotOf(Node):
    """True when the child is not; "did not click" is ``not`` over ``clicked_email``."""

    item: Node

    def to_json(self) -> dict[str, Any]:
        return {"not": self.item.to_json()}

    def to_sql(self, ctx: SqlContext) -> ColumnElement[bool]:
        return not_(self.item.to_sql(ctx))

    def evaluate(self, facts: ContactFacts, now: datetime) -> bool:
        return not self.item.evaluate(facts, now)

    def children(self) -> tuple[Node, ...]:
        return (self.item,)


def leaves(node: Node) -> Iterator[Leaf]:
    """Every leaf of the tree."""
    for item in node.walk():
        if isinstance(item, Leaf):
            yield item


def references(node: Node) -> list[Reference]:
    """Every row the tree points at, with the path of the leaf pointing."""
    return [ref for leaf in leaves(node) for ref in leaf.references()]


def needs(node: Node) -> dict[FactSource[Any], frozenset[str] | None]:
    """The facts evaluating this tree in Python needs loaded (see ``Leaf.needs``)."""
    return merge_needs(*(leaf.needs() for leaf in leaves(node)))
