"""Inbox pages of the embedded mail catcher."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from tidings.mailcatcher import inbox
from tidings.web.deps import SessionDep
from tidings.web.pages import render

router = APIRouter(prefix="/inbox", tags=["inbox"], include_in_schema=False)


@router.get("")
def inbox_page(
    request: Request, session: SessionDep, before: int | None = Query(default=None, ge=1)
) -> Response:
    """The list of caught messages."""
    page = inbox.list_messages(session=session, before=before)
    return render(request, "mailcatcher/inbox.html", {"page": page, "base_path": "/inbox"})


@router.get("/{message_id}")
def message_page(request: Request, message_id: int, session: SessionDep) -> Response:
    """One caught message, its HTML in a sandboxed frame."""
    message = inbox.show_message(session=session, message_id=message_id)
    return render(request, "mailcatcher/message.html", {"message": message, "base_path": "/inbox"})
