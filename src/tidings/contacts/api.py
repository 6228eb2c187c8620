"""REST routes for contacts, their activities, export and erasure."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import select

from tidings.activities import queries as activity_queries
from tidings.activities.api import ActivityQueryDep
from tidings.contacts import service
from tidings.contacts.models import Contact
from tidings.contacts.schemas import ContactIn, ContactPatch
from tidings.db.session import after_commit
from tidings.groups.hooks import contacts_changed
from tidings.privacy.erasure import erase_contact, scrub_files
from tidings.privacy.export import export_contact
from tidings.web.deps import RuntimeDep, SessionDep, require_api_key

router = APIRouter(
    prefix="/api/v1/contacts", tags=["contacts"], dependencies=[Depends(require_api_key)]
)


@router.post("", status_code=201)
def create_contact(body: ContactIn, session: SessionDep) -> dict[str, Any]:
    """Create a contact; 409 if the email exists."""
    contact = service.create(
        session=session,
        email=body.email,
        first_name=body.first_name,
        last_name=body.last_name,
        fields=body.fields,
    )
    contacts_changed(session, [contact.id])
    return service.to_dict(contact)


@router.get("")
def find_contacts(
    session: SessionDep,
    email: str | None = Query(default=None, max_length=320),
    cursor: int = Query(default=0, ge=0),
    limit: int = Query(default=50, ge=1, le=500),
) -> dict[str, Any]:
    """Contacts by email, or all contacts by id (``cursor`` = last id seen)."""
    if email is not None:
        found = service.find_by_email(session=session, email=email)
        return {"items": [service.to_dict(found)] if found else [], "next_cursor": None}
    rows = list(
        session.scalars(
            select(Contact).where(Contact.id > cursor).order_by(Contact.id).limit(limit + 1)
        )
    )
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return {"items": [service.to_dict(c) for c in rows[:limit]], "next_cursor": next_cursor}


@router.get("/{contact_id}")
def get_contact(contact_id: int, session: SessionDep) -> dict[str, Any]:
    """One contact."""
    return service.to_dict(service.get(session=session, contact_id=contact_id))


@router.patch("/{contact_id}")
def patch_contact(contact_id: int, body: ContactPatch, session: SessionDep) -> dict[str, Any]:
    """Change names or custom fields."""
    contact = service.get(session=session, contact_id=contact_id)
    service.update(
        session=session,
        contact=contact,
        first_name=body.first_name,
        last_name=body.last_name,
        fields=body.fields,
    )
    contacts_changed(session, [contact.id])
    return service.to_dict(contact)


@router.get("/{contact_id}/activities")
def contact_activities(
    contact_id: int,
    session: SessionDep,
    query: ActivityQueryDep,
) -> dict[str, Any]:
    """The contact's activity timeline, newest first."""
    service.get(session=session, contact_id=contact_id)
    return activity_queries.for_contact(
        session=session,
        contact_id=contact_id,
        activity_type=query.type,
        link_id=query.link_id,
        cursor=query.cursor,
        limit=query.limit,
    )


@router.get("/{contact_id}/export")
def export(contact_id: int, session: SessionDep) -> dict[str, Any]:
    """Everything held about the contact (B10)."""
    return export_contact(session=session, contact_id=contact_id)


@router.delete("/{contact_id}", status_code=204)
def erase(contact_id: int, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Erase the contact's personal data everywhere; counts stay (B10)."""
    erase_contact(session=session, contact_id=contact_id)

    def scrub() -> None:
        # Once committed (before the answer), move the change out of SQLite's log.
        scrub_files(runtime)

    after_commit(session, scrub)
    return Response(status_code=204)
