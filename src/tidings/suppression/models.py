"""The suppression list's table."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, BigId, UTCDateTime, utcnow


class SuppressionReason(enum.StrEnum):
    """Why an address is never mailed again."""

    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCES = "soft_bounces"
    COMPLAINT = "complaint"
    MANUAL = "manual"
    UNSUBSCRIBE = "unsubscribe"


class Suppression(Base):
    """An address no send ever reaches, whatever list or email.

    ``address_hash`` (keyed HMAC of the normalized address) is the identity and is
    kept when the contact is erased; ``email`` is the address in clear for people to
    read and is cleared by erasure, so a suppression outlives the data it protects.
    """

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    address_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    reason: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
    delivery_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
