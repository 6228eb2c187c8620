"""REST routes of the activity log: query parameters of the listings, custom activities,
a contact's timeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from tidings.activities import queries as activity_queries
from tidings.activities import service
from tidings.activities.schemas import ActivityPage, CustomActivityIn, Recorded
from tidings.contacts import service as contacts
from tidings.contacts.models import Contact
from tidings.errors import NotFound
from tidings.values import MAX_ID, Id, Text
from tidings.web.deps import SessionDep, require_api_key
from tidings.web.errors import API_RESPONSES, BODY_RESPONSES, responses


@dataclass
class ActivityQuery:
    """``type``, ``link_id``, ``cursor`` and ``limit`` of an activity listing."""

    type: Annotated[Text | None, Query(max_length=100)] = None
    link_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None
    cursor: Annotated[Text | None, Query(max_length=200)] = None
    limit: Annotated[int, Query(ge=1, le=500)] = 50


ActivityQueryDep = Annotated[ActivityQuery, Depends()]

router = APIRouter(
    prefix="/api/v1/contacts",
    tags=["activities"],
    dependencies=[Depends(require_api_key)],
    responses=API_RESPONSES,
)


@router.post("/{contact_id}/activities", status_code=201, responses=BODY_RESPONSES | responses(404))
def record_custom_activity(contact_id: Id, body: CustomActivityIn, session: SessionDep) -> Recorded:
    """Log a ``custom:<name>`` activity; ``recorded`` is false when the contact's
    consent does not allow tracking (B1), and then nothing is stored."""
    if session.get(Contact, contact_id) is None:
        raise NotFound(f"contact {contact_id} not found")
    activity = service.record(session, contact_id, body.type, value=body.value)
    return Recorded(recorded=activity is not None)


# The contact's timeline is listed with the contacts' calls (its tag), as it always was.
timeline_router = APIRouter(
    prefix="/api/v1/contacts",
    tags=["contacts"],
    dependencies=[Depends(require_api_key)],
    responses=API_RESPONSES,
)


@timeline_router.get("/{contact_id}/activities", responses=responses(404))
def contact_activities(
    contact_id: Id,
    session: SessionDep,
    query: ActivityQueryDep,
) -> ActivityPage:
    """The contact's activity timeline, newest first."""
    contacts.get(session=session, contact_id=contact_id)
    return activity_queries.for_contact(
        session=session,
        contact_id=contact_id,
        activity_type=query.type,
        link_id=query.link_id,
        cursor=query.cursor,
        limit=query.limit,
    )
