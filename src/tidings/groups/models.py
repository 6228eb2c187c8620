"""Contact groups and their materialized members."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tidings.activities.models import Activity
from tidings.db.base import Base, BigId, UTCDateTime, utcnow


class ContactGroup(Base):
    """A dynamic segment; ``condition`` is normalized condition JSON (B11)."""

    __tablename__ = "contact_groups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    condition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_rebuilt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class GroupMember(Base):
    """One contact currently in one group; rows that stay across rebuilds are untouched.

    No foreign keys: a full rebuild inserts hundreds of thousands of rows at once, and
    per-row reference checks (which also lock each contact row on PostgreSQL) cost
    more than computing the group. Erasing a contact and deleting a group delete the
    rows explicitly (``membership.forget_contacts`` / ``forget_group``), under the
    membership lock that keeps rebuilds and incremental updates from adding them back.
    """

    __tablename__ = "group_members"
    __table_args__ = (Index("ix_group_members_contact", "contact_id"),)

    group_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# Group conditions over activities filter by type and time and need only the contact:
# this index answers them (and their min_count grouping) without reading the rows.
# Declared here, beside the queries that need it; migration 0002 creates it.
Index(
    "ix_activities_type_time_contact",
    Activity.type,
    Activity.occurred_at,
    Activity.contact_id,
)
