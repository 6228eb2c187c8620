"""Erase one contact: their personal data leaves every table; counts stay (B10).

Rows that only exist for this person (contact, agreements, subscriptions,
activities, group memberships, personalized link destinations, caught messages) are
deleted; deliveries stay for the statistics with the contact reference cleared.
Bounce facts stay without their diagnostic; a suppression of the address stays as
a keyed hash of it, so the address is never mailed again without being kept.
On SQLite, ``secure_delete`` overwrites the freed pages and a WAL checkpoint moves
the change out of the log, so the address is not readable in any file afterwards.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from tidings.bounces.service import forget_contact as forget_bounces
from tidings.consent.models import ConsentAgreement
from tidings.contacts import service as contacts
from tidings.events import EventType, publish
from tidings.events.publish import forget_contact as forget_events
from tidings.events.publish import lock_outbox
from tidings.groups.membership import forget_contacts
from tidings.mailcatcher.models import CaughtMessage
from tidings.runtime import Runtime
from tidings.sending.models import Delivery, DeliveryLinkUrl, TestSend

log = logging.getLogger(__name__)


def erase_contact(*, session: Session, contact_id: int) -> str:
    """Delete or anonymize every row about the contact; returns the erased address."""
    contact = contacts.get(session=session, contact_id=contact_id)
    address = contact.email
    # First, so the membership lock is held before anything else is touched.
    forget_contacts(session, [contact_id])
    # A suppression outlives the contact as the address's keyed hash alone.
    forget_bounces(session=session, contact_id=contact_id, email=address)
    delivery_ids = select(Delivery.id).where(Delivery.contact_id == contact_id)
    session.execute(delete(DeliveryLinkUrl).where(DeliveryLinkUrl.delivery_id.in_(delivery_ids)))
    session.execute(
        update(Delivery)
        .where(Delivery.contact_id == contact_id)
        .values(contact_id=None, error=None)
    )
    # Test messages sent to the address (the rows rendered as the contact keep no id).
    session.execute(delete(TestSend).where(func.lower(TestSend.address) == address.lower()))
    caught = session.execute(select(CaughtMessage.id, CaughtMessage.recipients)).all()
    doomed = [mid for mid, recipients in caught if address in recipients.lower().split(",")]
    if doomed:
        session.execute(delete(CaughtMessage).where(CaughtMessage.id.in_(doomed)))
    # Agreements before the contact, in the order the tracking writer takes them: its
    # consent check holds a contact's agreements FOR SHARE, then its activities take a
    # key-share lock on the contact. Deleting the contact first (and its agreements by
    # cascade) locked the two in the opposite order: on PostgreSQL an erasure during
    # that contact's clicks could deadlock.
    session.execute(delete(ConsentAgreement).where(ConsentAgreement.contact_id == contact_id))
    # The outbox lock before the contact's row lock (see ``events.publish.lock_outbox``).
    lock_outbox(session)
    forget_events(session, contact_id)
    # Subscriptions and activities go by ON DELETE CASCADE.
    session.delete(contact)
    session.flush()
    # The id alone: subscribers drop what they hold about the person (webhooks scrub
    # their queued payloads).
    publish(session, EventType.CONTACT_ERASED, {"contact_id": contact_id})
    return address


def scrub_files(runtime: Runtime, *, attempts: int = 20) -> bool:
    """On SQLite, move committed changes out of the WAL and truncate it.

    Returns True when the checkpoint completed (no reader held old pages).
    """
    if not runtime.is_sqlite:
        return True
    for _ in range(attempts):
        raw = runtime.engine.raw_connection()
        try:
            busy, _log, _moved = raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            raw.close()
        if not busy:
            _scrub_queue(runtime)
            return True
        time.sleep(0.05)
    log.warning("WAL checkpoint stayed busy; erased data leaves the log at the next one")
    return False


def _scrub_queue(runtime: Runtime) -> None:
    """The embedded job queue holds only ids; still, checkpoint its log as well."""
    path = runtime.settings.resolved_data_dir() / "jobs.db"
    if not path.exists():
        return
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
