"""Contact facts: the snapshot of one contact the Python back end evaluates against."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    BindParameter,
    CompoundSelect,
    String,
    Text,
    bindparam,
    cast,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from tidings.activities.models import Activity
from tidings.consent.models import Consent, ConsentAgreement
from tidings.contacts.models import Contact
from tidings.db.base import BigId, UTCDateTime
from tidings.groups.models import GroupMember
from tidings.lists.models import Subscription, SubscriptionStatus
from tidings.sending.models import Delivery, DeliveryStatus

# Rows per IN (...) list: well under SQLite's bound-parameter limit.
CHUNK = 500


@dataclass(frozen=True)
class ActivityFact:
    """One activity of the contact, as far as conditions look at it."""

    type: str
    email_id: int | None
    value: str | None
    occurred_at: datetime


@dataclass
class ContactFacts:
    """Everything a condition can ask about one contact.

    ``groups`` is mutable: an incremental update changes it as it goes, so groups that
    depend on other groups see the new membership.
    """

    contact_id: int
    email: str
    first_name: str | None
    last_name: str | None
    fields: dict[str, Any]
    consents: frozenset[str] = frozenset()
    lists: frozenset[int] = frozenset()
    groups: set[int] = field(default_factory=set)
    received: frozenset[int] = frozenset()
    activities: tuple[ActivityFact, ...] = ()


T = TypeVar("T")


def chunked(ids: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``ids`` in slices of at most ``size``."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def load_facts(
    session: Session,
    contact_ids: Iterable[int],
    *,
    activity_types: Collection[str] | None = None,
) -> dict[int, ContactFacts]:
    """Load the facts of many contacts: one query per 500 contacts.

    ``activity_types`` limits the activities loaded to the types the conditions at
    hand look at (None loads all). Contacts that do not exist are left out.
    """
    ids = sorted(set(contact_ids))
    facts: dict[int, ContactFacts] = {}
    for chunk in chunked(ids):
        facts.update(_load_chunk(session, chunk, activity_types))
    return facts


# Built once, as Core: these run per incremental update, where building statements,
# ORM overhead and round trips would cost more than the queries themselves.
_ids: BindParameter[list[int]] = bindparam("ids", expanding=True)
_contacts = Contact.__table__.c
_agreements = ConsentAgreement.__table__.c
_subscriptions = Subscription.__table__.c
_members = GroupMember.__table__.c
_deliveries = Delivery.__table__.c
_activities = Activity.__table__.c


def _facts_statement(activities: str) -> CompoundSelect[Any]:
    """Everything about the contacts in one UNION ALL of (kind, contact id, number,
    label, value, moment, first, last) rows: the contact (k: email as label, custom
    fields as JSON text in value, first and last name), activities (a: email id, type,
    value, time), consents agreed (c: code name), lists subscribed (l), groups joined
    (g) and emails received (r), the last three with their id as number.
    ``activities`` is all, typed or none.
    """
    no_number, no_text = cast(null(), BigId), cast(null(), String)
    no_moment = cast(null(), UTCDateTime)
    no_names = (no_text, no_text)
    parts = [
        # First, so the result columns take its types (the moment is a UTC datetime).
        select(literal("k"), _contacts.id, no_number, _contacts.email)
        .add_columns(cast(_contacts.fields, Text), no_moment)
        .add_columns(_contacts.first_name, _contacts.last_name)
        .where(_contacts.id.in_(_ids)),
        select(literal("c"), _agreements.contact_id, no_number)
        .add_columns(Consent.__table__.c.code_name, no_text, no_moment, *no_names)
        .join_from(ConsentAgreement.__table__, Consent.__table__)
        .where(_agreements.contact_id.in_(_ids), _agreements.revoked_at.is_(None)),
        select(literal("l"), _subscriptions.contact_id, _subscriptions.list_id, no_text, no_text)
        .add_columns(no_moment, *no_names)
        .where(
            _subscriptions.contact_id.in_(_ids),
            _subscriptions.status == SubscriptionStatus.SUBSCRIBED.value,
        ),
        select(literal("g"), _members.contact_id, _members.group_id, no_text, no_text)
        .add_columns(no_moment, *no_names)
        .where(_members.contact_id.in_(_ids)),
        select(literal("r"), _deliveries.contact_id, _deliveries.email_id, no_text, no_text)
        .add_columns(no_moment, *no_names)
        .where(_deliveries.contact_id.in_(_ids), _deliveries.status == DeliveryStatus.SENT.value),
    ]
    if activities != "none":
        own = select(
            literal("a"),
            _activities.contact_id,
            _activities.email_id,
            _activities.type,
            _activities.value,
            _activities.occurred_at,
            *no_names,
        ).where(_activities.contact_id.in_(_ids))
        if activities == "typed":
            own = own.where(_activities.type.in_(bindparam("types", expanding=True)))
        parts.append(own)
    return union_all(*parts)


_FACTS = {kind: _facts_statement(kind) for kind in ("all", "typed", "none")}


def _load_chunk(
    session: Session, ids: Sequence[int], activity_types: Collection[str] | None
) -> dict[int, ContactFacts]:
    params: dict[str, Any] = {"ids": list(ids)}
    if activity_types is None:
        statement = _FACTS["all"]
    elif activity_types:
        statement = _FACTS["typed"]
        params["types"] = sorted(activity_types)
    else:
        statement = _FACTS["none"]

    found: dict[int, ContactFacts] = {}
    groups: dict[int, set[int]] = {}
    sets: dict[tuple[str, int], set[Any]] = {}
    activities: dict[int, list[ActivityFact]] = {}
    rows = session.connection().execute(statement, params)
    for kind, contact_id, number, label, value, moment, first, last in rows:
        if kind == "a":
            fact = ActivityFact(label, number, value, moment)
            activities.setdefault(contact_id, []).append(fact)
        elif kind == "k":
            fields = json.loads(value) if value is not None else None
            found[contact_id] = ContactFacts(
                contact_id=contact_id,
                email=label,
                first_name=first,
                last_name=last,
                fields=dict(fields or {}),
            )
        elif kind == "g":
            groups.setdefault(contact_id, set()).add(number)
        else:
            sets.setdefault((kind, contact_id), set()).add(label if kind == "c" else number)

    for contact_id, item in found.items():
        item.consents = frozenset(sets.get(("c", contact_id), ()))
        item.lists = frozenset(sets.get(("l", contact_id), ()))
        item.received = frozenset(sets.get(("r", contact_id), ()))
        item.groups = groups.get(contact_id, set())
        item.activities = tuple(activities.get(contact_id, ()))
    return found
