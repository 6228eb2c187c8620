"""Inbox pages of the embedded mail catcher."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from starlette.responses import Response

from tidings.mailcatcher import inbox
from tidings.web.admin import admin_router, page
from tidings.web.deps import SessionDep
from tidings.web.forms import Before, Id

TEMPLATES = Path(__file__).with_name("templates")
router = admin_router("/inbox")
KEY_HEADERS = (
    "From",
    "To",
    "Reply-To",
    "Subject",
    "Date",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Message-ID",
    "DKIM-Signature",
)
ANGLE_URL = re.compile(r"<([^<>\s]+)>")
WEB_URL = re.compile(r"https?://", re.IGNORECASE)


@dataclass(frozen=True)
class KeyHeader:
    """A header a sender checks first; ``links`` are its http(s) URLs (List-Unsubscribe)."""

    name: str
    value: str
    links: list[str]
    others: list[str]


def key_headers(headers: list[tuple[str, str]]) -> list[KeyHeader]:
    """The headers a sender checks first, with the http(s) URLs of List-Unsubscribe."""
    found: dict[str, str] = {}
    for name, value in headers:
        canonical = next((k for k in KEY_HEADERS if k.lower() == name.lower()), None)
        if canonical and canonical not in found:
            found[canonical] = value
    items = []
    for name in KEY_HEADERS:
        if name not in found:
            continue
        value = found[name]
        if name == "DKIM-Signature":
            value = (
                "present ("
                + ", ".join(
                    part.strip() for part in value.split(";") if part.strip()[:2] in {"d=", "s="}
                )
                + ")"
            )
        urls = ANGLE_URL.findall(value) if name == "List-Unsubscribe" else []
        links = [u for u in urls if WEB_URL.match(u)]
        others = [u for u in urls if not WEB_URL.match(u)]
        items.append(KeyHeader(name, value, links, others))
    return items


@router.get("")
def inbox_page(request: Request, session: SessionDep, before: Before = None) -> Response:
    """The list of caught messages, newest first."""
    listing = inbox.list_messages(session=session, before=before)
    return page(
        request,
        "mailcatcher/inbox.html",
        {"page": listing, "base_path": "/inbox", "section": "inbox", "paged": before is not None},
    )


@router.get("/{message_id}")
def message_page(request: Request, message_id: Id, session: SessionDep) -> Response:
    """One caught message: key headers, its HTML in a sandboxed frame, text and source."""
    message = inbox.show_message(session=session, message_id=message_id)
    return page(
        request,
        "mailcatcher/message.html",
        {
            "message": message,
            "key_headers": key_headers(message.headers),
            "base_path": "/inbox",
            "section": "inbox",
        },
    )
