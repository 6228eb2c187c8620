"""Operations on contacts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.contacts.models import Contact
from tidings.errors import Conflict, NotFound


def normalize_email(email: str) -> str:
    """Addresses are compared case-insensitively and without surrounding space."""
    return email.strip().lower()


def create(
    *,
    session: Session,
    email: str,
    first_name: str | None = None,
    last_name: str | None = None,
    fields: dict[str, Any] | None = None,
) -> Contact:
    """Create a contact; ``Conflict`` if the address is taken."""
    address = normalize_email(email)
    if find_by_email(session=session, email=address) is not None:
        raise Conflict(f"a contact with email {address} already exists")
    contact = Contact(
        email=address, first_name=first_name, last_name=last_name, fields=dict(fields or {})
    )
    session.add(contact)
    session.flush()
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
    first_name: str | None = None,
    last_name: str | None = None,
    fields: dict[str, Any] | None = None,
) -> Contact:
    """Change names or merge custom fields (a ``None`` field value removes it)."""
    if first_name is not None:
        contact.first_name = first_name
    if last_name is not None:
        contact.last_name = last_name
    if fields:
        merged = dict(contact.fields or {})
        for key, value in fields.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        contact.fields = merged
    session.flush()
    return contact


def to_dict(contact: Contact) -> dict[str, Any]:
    """The API shape of a contact."""
    return {
        "id": contact.id,
        "email": contact.email,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "fields": contact.fields or {},
        "opted_out": contact.opted_out_at is not None,
        "created_at": contact.created_at.isoformat(),
    }
