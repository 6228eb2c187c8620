"""Consent definitions, their text versions and contacts' agreements."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, BigId, UTCDateTime, utcnow

TRACKING_CONSENT = "tracking"
# A code name: lower-case letters, digits, "_" and "-", starting with a letter or digit.
CODE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,99}$"


class Consent(Base):
    """A consent definition, e.g. ``tracking``."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code_name: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsentText(Base):
    """One version of a consent's text; versions are never changed or removed."""

    __tablename__ = "consent_texts"
    __table_args__ = (UniqueConstraint("consent_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    consent_id: Mapped[int] = mapped_column(ForeignKey("consents.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsentAgreement(Base):
    """A contact's agreement to one version of a consent; revoked agreements stay as history."""

    __tablename__ = "consent_agreements"
    __table_args__ = (Index("ix_consent_agreements_contact_consent", "contact_id", "consent_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    consent_id: Mapped[int] = mapped_column(ForeignKey("consents.id", ondelete="CASCADE"))
    consent_text_id: Mapped[int] = mapped_column(ForeignKey("consent_texts.id"))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(200), default="api")
    # The page it was given on (a form's page), without query or fragment.
    source_url: Mapped[str | None] = mapped_column(String(500))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoke_source: Mapped[str | None] = mapped_column(String(200))
