"""The outbox of events and each subscriber's cursor in it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, BigId, UTCDateTime


class OutboxEvent(Base):
    """One published event, written in the transaction that made it true.

    Ids only grow, even after the rows below every cursor are deleted
    (``AUTOINCREMENT`` on SQLite, a sequence on PostgreSQL), and they are handed out
    in commit order (see ``events.publish``), so a cursor never passes an event that
    is still to commit.
    """

    __tablename__ = "event_outbox"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class SubscriberCursor(Base):
    """How far one subscriber has handled the outbox, and its last failure."""

    __tablename__ = "event_cursors"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
