"""REST routes for emails: create, edit, and their activities. Sending an email and its
mailouts are served by ``sending.api``, its statistics and timeline by ``stats.api``,
under the same ``/api/v1`` paths."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.activities import queries as activity_queries
from tidings.activities.api import ActivityQueryDep
from tidings.activities.schemas import ActivityPage
from tidings.emails import service
from tidings.emails.models import Email
from tidings.emails.schemas import EmailDetail, EmailIn, EmailList, EmailOut, EmailPatch
from tidings.values import Id
from tidings.web.deps import SessionDep, require_api_key
from tidings.web.errors import API_RESPONSES, BODY_RESPONSES, responses

router = APIRouter(
    prefix="/api/v1",
    tags=["emails"],
    dependencies=[Depends(require_api_key)],
    responses=API_RESPONSES,
)


def _detail(session: Session, email: Email) -> EmailDetail:
    return EmailDetail.with_links(email, service.links(session=session, email_id=email.id))


@router.post("/emails", status_code=201, responses=BODY_RESPONSES | responses(404))
def create_email(body: EmailIn, session: SessionDep) -> EmailDetail:
    """Create an email; template errors are a 422 naming the part."""
    email = service.create(
        session=session,
        name=body.name,
        subject=body.subject,
        html=body.html,
        plain_text=body.plain_text,
        sender_name=body.sender_name,
        sender_address=str(body.sender_address),
        recipient_list_id=body.recipient_list_id,
        purpose=body.purpose.value,
        tracking_consent=body.tracking_consent,
        widgets=body.model_dump(mode="json")["widgets"],
    )
    return _detail(session, email)


@router.get("/emails")
def list_emails(session: SessionDep) -> EmailList:
    """Every email, newest first."""
    emails = session.scalars(select(Email).order_by(Email.id.desc())).all()
    return EmailList(items=[EmailOut.of(e) for e in emails])


@router.get("/emails/{email_id}", responses=responses(404))
def get_email(email_id: Id, session: SessionDep) -> EmailDetail:
    """One email with its link positions."""
    return _detail(session, service.get(session=session, email_id=email_id))


@router.patch("/emails/{email_id}", responses=BODY_RESPONSES | responses(404, 409))
def patch_email(email_id: Id, body: EmailPatch, session: SessionDep) -> EmailDetail:
    """Edit an email; content is locked once it has been sent (409)."""
    email = service.get(session=session, email_id=email_id)
    changes = body.model_dump(exclude_unset=True)
    if "sender_address" in changes:
        changes["sender_address"] = str(changes["sender_address"])
    service.update(session=session, email=email, changes=changes)
    return _detail(session, email)


@router.get("/emails/{email_id}/activities", responses=responses(404))
def email_activities(
    email_id: Id,
    session: SessionDep,
    query: ActivityQueryDep,
) -> ActivityPage:
    """Identified interactions with this email, newest first (B3)."""
    service.get(session=session, email_id=email_id)
    return activity_queries.for_email(
        session=session,
        email_id=email_id,
        activity_type=query.type,
        link_id=query.link_id,
        cursor=query.cursor,
        limit=query.limit,
    )
