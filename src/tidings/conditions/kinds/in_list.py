"""``{"type": "in_list", "list_id": N}``: subscribed to recipient list N (pending and
unsubscribed do not count)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from sqlalchemy import Select, select
from sqlalchemy.sql.elements import ColumnElement

from tidings.conditions import validate
from tidings.conditions.builder import Builder, Input
from tidings.conditions.facts import ContactFacts, FactQuery, FactSource, Needs, numbers
from tidings.conditions.kind import Kind
from tidings.conditions.nodes import Leaf, Reference
from tidings.conditions.sql import SqlContext
from tidings.conditions.targets import LIST
from tidings.conditions.words import Names, Part, named, pick, text
from tidings.lists.models import Subscription, SubscriptionStatus

_subscriptions = Subscription.__table__.c


def _subscribed(query: FactQuery) -> Select[Any]:
    return select(*query.columns(_subscriptions.contact_id, number=_subscriptions.list_id)).where(
        _subscriptions.contact_id.in_(query.ids),
        _subscriptions.status == SubscriptionStatus.SUBSCRIBED.value,
    )


# The ids of the lists the contact is subscribed to.
SUBSCRIBED = FactSource("list", _subscribed, numbers)


@dataclass(frozen=True)
class InListCondition(Leaf):
    """Subscribed to the list ``list_id``."""

    kind = "in_list"
    list_id: int
    path: str = "condition"

    @classmethod
    def parse(cls, data: Mapping[str, object], path: str) -> Self:
        validate.check_keys(data, path, required=("list_id",))
        return cls(list_id=validate.required_int(data, "list_id", path), path=path)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "list_id": self.list_id}

    def references(self) -> tuple[Reference, ...]:
        return (Reference(LIST.name, self.list_id, f"{self.path}.list_id"),)

    def needs(self) -> Needs:
        return {SUBSCRIBED: None}

    def to_sql(self, ctx: SqlContext) -> ColumnElement[bool]:
        return ctx.contact_in(
            Subscription.contact_id,
            Subscription.list_id == self.list_id,
            Subscription.status == SubscriptionStatus.SUBSCRIBED.value,
        )

    def evaluate(self, facts: ContactFacts, now: datetime) -> bool:
        return self.list_id in facts.get(SUBSCRIBED)

    def words(self, names: Names, negate: bool) -> list[Part]:
        start = pick(negate, "is subscribed to the list ", "is not subscribed to the list ")
        return [text(start), named(names, LIST.name, self.list_id)]


KIND = Kind(
    InListCondition,
    Builder(
        "In recipient list",
        (
            Input(
                "list_id",
                "select",
                "Recipient list",
                source=LIST.name,
                empty="choose a list",
                integer=True,
            ),
        ),
        order=30,
    ),
    targets=(LIST,),
)
