"""Leaves about what a contact did or was sent: email clicks and opens, deliveries, and
other activities (page visits, form submissions, ``custom:<name>``).

``within_days`` D keeps activities with ``occurred_at >= now - D days`` for the ``now``
given to the back end; ``min_count`` K needs at least K matching activities (default 1).
Value tests (``url_contains``, ``value_contains``) are case-sensitive substring tests.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Self

from sqlalchemy.sql.elements import ColumnElement

from tidings.activities.models import Activity, ActivityType
from tidings.conditions import validate
from tidings.conditions.facts import ContactFacts
from tidings.conditions.nodes import Leaf, Reference
from tidings.conditions.sql import SqlContext
from tidings.errors import Invalid
from tidings.sending.models import Delivery, DeliveryStatus

CUSTOM_TYPE = re.compile(r"custom:[A-Za-z0-9_.:-]{1,90}")
BUILT_IN_TYPES = frozenset(item.value for item in ActivityType)


@dataclass(frozen=True)
class ActivityLeaf(Leaf):
    """Shared body of the leaves that count matching activities."""

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
        return (Reference("email", self.email_id, f"{self.path}.email_id"),)

    def activity_types(self) -> frozenset[str]:
        return frozenset({self.activity_type})

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
        for item in facts.activities:
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


def _window(data: Mapping[str, object], path: str) -> tuple[int | None, int]:
    within = validate.positive_int(data, "within_days", path, maximum=validate.MAX_WITHIN_DAYS)
    count = validate.positive_int(data, "min_count", path, maximum=validate.MAX_COUNT)
    return within, count or 1


@dataclass(frozen=True)
class ClickedEmail(ActivityLeaf):
    """``{"type": "clicked_email", "email_id"?, "url_contains"?, "within_days"?,
    "min_count"?}``: clicked a link (in email N, whose exact URL contains S)."""

    kind = "clicked_email"

    @classmethod
    def parse(cls, data: Mapping[str, object], path: str) -> Self:
        validate.check_keys(
            data,
            path,
            required=(),
            optional=("email_id", "url_contains", "within_days", "min_count"),
        )
        within, count = _window(data, path)
        return cls(
            activity_type=ActivityType.EMAIL_CLICK.value,
            email_id=validate.positive_int(data, "email_id", path),
            contains=validate.text(data, "url_contains", path),
            within_days=within,
            min_count=count,
            path=path,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind}
        if self.email_id is not None:
            out["email_id"] = self.email_id
        if self.contains is not None:
            out["url_contains"] = self.contains
        return out | self._json_extra()


@dataclass(frozen=True)
class OpenedEmail(ActivityLeaf):
    """``{"type": "opened_email", "email_id"?, "within_days"?, "min_count"?}``: has an
    ``email_open`` activity (the tracker records one for a click without an open, B6)."""

    kind = "opened_email"

    @classmethod
    def parse(cls, data: Mapping[str, object], path: str) -> Self:
        validate.check_keys(
            data, path, required=(), optional=("email_id", "within_days", "min_count")
        )
        within, count = _window(data, path)
        return cls(
            activity_type=ActivityType.EMAIL_OPEN.value,
            email_id=validate.positive_int(data, "email_id", path),
            within_days=within,
            min_count=count,
            path=path,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind}
        if self.email_id is not None:
            out["email_id"] = self.email_id
        return out | self._json_extra()


@dataclass(frozen=True)
class ActivityCondition(ActivityLeaf):
    """``{"type": "activity", "activity_type": T, "value_contains"?, "within_days"?,
    "min_count"?}``: any activity type, e.g. ``page_visit`` or ``custom:webinar``."""

    kind = "activity"

    @classmethod
    def parse(cls, data: Mapping[str, object], path: str) -> Self:
        validate.check_keys(
            data,
            path,
            required=("activity_type",),
            optional=("value_contains", "within_days", "min_count"),
        )
        activity_type = data.get("activity_type")
        if not isinstance(activity_type, str) or not (
            activity_type in BUILT_IN_TYPES or CUSTOM_TYPE.fullmatch(activity_type)
        ):
            known = ", ".join(sorted(BUILT_IN_TYPES))
            raise Invalid(f"{path}.activity_type: must be one of {known} or custom:<name>")
        within, count = _window(data, path)
        return cls(
            activity_type=activity_type,
            contains=validate.text(data, "value_contains", path),
            within_days=within,
            min_count=count,
            path=path,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind, "activity_type": self.activity_type}
        if self.contains is not None:
            out["value_contains"] = self.contains
        return out | self._json_extra()


@dataclass(frozen=True)
class ReceivedEmail(Leaf):
    """``{"type": "received_email", "email_id": N}``: was sent email N (a delivery with
    status ``sent``)."""

    kind = "received_email"
    email_id: int
    path: str = "condition"

    @classmethod
    def parse(cls, data: Mapping[str, object], path: str) -> Self:
        validate.check_keys(data, path, required=("email_id",))
        return cls(email_id=validate.required_int(data, "email_id", path), path=path)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "email_id": self.email_id}

    def references(self) -> tuple[Reference, ...]:
        return (Reference("email", self.email_id, f"{self.path}.email_id"),)

    def to_sql(self, ctx: SqlContext) -> ColumnElement[bool]:
        return ctx.contact_in(
            Delivery.contact_id,
            Delivery.email_id == self.email_id,
            Delivery.status == DeliveryStatus.SENT.value,
        )

    def evaluate(self, facts: ContactFacts, now: datetime) -> bool:
        return self.email_id in facts.received
