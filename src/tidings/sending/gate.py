"""Whether an address may be mailed: the one place every send asks.

Mailouts apply ``mailout_conditions`` when they take their recipients (and again to
each page of pending deliveries, so an opt-out after the start is honoured); single
messages and test sends ask ``refusal`` before they are queued. A suppression list
(bounces, complaints, manual entries) is asked here, so every kind of send honours it.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, update
from sqlalchemy.orm import Session

from tidings.contacts.models import Contact
from tidings.contacts.service import normalize_email
from tidings.emails.models import EmailPurpose
from tidings.sending.models import Delivery, DeliveryStatus
from tidings.suppression.service import is_suppressed, not_suppressed, suppressed_among


def mailable() -> ColumnElement[bool]:
    """A condition over ``Contact``: may be sent a mailout."""
    return and_(Contact.opted_out_at.is_(None))


def mailout_conditions() -> list[ColumnElement[bool]]:
    """Conditions over ``Contact`` that every recipient of a mailout meets: mailable,
    and no suppression holds the address in clear (suppressions kept only as a hash,
    after an erasure, are caught per page by ``skip_suppressed``)."""
    return [mailable(), not_suppressed(Contact.email)]


def refusal(
    session: Session, *, address: str, contact: Contact | None, purpose: str, test: bool = False
) -> str | None:
    """Why ``address`` may not be sent this message, or None if it may.

    A global opt-out stops marketing messages (regular and automation emails); a
    confirmation the person asked for still goes, and so does a test send to a
    colleague's address.
    """
    if is_suppressed(session, address):
        return "the address is on the suppression list"
    marketing = purpose in (EmailPurpose.REGULAR.value, EmailPurpose.AUTOMATION.value)
    if not test and marketing and contact is not None and contact.opted_out_at is not None:
        return "the contact opted out of all email"
    return None


def refusals(session: Session, contacts: list[Contact], *, purpose: str) -> dict[int, str | None]:
    """``refusal`` for several contacts at once (one query for the suppressions), by
    contact id."""
    held = suppressed_among(session, [c.email for c in contacts])
    marketing = purpose in (EmailPurpose.REGULAR.value, EmailPurpose.AUTOMATION.value)
    found: dict[int, str | None] = {}
    for contact in contacts:
        if normalize_email(contact.email) in held:
            found[contact.id] = "the address is on the suppression list"
        elif marketing and contact.opted_out_at is not None:
            found[contact.id] = "the contact opted out of all email"
        else:
            found[contact.id] = None
    return found


def skip_suppressed(session: Session, pending: list[tuple[int, str]]) -> set[int]:
    """Of ``(delivery id, address)`` pairs about to be sent, mark those whose address
    is suppressed ``skipped`` and return their ids (the check every send makes)."""
    held = suppressed_among(session, [address for _, address in pending])
    blocked = {delivery_id for delivery_id, address in pending if normalize_email(address) in held}
    if blocked:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(blocked))
            .values(status=DeliveryStatus.SKIPPED.value, error="address suppressed")
        )
    return blocked
