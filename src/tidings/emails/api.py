"""REST routes for emails: create, edit, send, statistics and activities."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.activities import queries as activity_queries
from tidings.activities.api import ActivityQueryDep
from tidings.activities.schemas import ActivityPage
from tidings.emails import service
from tidings.emails.models import Email
from tidings.emails.schemas import EmailDetail, EmailIn, EmailList, EmailOut, EmailPatch
from tidings.sending import service as sending
from tidings.sending.schemas import MailoutProgress, SendIn, SendOut
from tidings.stats import service as stats
from tidings.stats.schemas import EmailStatistics, Timeline
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


@router.post(
    "/emails/{email_id}/send", status_code=202, responses=BODY_RESPONSES | responses(404, 409)
)
def send_email(
    email_id: Id, session: SessionDep, body: SendIn | None = Body(default=None)
) -> SendOut:
    """Send a regular email to its list (optionally within / without a group)."""
    body = body or SendIn()
    mailout = sending.start_mailout(
        session=session,
        email_id=email_id,
        contact_group_id=body.contact_group_id,
        exclude_contact_group_id=body.exclude_contact_group_id,
        send_at=body.send_at,
    )
    return SendOut(mailout_id=mailout.id, total=mailout.total, status=mailout.status)


@router.get("/emails/{email_id}/statistics", responses=responses(404))
def email_statistics(email_id: Id, session: SessionDep) -> EmailStatistics:
    """Counters, rates with denominators, per-link figures and reconciliation (B2)."""
    service.get(session=session, email_id=email_id)
    return stats.email_statistics(session=session, email_id=email_id)


@router.get("/emails/{email_id}/timeline", responses=responses(404))
def email_timeline(
    email_id: Id,
    session: SessionDep,
    granularity: Annotated[str, Query(pattern="^(hour|day)$")] = "hour",
) -> Timeline:
    """Human opens and clicks per hour or day."""
    service.get(session=session, email_id=email_id)
    return Timeline(
        granularity=granularity,
        items=stats.timeline(session=session, email_id=email_id, granularity=granularity),
    )


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


@router.get("/mailouts/{mailout_id}", responses=responses(404))
def get_mailout(mailout_id: Id, session: SessionDep) -> MailoutProgress:
    """Progress of a mailout; ``status`` ends as ``finished``."""
    mailout = sending.get_mailout(session=session, mailout_id=mailout_id)
    return sending.progress(session=session, mailout=mailout)
