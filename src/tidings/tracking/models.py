"""Tracking events and the markers that make unique counts possible.

No row here holds a contact id, IP address or user agent (B1): an identified
interaction is linked to its contact only through its activity row.

Neither table has foreign keys (migration 0005): checking the email and link of every
row cost the tracking writer a good part of its database time, and they never act,
since emails are never deleted and links are replaced only before an email's first
mailout. Code that one day deletes an email or a sent link deletes these rows with it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, LargeBinary, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, BigId, UTCDateTime


class TrackingEvent(Base):
    """One recorded open or click, human or automated, identified or anonymous."""

    __tablename__ = "tracking_events"
    __table_args__ = (Index("ix_tracking_events_email_time", "email_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email_id: Mapped[int] = mapped_column(BigId)
    link_id: Mapped[int | None] = mapped_column(BigId)
    type: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    automated: Mapped[bool] = mapped_column(Boolean, default=False)
    automated_reason: Mapped[str | None] = mapped_column(String(100))
    identified: Mapped[bool] = mapped_column(Boolean, default=False)


class UniqueMarker(Base):
    """Seen-before marker per email (and link) and recipient, for unique counts.

    ``recipient_key`` is a hash of the delivery keyed with the email's marker key
    (``CountingWindow``), not a contact reference; the markers go when that key is
    destroyed. ``kind``: ``o`` opened, ``c`` clicked, ``l`` clicked this link.
    """

    __tablename__ = "unique_markers"
    # Keyed by recipient first, so a click's three markers share one B-tree leaf; on
    # SQLite the key is the table (one B-tree per marker written).
    __table_args__ = (
        PrimaryKeyConstraint("email_id", "recipient_key", "kind", "link_id"),
        {"sqlite_with_rowid": False},
    )

    email_id: Mapped[int] = mapped_column(BigId)
    recipient_key: Mapped[bytes] = mapped_column(LargeBinary(16))
    kind: Mapped[str] = mapped_column(String(1))
    link_id: Mapped[int] = mapped_column(BigId)


class CountingWindow(Base):
    """An email's counting window: while it is open, its unique counts move (B1, B2).

    ``marker_key`` (random, 32 bytes) keys the email's unique markers. When the window
    closes (``closes_at``, ``TIDINGS_COUNTING_WINDOW_DAYS`` after the email's first
    send) a job sets it to NULL and deletes the markers: from then on nothing stored
    links an anonymous interaction to a delivery, even with the secret key, and the
    unique counts are final. The row stays, so the window is never opened again.
    """

    __tablename__ = "counting_windows"

    email_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    marker_key: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
