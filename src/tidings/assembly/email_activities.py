"""The email page's Contact activities tab: identified interactions, filters, live rows."""

from __future__ import annotations

from typing import Any

from fastapi import Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from tidings.activities import queries
from tidings.activities.models import Activity
from tidings.activities.schemas import ActivityOut
from tidings.assembly import email_views as views
from tidings.assembly.email_stats import email_header
from tidings.contacts.models import Contact
from tidings.emails import service
from tidings.errors import Invalid, TidingsError
from tidings.values import MAX_ID, Id, parse_id
from tidings.web.admin import admin_router, page
from tidings.web.deps import SessionDep

router = admin_router()

PAGE_SIZE = 50
NEW_ROWS_LIMIT = 200
POLL_SECONDS = 2
TYPE_CHOICES = (
    ("email_click", "Clicks"),
    ("email_open", "Opens (less reliable)"),
    ("email_unsubscribe", "Unsubscribes"),
)


def _filters(session: Session, email_id: int, type_: str, link: str) -> dict[str, Any]:
    """Checked filter values; an unknown choice is dropped with a readable message."""
    links = service.links(session=session, email_id=email_id)
    known_types = {value for value, _ in TYPE_CHOICES}
    known_types.update(
        session.scalars(select(Activity.type).where(Activity.email_id == email_id).distinct())
    )
    problems = []
    activity_type = type_.strip() or None
    if activity_type is not None and activity_type not in known_types:
        problems.append("Activity type: not a type recorded for this email; showing all.")
        activity_type = None
    link_id = None
    try:
        link_id = parse_id(link, "Link")
    except Invalid as exc:
        problems.append(f"{exc.detail}; showing all links.")
    if link_id is not None and link_id not in {item.id for item in links}:
        problems.append("Link: not a link of this email; showing all links.")
        link_id = None
    extra = sorted(known_types - {value for value, _ in TYPE_CHOICES})
    return {
        "type": activity_type,
        "link_id": link_id,
        "links": links,
        "positions": {item.id: item.position for item in links},
        "type_choices": [*TYPE_CHOICES, *((t, t) for t in extra)],
        "problems": problems,
    }


def newer_rows(
    session: Session,
    *,
    email_id: int,
    after_id: int,
    activity_type: str | None,
    link_id: int | None,
    limit: int = NEW_ROWS_LIMIT,
) -> list[ActivityOut]:
    """Activities stored after ``after_id`` (ids grow with every insert), newest first."""
    query = (
        select(Activity, Contact.email)
        .join(Contact, Contact.id == Activity.contact_id)
        .where(Activity.email_id == email_id, Activity.id > after_id)
    )
    if activity_type:
        query = query.where(Activity.type == activity_type)
    if link_id is not None:
        query = query.where(Activity.link_id == link_id)
    rows = session.execute(
        query.order_by(Activity.occurred_at.desc(), Activity.id.desc()).limit(limit)
    ).all()
    return [ActivityOut.of(activity, address) for activity, address in rows]


@router.get("/emails/{email_id}/activities")
def activities_tab(
    request: Request,
    session: SessionDep,
    email_id: Id,
    type: str = Query(default="", max_length=100),
    link_id: str = Query(default="", max_length=30),
    cursor: str = Query(default="", max_length=200),
) -> Response:
    """Identified interactions, newest first, filtered, keyset-paged; new rows stream in."""
    email = service.get(session=session, email_id=email_id)
    filters = _filters(session, email_id, type, link_id)
    problems = list(filters["problems"])
    try:
        result = queries.for_email(
            session=session,
            email_id=email_id,
            activity_type=filters["type"],
            link_id=filters["link_id"],
            cursor=cursor or None,
            limit=PAGE_SIZE,
        )
    except TidingsError as exc:
        problems.append(f"{exc.detail}; showing the newest activities.")
        cursor = ""
        result = queries.for_email(
            session=session,
            email_id=email_id,
            activity_type=filters["type"],
            link_id=filters["link_id"],
            limit=PAGE_SIZE,
        )
    rows = [views.activity_row(item, filters["positions"]) for item in result.items]
    return page(
        request,
        "admin/emails/activities.html",
        {
            **email_header(session, email),
            **filters,
            "tab": "activities",
            "rows": rows,
            "problems": problems,
            "cursor": cursor,
            "next_cursor": result.next_cursor,
            # Page one shows everything up to its newest row; the poller asks for later ones.
            "after_id": max((row.id for row in rows), default=0),
            "poll_seconds": POLL_SECONDS,
        },
    )


@router.get("/emails/{email_id}/activities/new")
def new_rows_fragment(
    request: Request,
    session: SessionDep,
    email_id: Id,
    after_id: int = Query(default=0, ge=0, le=MAX_ID),
    type: str = Query(default="", max_length=100),
    link_id: str = Query(default="", max_length=30),
) -> Response:
    """Rows newer than those shown, and the poller that asks for the next ones."""
    service.get(session=session, email_id=email_id)
    filters = _filters(session, email_id, type, link_id)
    items = newer_rows(
        session,
        email_id=email_id,
        after_id=after_id,
        activity_type=filters["type"],
        link_id=filters["link_id"],
    )
    newest = max([after_id, *(item.id for item in items)])
    return page(
        request,
        "admin/emails/_new_rows.html",
        {
            **filters,
            "email_id": email_id,
            "rows": [views.activity_row(item, filters["positions"]) for item in items],
            "after_id": newest,
            "poll_seconds": POLL_SECONDS,
        },
    )
