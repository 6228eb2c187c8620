"""Contact groups on the event stream: memberships follow what changed.

The groups subscriber takes the events that can change what a condition says about a
contact (an activity, a contact created or changed, a subscription, a consent),
gathers the contacts of the whole batch and re-evaluates their groups in the
dispatcher's transaction, which also moves its cursor. More contacts than
``BULK_THRESHOLD`` in one batch (an import) rebuild every group instead. Every
membership an incremental update changes is published as ``group.joined`` or
``group.left``, and so is every change of a full rebuild (``membership.rebuild``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.conditions.facts import chunked
from tidings.events import Event, EventType, Subscriber
from tidings.groups import membership
from tidings.groups.models import ContactGroup

log = logging.getLogger(__name__)

# More contacts than this in one batch rebuild all groups instead.
BULK_THRESHOLD = 20_000
# Contacts evaluated per round of an incremental update.
UPDATE_CHUNK = 500

TYPES = frozenset(
    {
        EventType.ACTIVITY_CREATED,
        EventType.CONTACT_CREATED,
        EventType.CONTACT_CHANGED,
        EventType.SUBSCRIPTION_CHANGED,
        EventType.CONTACT_UNSUBSCRIBED,
        EventType.CONSENT_AGREED,
        EventType.CONSENT_REVOKED,
    }
)


def contacts_of(events: Sequence[Event]) -> list[int]:
    """The distinct contacts the events are about, in order."""
    ids: set[int] = set()
    for event in events:
        contact = event.data.get("contact_id")
        if isinstance(contact, int) and not isinstance(contact, bool):
            ids.add(contact)
    return sorted(ids)


def handle(session: Session, events: Sequence[Event]) -> None:
    """Update the groups of the contacts these events are about."""
    ids = contacts_of(events)
    if not ids or session.scalar(select(ContactGroup.id).limit(1)) is None:
        return
    if len(ids) > BULK_THRESHOLD:
        results = membership.rebuild_all(session)
        log.info("rebuilt %d contact groups after %d changed contacts", len(results), len(ids))
        return
    changes: list[membership.MembershipChange] = []
    for chunk in chunked(ids, UPDATE_CHUNK):
        changes += membership.update_contacts(session, chunk)
    membership.publish_changes(session, changes)


SUBSCRIBER = Subscriber(name="groups", types=TYPES, handle=handle, batch_size=BULK_THRESHOLD + 1)
