"""Inbox pages of the embedded mail catcher."""

from __future__ import annotations

from fastapi import Query, Request
from starlette.responses import Response

from tidings.mailcatcher import inbox
from tidings.web.admin import admin_router, page
from tidings.web.deps import SessionDep

router = admin_router("/inbox")


@router.get("")
def inbox_page(
    request: Request, session: SessionDep, before: int | None = Query(default=None, ge=1)
) -> Response:
    """The list of caught messages."""
    listing = inbox.list_messages(session=session, before=before)
    return page(
        request,
        "mailcatcher/inbox.html",
        {"page": listing, "base_path": "/inbox", "section": "inbox"},
    )


@router.get("/{message_id}")
def message_page(request: Request, message_id: int, session: SessionDep) -> Response:
    """One caught message, its HTML in a sandboxed frame."""
    message = inbox.show_message(session=session, message_id=message_id)
    return page(
        request,
        "mailcatcher/message.html",
        {"message": message, "base_path": "/inbox", "section": "inbox"},
    )
