"""Sending from the admin UI: a confirmation step, the mailout start, live progress."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Form, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from tidings.contacts.models import Contact
from tidings.emails import service
from tidings.emails.models import Email
from tidings.errors import Invalid, NotFound, TidingsError
from tidings.groups.models import ContactGroup
from tidings.lists.models import RecipientList, Subscription
from tidings.sending import service as sending
from tidings.sending.service import recipient_conditions
from tidings.values import Id, parse_id
from tidings.web.admin import admin_router, page
from tidings.web.deps import SessionDep

router = admin_router()


def contact_groups(session: Session) -> list[Any] | None:
    """Every contact group by name, or None when the groups module is not installed."""
    return list(session.scalars(select(ContactGroup).order_by(ContactGroup.name)))


def recipient_count(
    session: Session, email: Email, include_group: int | None, exclude_group: int | None
) -> int:
    """How many contacts a mailout started now would reach (the rules of start_mailout)."""
    if email.recipient_list_id is None:
        return 0
    conditions = recipient_conditions(
        email_id=email.id,
        list_id=email.recipient_list_id,
        include_group=include_group,
        exclude_group=exclude_group,
    )
    query = (
        select(func.count())
        .select_from(Subscription)
        .join(Contact, Contact.id == Subscription.contact_id)
        .where(*conditions)
    )
    return session.scalar(query) or 0


def _confirm(
    request: Request,
    session: Session,
    email: Email,
    include_group: int | None = None,
    exclude_group: int | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    recipient_list = (
        session.get(RecipientList, email.recipient_list_id) if email.recipient_list_id else None
    )
    return page(
        request,
        "admin/emails/send.html",
        {
            "section": "emails",
            "email": email,
            "recipient_list": recipient_list,
            "count": recipient_count(session, email, include_group, exclude_group),
            "groups": contact_groups(session),
            "include_group": include_group,
            "exclude_group": exclude_group,
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/emails/{email_id}/send")
def confirm_send(request: Request, session: SessionDep, email_id: Id) -> Response:
    """The confirmation step: list, recipient count, optional contact groups."""
    email = service.get(session=session, email_id=email_id)
    return _confirm(request, session, email)


@router.get("/emails/{email_id}/send/count")
def count_fragment(
    request: Request,
    session: SessionDep,
    email_id: Id,
    contact_group_id: str = "",
    exclude_contact_group_id: str = "",
) -> Response:
    """The recipient count for the chosen groups (htmx)."""
    email = service.get(session=session, email_id=email_id)
    try:
        count: int | None = recipient_count(
            session,
            email,
            parse_id(contact_group_id, "Only contacts in"),
            parse_id(exclude_contact_group_id, "Leave out contacts in"),
        )
        error = None
    except TidingsError as exc:
        count, error = None, str(exc.detail)
    return page(request, "admin/emails/_send_count.html", {"count": count, "count_error": error})


@router.post("/emails/{email_id}/send")
def start_send(
    request: Request,
    session: SessionDep,
    email_id: Id,
    contact_group_id: Annotated[str, Form()] = "",
    exclude_contact_group_id: Annotated[str, Form()] = "",
    send_at: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Start (or schedule) the mailout and go to the email page, where its progress shows."""
    email = service.get(session=session, email_id=email_id)
    include_group = exclude_group = None
    try:
        include_group = parse_id(contact_group_id, "Only contacts in")
        exclude_group = parse_id(exclude_contact_group_id, "Leave out contacts in")
        when = parse_send_at(send_at)
        mailout = sending.start_mailout(
            session=session,
            email_id=email.id,
            contact_group_id=include_group,
            exclude_contact_group_id=exclude_group,
            send_at=when,
        )
        scheduled = mailout.status == "scheduled"
        if not mailout.total and not scheduled:  # rolled back below: no empty mailout is kept
            raise Invalid(
                "nobody to send to: every chosen contact has got this email, "
                "unsubscribed or opted out"
            )
    except TidingsError as exc:
        session.rollback()
        email = service.get(session=session, email_id=email_id)
        return _confirm(
            request,
            session,
            email,
            include_group,
            exclude_group,
            error=str(exc.detail),
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/emails/{email.id}?mailout={mailout.id}", status_code=303)


def parse_send_at(value: str) -> datetime | None:
    """The send-later field (``YYYY-MM-DDTHH:MM``, UTC), or None when empty."""
    value = value.strip()
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(f"send at: {value!r} is not a date and time") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@router.get("/emails/{email_id}/mailouts/{mailout_id}/progress")
def progress_fragment(
    request: Request,
    session: SessionDep,
    email_id: Id,
    mailout_id: Id,
    compact: bool = False,
) -> Response:
    """The progress bar; it keeps polling itself until the mailout has finished."""
    mailout = sending.get_mailout(session=session, mailout_id=mailout_id)
    if mailout.email_id != email_id:
        raise NotFound(f"mailout {mailout_id} not found")
    return page(
        request,
        "admin/emails/_progress.html",
        {
            "progress": sending.progress(session=session, mailout=mailout),
            "email_id": email_id,
            "compact": compact,
        },
    )
