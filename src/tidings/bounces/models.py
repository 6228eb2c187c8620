"""Bounce and complaint facts (the suppression list is ``tidings.suppression``)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, BigId, UTCDateTime, utcnow


class BounceKind(enum.StrEnum):
    """What came back about one delivery."""

    HARD = "hard"
    SOFT = "soft"
    COMPLAINT = "complaint"


class Bounce(Base):
    """One bounce or complaint about one delivery (at most one of each kind).

    The fact other parts of Tidings react to. ``contact_id`` is cleared by erasure
    and ``diagnostic`` (which may quote the address) with it; the row stays so counts
    and deduplication hold.
    """

    __tablename__ = "bounces"
    __table_args__ = (
        UniqueConstraint("delivery_id", "kind"),
        Index("ix_bounces_contact", "contact_id"),
        Index("ix_bounces_email_kind", "email_id", "kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    email_id: Mapped[int] = mapped_column(ForeignKey("emails.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))
    # "dsn", "arf", "heuristic" (a non-standard bounce body) or "smtp" (refused at RCPT)
    source: Mapped[str] = mapped_column(String(20))
    status: Mapped[str | None] = mapped_column(String(20))  # enhanced status code, "5.1.1"
    feedback_type: Mapped[str | None] = mapped_column(String(40))
    diagnostic: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
