"""The Inbox: messages the embedded catcher received, listed and shown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tidings.errors import NotFound
from tidings.mailcatcher.models import CaughtMessage

PAGE = 50


@dataclass(frozen=True)
class CaughtSummary:
    """One line of the Inbox."""

    id: int
    sender: str
    recipients: str
    subject: str
    received_at: datetime


@dataclass(frozen=True)
class InboxPage:
    """A page of the Inbox, newest first; ``next_before`` leads to older messages."""

    messages: list[CaughtSummary]
    total: int
    next_before: int | None


@dataclass(frozen=True)
class CaughtMessageView:
    """One caught message: headers, parts and source."""

    id: int
    subject: str
    sender: str
    recipients: str
    received_at: datetime
    headers: list[tuple[str, str]]
    html: str | None
    text: str | None
    raw: str


def list_messages(*, session: Session, before: int | None = None) -> InboxPage:
    """Newest first, a page of ``PAGE``."""
    query = select(
        CaughtMessage.id,
        CaughtMessage.sender,
        CaughtMessage.recipients,
        CaughtMessage.subject,
        CaughtMessage.received_at,
    )
    if before:
        query = query.where(CaughtMessage.id < before)
    rows = session.execute(query.order_by(CaughtMessage.id.desc()).limit(PAGE + 1)).all()
    total = session.scalar(select(func.count()).select_from(CaughtMessage)) or 0
    items = [CaughtSummary(r[0], r[1], r[2].replace(",", ", "), r[3], r[4]) for r in rows[:PAGE]]
    return InboxPage(
        messages=items,
        total=total,
        next_before=rows[PAGE - 1][0] if len(rows) > PAGE else None,
    )


def _part(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else None


def show_message(*, session: Session, message_id: int) -> CaughtMessageView:
    """Headers, HTML and text parts, and the raw source of one message."""
    row = session.get(CaughtMessage, message_id)
    if row is None:
        raise NotFound(f"message {message_id} not found")
    parsed = message_from_bytes(row.raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    headers = [(name, str(value)) for name, value in parsed.items()]
    return CaughtMessageView(
        id=row.id,
        subject=row.subject,
        sender=row.sender,
        recipients=row.recipients.replace(",", ", "),
        received_at=row.received_at,
        headers=headers,
        html=_part(parsed, "html"),
        text=_part(parsed, "plain"),
        raw=row.raw.decode("utf-8", "replace"),
    )
