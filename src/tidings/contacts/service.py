"""Operations on contacts."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.contacts import fields as custom_fields
from tidings.contacts.models import Contact
from tidings.errors import Conflict, NotFound
from tidings.events import EventType, publish

UNCHANGED = object()  # update(): leave this name as it is


def normalize_email(email: str) -> str:
    """Addresses are compared case-insensitively and without surrounding space."""
    return email.strip().lower()


def create(
    *,
    session: Session,
    email: str,
    first_name: str | None = None,
    last_name: str | None = None,
    fields: Mapping[str, object] | None = None,
) -> Contact:
    """Create a contact; ``Conflict`` if the address is taken, ``Invalid`` names a bad
    custom field (``contacts.fields``); ``None`` values are not stored."""
    address = normalize_email(email)
    checked = custom_fields.merge({}, fields or {})
    if find_by_email(session=session, email=address) is not None:
        raise Conflict(f"a contact with email {address} already exists")
    contact = Contact(email=address, first_name=first_name, last_name=last_name, fields=checked)
    session.add(contact)
    session.flush()
    publish(session, EventType.CONTACT_CREATED, {"contact_id": contact.id})
    return contact


def get(*, session: Session, contact_id: int) -> Contact:
    """The contact with ``contact_id``, or ``NotFound``."""
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"contact {contact_id} not found")
    return contact


def find_by_email(*, session: Session, email: str) -> Contact | None:
    """The contact with this address, if any."""
    return session.scalars(
        select(Contact).where(Contact.email == normalize_email(email))
    ).one_or_none()


def update(
    *,
    session: Session,
    contact: Contact,
    first_name: str | object | None = UNCHANGED,
    last_name: str | object | None = UNCHANGED,
    fields: Mapping[str, object] | None = None,
) -> Contact:
    """Change names (``None`` clears one) or merge custom fields (a ``None`` value
    removes that field); ``Invalid`` names a bad field."""
    if fields:
        contact.fields = custom_fields.merge(contact.fields or {}, fields)
    if first_name is not UNCHANGED:
        contact.first_name = first_name  # type: ignore[assignment]
    if last_name is not UNCHANGED:
        contact.last_name = last_name  # type: ignore[assignment]
    session.flush()
    publish(session, EventType.CONTACT_CHANGED, {"contact_id": contact.id})
    return contact
