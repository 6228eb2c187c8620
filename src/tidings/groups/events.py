"""Contact groups on the event stream: memberships follow what changed.

The groups subscriber takes the events that can change what a condition says about a
contact (an activity, a contact created or changed, a subscription, a consent),
gathers the contacts of the whole batch and re-evaluates their groups in the
dispatcher's transaction, which also moves its cursor. More contacts than
``BULK_THRESHOLD`` in one batch (an import) rebuild every group instead. Every
membership an incremental update changes is published as ``group.joined`` or
``group.left``. A full rebuild (``membership.rebuild``) publishes its moves as a few
``group.moves`` events of up to 1,000 contacts each; ``MOVES_SUBSCRIBER`` hands them
out as ``group.joined`` / ``group.left`` after the rebuild's commit, a few thousand per
transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tidings.conditions import dialect_of
from tidings.conditions.facts import chunked
from tidings.contacts.models import Contact
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


def hand_out_moves(session: Session, events: Sequence[Event]) -> None:
    """Publish each contact of a full rebuild's ``group.moves`` events as
    ``group.joined`` / ``group.left`` (contacts erased since are left out)."""
    moves: list[tuple[int, int, bool]] = []
    for event in events:
        group_id = event.data["group_id"]
        assert isinstance(group_id, int)
        for key, joined in (("left", False), ("joined", True)):
            ids = event.data.get(key) or []
            assert isinstance(ids, list)
            moves += [(group_id, cid, joined) for cid in ids if isinstance(cid, int)]
    existing = _existing(session, sorted({cid for _, cid, _ in moves}))
    membership.publish_changes(
        session,
        [membership.MembershipChange(g, c, j) for g, c, j in moves if c in existing],
    )


_EXISTING_PG = text("SELECT id FROM contacts WHERE id = ANY(CAST(:ids AS BIGINT[]))")


def _existing(session: Session, ids: list[int]) -> set[int]:
    """Which of ``ids`` are contacts still: PostgreSQL in one statement (one array,
    not an IN list per 500), SQLite by primary key in chunks."""
    if not ids:
        return set()
    if dialect_of(session) == "postgresql":
        return set(session.scalars(_EXISTING_PG, {"ids": ids}))
    found: set[int] = set()
    for chunk in chunked(ids):
        found.update(session.scalars(select(Contact.id).where(Contact.id.in_(chunk))))
    return found


# A few rebuild events (up to 1,000 moves each) per transaction: the outbox lock of
# each commit is held for at most a few thousand rows.
MOVES_SUBSCRIBER = Subscriber(
    name="groups.moves",
    types=frozenset({EventType.GROUP_MOVES}),
    handle=hand_out_moves,
    batch_size=5,
)
