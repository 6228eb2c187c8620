"""REST routes for emails: create, edit, send, statistics and activities."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query
from sqlalchemy import select

from tidings.activities import queries as activity_queries
from tidings.activities.api import ActivityQueryDep
from tidings.emails import service
from tidings.emails.models import Email
from tidings.emails.schemas import EmailIn, EmailPatch, SendIn
from tidings.sending import service as sending
from tidings.stats import service as stats
from tidings.web.deps import SessionDep, require_api_key

router = APIRouter(prefix="/api/v1", tags=["emails"], dependencies=[Depends(require_api_key)])


@router.post("/emails", status_code=201)
def create_email(body: EmailIn, session: SessionDep) -> dict[str, Any]:
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
        widgets=body.model_dump(mode="json")["widgets"],
    )
    return service.to_dict(email, link_rows=service.links(session=session, email_id=email.id))


@router.get("/emails")
def list_emails(session: SessionDep) -> dict[str, Any]:
    """Every email, newest first."""
    emails = session.scalars(select(Email).order_by(Email.id.desc())).all()
    return {"items": [service.to_dict(e) for e in emails]}


@router.get("/emails/{email_id}")
def get_email(email_id: int, session: SessionDep) -> dict[str, Any]:
    """One email with its link positions."""
    email = service.get(session=session, email_id=email_id)
    return service.to_dict(email, link_rows=service.links(session=session, email_id=email_id))


@router.patch("/emails/{email_id}")
def patch_email(email_id: int, body: EmailPatch, session: SessionDep) -> dict[str, Any]:
    """Edit an email; content is locked once it has been sent (409)."""
    email = service.get(session=session, email_id=email_id)
    changes = body.model_dump(exclude_unset=True)
    if "sender_address" in changes and changes["sender_address"] is not None:
        changes["sender_address"] = str(changes["sender_address"])
    service.update(session=session, email=email, changes=changes)
    return service.to_dict(email, link_rows=service.links(session=session, email_id=email_id))


@router.post("/emails/{email_id}/send", status_code=202)
def send_email(
    email_id: int, session: SessionDep, body: SendIn | None = Body(default=None)
) -> dict[str, Any]:
    """Send a regular email to its list (optionally within / without a group)."""
    body = body or SendIn()
    mailout = sending.start_mailout(
        session=session,
        email_id=email_id,
        contact_group_id=body.contact_group_id,
        exclude_contact_group_id=body.exclude_contact_group_id,
    )
    return {"mailout_id": mailout.id, "total": mailout.total, "status": mailout.status}


@router.get("/emails/{email_id}/statistics")
def email_statistics(email_id: int, session: SessionDep) -> dict[str, Any]:
    """Counters, rates with denominators, per-link figures and reconciliation (B2)."""
    service.get(session=session, email_id=email_id)
    return stats.email_statistics(session=session, email_id=email_id)


@router.get("/emails/{email_id}/timeline")
def email_timeline(
    email_id: int,
    session: SessionDep,
    granularity: str = Query(default="hour", pattern="^(hour|day)$"),
) -> dict[str, Any]:
    """Human opens and clicks per hour or day."""
    service.get(session=session, email_id=email_id)
    return {
        "granularity": granularity,
        "items": stats.timeline(session=session, email_id=email_id, granularity=granularity),
    }


@router.get("/emails/{email_id}/activities")
def email_activities(
    email_id: int,
    session: SessionDep,
    query: ActivityQueryDep,
) -> dict[str, Any]:
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


@router.get("/mailouts/{mailout_id}")
def get_mailout(mailout_id: int, session: SessionDep) -> dict[str, Any]:
    """Progress of a mailout; ``status`` ends as ``finished``."""
    mailout = sending.get_mailout(session=session, mailout_id=mailout_id)
    return sending.progress(session=session, mailout=mailout)
