"""REST routes for contacts. A contact's activities are served by ``activities.api``,
its export and erasure by ``privacy.api``, under the same ``/api/v1/contacts`` paths."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import column, select, table

from tidings.contacts import service
from tidings.contacts.models import Contact
from tidings.contacts.schemas import (
    ContactDetail,
    ContactIn,
    ContactOut,
    ContactPage,
    ContactPatch,
    SubscriptionState,
)
from tidings.values import MAX_ID, Id, Text
from tidings.web.deps import SessionDep, require_api_key
from tidings.web.errors import API_RESPONSES, BODY_RESPONSES, responses

# A contact's subscriptions are read from ``lists``' table by name: lists sits above
# contacts (docs/architecture.md, "Layers").
SUBSCRIPTIONS = table("subscriptions", column("contact_id"), column("list_id"), column("status"))

router = APIRouter(
    prefix="/api/v1/contacts",
    tags=["contacts"],
    dependencies=[Depends(require_api_key)],
    responses=API_RESPONSES,
)


@router.post("", status_code=201, responses=BODY_RESPONSES | responses(409))
def create_contact(body: ContactIn, session: SessionDep) -> ContactOut:
    """Create a contact; 409 if the email exists."""
    contact = service.create(
        session=session,
        email=body.email,
        first_name=body.first_name,
        last_name=body.last_name,
        fields=body.fields,
    )
    return ContactOut.of(contact)


@router.get("")
def find_contacts(
    session: SessionDep,
    email: Annotated[Text | None, Query(max_length=320)] = None,
    cursor: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ContactPage:
    """Contacts by email, or all contacts by id (``cursor`` = last id seen)."""
    if email is not None:
        found = service.find_by_email(session=session, email=email)
        return ContactPage(items=[ContactOut.of(found)] if found else [], next_cursor=None)
    rows = list(
        session.scalars(
            select(Contact).where(Contact.id > cursor).order_by(Contact.id).limit(limit + 1)
        )
    )
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return ContactPage(items=[ContactOut.of(c) for c in rows[:limit]], next_cursor=next_cursor)


@router.get("/{contact_id}", responses=responses(404))
def get_contact(contact_id: Id, session: SessionDep) -> ContactDetail:
    """One contact, with ``subscriptions:[{list_id, status}]``."""
    contact = service.get(session=session, contact_id=contact_id)
    rows = session.execute(
        select(SUBSCRIPTIONS.c.list_id, SUBSCRIPTIONS.c.status)
        .where(SUBSCRIPTIONS.c.contact_id == contact.id)
        .order_by(SUBSCRIPTIONS.c.list_id)
    ).all()
    return ContactDetail(
        **ContactOut.of(contact).model_dump(),
        subscriptions=[SubscriptionState(list_id=r[0], status=r[1]) for r in rows],
    )


@router.patch("/{contact_id}", responses=BODY_RESPONSES | responses(404))
def patch_contact(contact_id: Id, body: ContactPatch, session: SessionDep) -> ContactOut:
    """Change names or custom fields: ``null`` clears a name and removes a field."""
    contact = service.get(session=session, contact_id=contact_id)
    given = body.model_fields_set
    service.update(
        session=session,
        contact=contact,
        first_name=body.first_name if "first_name" in given else service.UNCHANGED,
        last_name=body.last_name if "last_name" in given else service.UNCHANGED,
        fields=body.fields,
    )
    return ContactOut.of(contact)
