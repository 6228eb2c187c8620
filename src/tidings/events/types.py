"""The event stream's public types: event kinds, one event, a subscriber."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeAlias

from sqlalchemy.orm import Session

JsonValue: TypeAlias = "int | float | str | bool | list[JsonValue] | dict[str, JsonValue] | None"


class EventType(StrEnum):
    """What happened; the comment says what ``data`` holds."""

    # contact_id, activity_id, type, value, email_id, link_id, url, occurred_at (ISO)
    ACTIVITY_CREATED = "activity.created"
    CONTACT_CREATED = "contact.created"  # contact_id
    CONTACT_CHANGED = "contact.changed"  # contact_id
    CONTACT_ERASED = "contact.erased"  # contact_id (nothing else about the person)
    SUBSCRIPTION_CHANGED = "subscription.changed"  # contact_id, list_id, status
    CONTACT_UNSUBSCRIBED = "contact.unsubscribed"  # contact_id, list_id (or null = all)
    CONSENT_AGREED = "consent.agreed"  # contact_id, consent_id, version, source
    CONSENT_REVOKED = "consent.revoked"  # contact_id, consent_id, source
    GROUP_JOINED = "group.joined"  # contact_id, group_id
    GROUP_LEFT = "group.left"  # contact_id, group_id
    # group_id, joined: [contact_id...], left: [contact_id...] (at most 1,000 ids): a
    # full rebuild's moves, handed out as group.joined / group.left after its commit
    GROUP_MOVES = "group.moves"
    EMAIL_BOUNCED = "email.bounced"  # email_id, delivery_id, contact_id|null, kind (hard/soft)
    EMAIL_COMPLAINED = "email.complained"  # email_id, delivery_id, contact_id|null
    FORM_SUBMITTED = "form.submitted"  # form_id, contact_id
    AUTOMATION_STEP = "automation.step"  # automation_id, step_id, contact_id, step_type
    MAILOUT_FINISHED = "mailout.finished"  # mailout_id, email_id


@dataclass(frozen=True)
class Event:
    """One committed event, as a subscriber receives it."""

    id: int  # outbox row id, increasing
    type: EventType
    occurred_at: datetime  # aware UTC
    data: Mapping[str, JsonValue]  # JSON-safe only


Handler = Callable[[Session, Sequence[Event]], None]


@dataclass(frozen=True)
class Subscriber:
    """A named consumer of some event types.

    ``name`` is stable: it keys the subscriber's cursor row. ``handle`` runs in the
    dispatcher's transaction, which also moves the cursor: its writes and the move
    commit together. ``batch_size`` is how many events one call gets at most.
    """

    name: str
    types: frozenset[EventType]
    handle: Handler
    batch_size: int = 500
