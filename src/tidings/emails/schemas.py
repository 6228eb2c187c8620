"""API bodies and read models of emails."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from tidings.emails.models import Email, EmailPurpose, Link
from tidings.emails.widgets import MAX_HTML, MAX_VARIANTS
from tidings.values import Id, JsonTree, Text, Timestamp

Name = Annotated[Text, Field(min_length=1, max_length=200)]
Subject = Annotated[Text, Field(min_length=1, max_length=500)]
Html = Annotated[Text, Field(min_length=1, max_length=1_000_000)]
PlainText = Annotated[Text, Field(max_length=1_000_000)]
WidgetHtml = Annotated[Text, Field(max_length=MAX_HTML)]


def _not_given() -> Any:
    """The value of a field left out of a PATCH body (never stored: the route applies
    only the fields given)."""
    return None


class VariantIn(BaseModel):
    """One variant of a widget: a condition (B11 JSON) and its HTML."""

    model_config = ConfigDict(extra="forbid")

    condition: JsonTree
    html: WidgetHtml


class WidgetIn(BaseModel):
    """A widget placed with ``{{ widget("key") }}``: default HTML and variants."""

    model_config = ConfigDict(extra="forbid")

    html: WidgetHtml
    variants: list[VariantIn] = Field(default_factory=list, max_length=MAX_VARIANTS)


WIDGETS_DESCRIPTION = (
    'Widgets by key, placed in the HTML with {{ widget("key") }}: '
    "{key: {html, variants: [{condition, html}]}}"
)


class EmailIn(BaseModel):
    """Body of ``POST /api/v1/emails``."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    subject: Subject
    html: Html
    plain_text: PlainText | None = None
    sender_name: Name
    sender_address: EmailStr
    recipient_list_id: Id | None = None
    purpose: EmailPurpose = EmailPurpose.REGULAR
    # The code name of the consent that governs tracking of this email (B1).
    tracking_consent: Annotated[Text, Field(min_length=1, max_length=100)] = "tracking"
    widgets: dict[str, WidgetIn] | None = Field(default=None, description=WIDGETS_DESCRIPTION)


class EmailPatch(BaseModel):
    """Body of ``PATCH /api/v1/emails/{id}``: the fields given change. ``null`` clears
    ``plain_text`` (derived from the HTML again) and ``recipient_list_id``; the other
    fields cannot be empty, so ``null`` for them is a 422."""

    model_config = ConfigDict(extra="forbid")

    # Left out means unchanged; null fails their type (a 422).
    name: Name = Field(default_factory=_not_given)
    subject: Subject = Field(default_factory=_not_given)
    html: Html = Field(default_factory=_not_given)
    plain_text: PlainText | None = None
    sender_name: Name = Field(default_factory=_not_given)
    sender_address: EmailStr = Field(default_factory=_not_given)
    recipient_list_id: Id | None = None
    tracking_consent: Annotated[Text, Field(min_length=1, max_length=100)] = Field(
        default_factory=_not_given
    )
    # Null removes the widgets.
    widgets: dict[str, WidgetIn] | None = Field(default=None, description=WIDGETS_DESCRIPTION)


class LinkOut(BaseModel):
    """One tracked link position of an email, with its URL as written."""

    link_id: int
    position: int
    url: str


class EmailOut(BaseModel):
    """An email as listed."""

    id: int
    name: str
    subject: str
    html: str
    plain_text: str | None
    sender_name: str
    sender_address: str
    recipient_list_id: int | None
    purpose: str
    # The code name of the consent that governs tracking of this email (B1).
    tracking_consent: str
    widgets: dict[str, Any] = Field(description=WIDGETS_DESCRIPTION)
    # "builder" for an email built from a template's widgets, else "html".
    editor: str
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def fields_of(cls, email: Email) -> dict[str, object]:
        """The stored email's values of these fields."""
        from tidings.emails.service import tracking_consent

        derived = {
            "tracking_consent": tracking_consent(email),
            "widgets": email.widgets or {},
            "editor": "html" if email.builder is None else "builder",
        }
        values = {
            name: getattr(email, name) for name in EmailOut.model_fields if name not in derived
        }
        return {**values, **derived}

    @classmethod
    def of(cls, email: Email) -> EmailOut:
        """The read model of a stored email."""
        return cls.model_validate(cls.fields_of(email))


class EmailDetail(EmailOut):
    """One email with its link positions, in order."""

    links: list[LinkOut]

    @classmethod
    def with_links(cls, email: Email, links: list[Link]) -> EmailDetail:
        """The read model of a stored email and its links."""
        return cls.model_validate(
            {
                **EmailOut.fields_of(email),
                "links": [
                    LinkOut(link_id=link.id, position=link.position, url=link.url) for link in links
                ],
            }
        )


class EmailList(BaseModel):
    """Every email, newest first."""

    items: list[EmailOut]
