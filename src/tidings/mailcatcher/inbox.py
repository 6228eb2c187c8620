"""The Inbox: messages the embedded catcher received, listed and shown."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tidings.errors import NotFound
from tidings.mailcatcher.models import CaughtMessage

PAGE = 50


def list_messages(*, session: Session, before: int | None = None) -> dict[str, Any]:
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
    items = [
        {
            "id": r[0],
            "sender": r[1],
            "recipients": r[2].replace(",", ", "),
            "subject": r[3],
            "received_at": r[4],
        }
        for r in rows[:PAGE]
    ]
    return {
        "messages": items,
        "total": total,
        "next_before": rows[PAGE - 1][0] if len(rows) > PAGE else None,
    }


def _part(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else None


def show_message(*, session: Session, message_id: int) -> dict[str, Any]:
    """Headers, HTML and text parts, and the raw source of one message."""
    row = session.get(CaughtMessage, message_id)
    if row is None:
        raise NotFound(f"message {message_id} not found")
    parsed = message_from_bytes(row.raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    headers = [(name, str(value)) for name, value in parsed.items()]
    return {
        "id": row.id,
        "subject": row.subject,
        "sender": row.sender,
        "recipients": row.recipients.replace(",", ", "),
        "received_at": row.received_at,
        "headers": headers,
        "html": _part(parsed, "html"),
        "text": _part(parsed, "plain"),
        "raw": row.raw.decode("utf-8", "replace"),
    }
