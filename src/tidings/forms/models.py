"""Hosted subscription forms, their submissions and the public rate limit."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, BigId, UTCDateTime, utcnow


class SubmissionStatus(enum.StrEnum):
    """Where one submission stands."""

    PENDING = "pending"  # waits for its confirmation link
    CONFIRMED = "confirmed"  # confirmed (or single opt-in): subscribed
    UNCHANGED = "unchanged"  # the contact was subscribed already: nothing changed


class Form(Base):
    """A hosted subscription form for one recipient list.

    ``public_id`` is the random part of its public URL (``/f/<public_id>``), so forms
    cannot be walked by number. ``fields`` names the contact fields it asks for
    (``first_name``, ``last_name`` or a custom field). ``allowed_origins`` (one per
    line) may post to it from their own pages.
    """

    __tablename__ = "forms"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    recipient_list_id: Mapped[int] = mapped_column(
        ForeignKey("recipient_lists.id", ondelete="CASCADE")
    )
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    double_opt_in: Mapped[bool] = mapped_column(Boolean, default=True)
    confirmation_email_id: Mapped[int | None] = mapped_column(
        ForeignKey("emails.id", ondelete="SET NULL")
    )
    title: Mapped[str] = mapped_column(String(200), default="Subscribe")
    intro: Mapped[str] = mapped_column(Text, default="")
    button_label: Mapped[str] = mapped_column(String(100), default="Subscribe")
    thank_you_text: Mapped[str] = mapped_column(Text, default="")
    confirmed_text: Mapped[str] = mapped_column(Text, default="")
    accent_color: Mapped[str] = mapped_column(String(7), default="#2f5bd3")
    font: Mapped[str] = mapped_column(String(20), default="system")
    radius: Mapped[int] = mapped_column(Integer, default=6)
    css_class: Mapped[str] = mapped_column(String(100), default="")
    allowed_origins: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class FormConsent(Base):
    """A consent a form offers, in the order shown."""

    __tablename__ = "form_consents"

    form_id: Mapped[int] = mapped_column(
        ForeignKey("forms.id", ondelete="CASCADE"), primary_key=True
    )
    consent_id: Mapped[int] = mapped_column(
        ForeignKey("consents.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)


class FormSubmission(Base):
    """One posting of a form by a person (honeypot and throttled posts leave none).

    ``values`` holds the submitted field values until confirmation for a contact
    that existed already (an unconfirmed post never changes someone's data).
    ``created_contact``: the contact was made by this submission, so purging the
    unconfirmed submission erases it too.
    """

    __tablename__ = "form_submissions"
    __table_args__ = (
        Index("ix_form_submissions_form_status", "form_id", "status"),
        Index("ix_form_submissions_contact", "contact_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default=SubmissionStatus.PENDING.value)
    values: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    page_url: Mapped[str | None] = mapped_column(String(500))
    created_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SubmissionConsent(Base):
    """A consent ticked in a submission, with the text version the page showed."""

    __tablename__ = "form_submission_consents"

    submission_id: Mapped[int] = mapped_column(
        ForeignKey("form_submissions.id", ondelete="CASCADE"), primary_key=True
    )
    consent_text_id: Mapped[int] = mapped_column(
        ForeignKey("consent_texts.id", ondelete="CASCADE"), primary_key=True
    )


class FormRateLimit(Base):
    """Posts per client (keyed hash of its address) in the current window."""

    __tablename__ = "form_rate_limits"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(Integer, default=0)
