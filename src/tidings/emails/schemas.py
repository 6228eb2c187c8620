"""API bodies for emails and sends."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from tidings.emails.models import EmailPurpose
from tidings.emails.widgets import MAX_HTML, MAX_VARIANTS


class VariantIn(BaseModel):
    """One variant of a widget: a condition (B11 JSON) and its HTML."""

    model_config = ConfigDict(extra="forbid")

    condition: dict[str, Any]
    html: str = Field(max_length=MAX_HTML)


class WidgetIn(BaseModel):
    """A widget placed with ``{{ widget("key") }}``: default HTML and variants."""

    model_config = ConfigDict(extra="forbid")

    html: str = Field(max_length=MAX_HTML)
    variants: list[VariantIn] = Field(default_factory=list, max_length=MAX_VARIANTS)


WIDGETS_DESCRIPTION = (
    'Widgets by key, placed in the HTML with {{ widget("key") }}: '
    "{key: {html, variants: [{condition, html}]}}"
)


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
    widgets: dict[str, WidgetIn] | None = Field(default=None, description=WIDGETS_DESCRIPTION)


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
    widgets: dict[str, WidgetIn] | None = Field(default=None, description=WIDGETS_DESCRIPTION)


class SendIn(BaseModel):
    """Body of ``POST /api/v1/emails/{id}/send``."""

    model_config = ConfigDict(extra="forbid")

    contact_group_id: int | None = None
    exclude_contact_group_id: int | None = None
