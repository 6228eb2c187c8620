"""Leaves about what a contact belongs to: consents, recipient lists, contact groups."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from sqlalchemy import select
from sqlalchemy.sql.elements import ColumnElement

from tidings.conditions import validate
from tidings.conditions.facts import ContactFacts
from tidings.conditions.nodes import Leaf, Reference
from tidings.conditions.sql import SqlContext
from tidings.consent.models import Consent, ConsentAgreement
from tidings.groups.models import GroupMember
from tidings.lists.models import Subscription, SubscriptionStatus


@dataclass(frozen=True)
class ConsentCondition(Leaf):
    """``{"type": "consent", "code_name": C}``: holds an active agreement to consent C."""

    kind = "consent"
    code_name: str
    path: str = "condition"

    @classmethod
    def parse(cls, data: Mapping[str, object], path: str) -> Self:
        validate.check_keys(data, path, required=("code_name",))
        return cls(code_name=validate.required_text(data, "code_name", path), path=path)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "code_name": self.code_name}

    def references(self) -> tuple[Reference, ...]:
        return (Reference("consent", self.code_name, f"{self.path}.code_name"),)

    def to_sql(self, ctx: SqlContext) -> ColumnElement[bool]:
        consent_id = select(Consent.id).where(Consent.code_name == self.code_name)
        return ctx.contact_in(
            ConsentAgreement.contact_id,
            ConsentAgreement.consent_id == consent_id.scalar_subquery(),
            ConsentAgreement.revoked_at.is_(None),
        )

    def evaluate(self, facts: ContactFacts, now: datetime) -> bool:
        return self.code_name in facts.consents


@dataclass(frozen=True)
class InListCondition(Leaf):
    """``{"type": "in_list", "list_id": N}``: subscribed (not pending, not unsubscribed)."""

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
        return (Reference("list", self.list_id, f"{self.path}.list_id"),)

    def to_sql(self, ctx: SqlContext) -> ColumnElement[bool]:
        return ctx.contact_in(
            Subscription.contact_id,
            Subscription.list_id == self.list_id,
            Subscription.status == SubscriptionStatus.SUBSCRIBED.value,
        )

    def evaluate(self, facts: ContactFacts, now: datetime) -> bool:
        return self.list_id in facts.lists


@dataclass(frozen=True)
class InGroupCondition(Leaf):
    """``{"type": "in_group", "group_id": N}``: currently a member of contact group N."""

    kind = "in_group"
    group_id: int
    path: str = "condition"

    @classmethod
    def parse(cls, data: Mapping[str, object], path: str) -> Self:
        validate.check_keys(data, path, required=("group_id",))
        return cls(group_id=validate.required_int(data, "group_id", path), path=path)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "group_id": self.group_id}

    def references(self) -> tuple[Reference, ...]:
        return (Reference("group", self.group_id, f"{self.path}.group_id"),)

    def to_sql(self, ctx: SqlContext) -> ColumnElement[bool]:
        # An alias, so a statement that also writes group_members never correlates it.
        members = GroupMember.__table__.alias()
        return ctx.contact_in(members.c.contact_id, members.c.group_id == self.group_id)

    def evaluate(self, facts: ContactFacts, now: datetime) -> bool:
        return self.group_id in facts.groups
