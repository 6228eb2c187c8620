"""Aggregate counters. They count everyone and survive erasure (B2, B10)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, UTCDateTime

COUNTER_FIELDS = (
    "opens_total",
    "opens_unique",
    "opens_automated",
    "clicks_total",
    "clicks_unique",
    "clicks_identified",
    "clicks_anonymous",
    "clicks_automated",
    "unsubscribes",
    "complaints",
)


class EmailStats(Base):
    """Interaction counters of one email (sending figures come from deliveries)."""

    __tablename__ = "email_stats"

    email_id: Mapped[int] = mapped_column(
        ForeignKey("emails.id", ondelete="CASCADE"), primary_key=True
    )
    opens_total: Mapped[int] = mapped_column(Integer, default=0)
    opens_unique: Mapped[int] = mapped_column(Integer, default=0)
    opens_automated: Mapped[int] = mapped_column(Integer, default=0)
    clicks_total: Mapped[int] = mapped_column(Integer, default=0)
    clicks_unique: Mapped[int] = mapped_column(Integer, default=0)
    clicks_identified: Mapped[int] = mapped_column(Integer, default=0)
    clicks_anonymous: Mapped[int] = mapped_column(Integer, default=0)
    clicks_automated: Mapped[int] = mapped_column(Integer, default=0)
    unsubscribes: Mapped[int] = mapped_column(Integer, default=0)
    complaints: Mapped[int] = mapped_column(Integer, default=0)


class LinkStats(Base):
    """Counters of one link position."""

    __tablename__ = "link_stats"

    link_id: Mapped[int] = mapped_column(
        ForeignKey("links.id", ondelete="CASCADE"), primary_key=True
    )
    email_id: Mapped[int] = mapped_column(ForeignKey("emails.id", ondelete="CASCADE"), index=True)
    clicks_total: Mapped[int] = mapped_column(Integer, default=0)
    clicks_unique: Mapped[int] = mapped_column(Integer, default=0)
    clicks_automated: Mapped[int] = mapped_column(Integer, default=0)


class TimelineBucket(Base):
    """Human opens and clicks of one email in one hour."""

    __tablename__ = "stats_timeline"

    email_id: Mapped[int] = mapped_column(
        ForeignKey("emails.id", ondelete="CASCADE"), primary_key=True
    )
    bucket: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    opens: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)


class AutomatedReasonCount(Base):
    """Automated opens or clicks of one email for one reason (B7)."""

    __tablename__ = "automated_reason_counts"

    email_id: Mapped[int] = mapped_column(
        ForeignKey("emails.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)  # open or click
    reason: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
