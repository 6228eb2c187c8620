"""What the kinds about a contact's activities share: the activities as facts, and a
leaf that counts matching activities.

``within_days`` D keeps activities with ``occurred_at >= now - D days`` for the ``now``
given to the back end; ``min_count`` K needs at least K matching activities (default 1).
Value tests (``url_contains``, ``value_contains``) are case-sensitive substring tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.sql.elements import ColumnElement

from tidings.activities.models import Activity
from tidings.conditions import validate
from tidings.conditions.facts import ContactFacts, FactQuery, FactRow, FactSource, Needs
from tidings.conditions.nodes import Leaf, Reference
from tidings.conditions.sql import SqlContext
from tidings.conditions.targets import EMAIL
from tidings.conditions.words import Names, Part, named, text

_activities = Activity.__table__.c


@dataclass(frozen=True)
class ActivityFact:
    """One activity of the contact, as far as conditions look at it."""

    type: str
    email_id: int | None
    value: str | None
    occurred_at: datetime


def _rows(query: FactQuery) -> Select[Any]:
    statement = select(
        *query.columns(
            _activities.contact_id,
            number=_activities.email_id,
            label=_activities.type,
            value=_activities.value,
            moment=_activities.occurred_at,
        )
    ).where(_activities.contact_id.in_(query.ids))
    if query.keys is not None:
        statement = statement.where(_activities.type.in_(query.keys))
    return statement


def _fold(rows: list[FactRow]) -> tuple[ActivityFact, ...]:
    return tuple(
        ActivityFact(label, number, value, moment) for number, label, value, moment in rows
    )


# The contact's activities, keyed by type: a tree loads only the types it looks at.
ACTIVITIES = FactSource("activity", _rows, _fold, keyed=True)


def window(data: Mapping[str, object], path: str) -> tuple[int | None, int]:
    """``within_days`` (None: any time) and ``min_count`` (default 1) of a leaf."""
    within = validate.positive_int(data, "within_days", path, maximum=validate.MAX_WITHIN_DAYS)
    count = validate.positive_int(data, "min_count", path, maximum=validate.MAX_COUNT)
    return within, count or 1


@dataclass(frozen=True)
class ActivityLeaf(Leaf):
    """A leaf that holds when at least ``min_count`` activities of ``activity_type``
    match (in email ``email_id``, with a value containing ``contains``, in the last
    ``within_days`` days)."""

    activity_type: str
    email_id: int | None = None
    contains: str | None = None
    within_days: int | None = None
    min_count: int = 1
    path: str = "condition"

    def _json_extra(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.within_days is not None:
            out["within_days"] = self.within_days
        if self.min_count != 1:
            out["min_count"] = self.min_count
        return out

    def references(self) -> tuple[Reference, ...]:
        if self.email_id is None:
            return ()
        return (Reference(EMAIL.name, self.email_id, f"{self.path}.email_id"),)

    def needs(self) -> Needs:
        return {ACTIVITIES: frozenset({self.activity_type})}

    def to_sql(self, ctx: SqlContext) -> ColumnElement[bool]:
        criteria: list[ColumnElement[bool]] = [Activity.type == self.activity_type]
        if self.email_id is not None:
            criteria.append(Activity.email_id == self.email_id)
        if self.within_days is not None:
            criteria.append(Activity.occurred_at >= ctx.since(self.within_days))
        if self.contains is not None:
            criteria.append(ctx.text_contains(Activity.value, self.contains))
        return ctx.contact_in(Activity.contact_id, *criteria, min_count=self.min_count)

    def evaluate(self, facts: ContactFacts, now: datetime) -> bool:
        since = None if self.within_days is None else now - timedelta(days=self.within_days)
        needle = self.contains
        count = 0
        for item in facts.get(ACTIVITIES):
            if item.type != self.activity_type:
                continue
            if self.email_id is not None and item.email_id != self.email_id:
                continue
            if since is not None and item.occurred_at < since:
                continue
            if needle is not None and (item.value is None or needle not in item.value):
                continue
            count += 1
            if count >= self.min_count:
                return True
        return False

    def email_words(self, names: Names) -> Part:
        """The email in words: its quoted name, or any email."""
        if self.email_id is None:
            return text("any email")
        return named(names, EMAIL.name, self.email_id, "email ")
