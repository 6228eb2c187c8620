"""API bodies for emails and sends."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field

from tidings.emails.models import EmailPurpose


class EmailIn(BaseModel):
    """Body of ``POST /api/v1/emails``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    subject: str = Field(min_length=1, max_length=500)
    html: str = Field(min_length=1, max_length=1_000_000)
    plain_text: str | None = Field(default=None, max_length=1_000_000)
    sender_name: str = Field(min_length=1, max_length=200)
    sender_address: EmailStr
    recipient_list_id: int | None = None
    purpose: EmailPurpose = EmailPurpose.REGULAR


class EmailPatch(BaseModel):
    """Body of ``PATCH /api/v1/emails/{id}``."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    subject: str | None = Field(default=None, min_length=1, max_length=500)
    html: str | None = Field(default=None, min_length=1, max_length=1_000_000)
    plain_text: str | None = Field(default=None, max_length=1_000_000)
    sender_name: str | None = Field(default=None, min_length=1, max_length=200)
    sender_address: EmailStr | None = None
    recipient_list_id: int | None = None


class SendIn(BaseModel):
    """Body of ``POST /api/v1/emails/{id}/send``."""

    model_config = ConfigDict(extra="forbid")

    contact_group_id: int | None = None
    exclude_contact_group_id: int | None = None
    # ISO 8601 with a time zone; the mailout is "scheduled" until then.
    send_at: AwareDatetime | None = None
