"""API bodies and read models of forms."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from tidings.consent.models import CODE_NAME_PATTERN
from tidings.values import Id, Text, Timestamp

Name = Annotated[Text, Field(min_length=1, max_length=200)]
CodeName = Annotated[str, Field(pattern=CODE_NAME_PATTERN, max_length=100)]
FieldName = Annotated[Text, Field(min_length=1, max_length=100)]
Origin = Annotated[Text, Field(min_length=1, max_length=300)]
Font = Literal["system", "serif", "humanist", "mono"]
Color = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")]


class FormSettings(BaseModel):
    """What both creating and changing a form may set."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[Text, Field(max_length=200)] | None = None
    intro: Annotated[Text, Field(max_length=5000)] | None = None
    button_label: Annotated[Text, Field(min_length=1, max_length=100)] | None = None
    thank_you_text: Annotated[Text, Field(max_length=5000)] | None = None
    confirmed_text: Annotated[Text, Field(max_length=5000)] | None = None
    accent_color: Color | None = None
    font: Font | None = None
    radius: Annotated[int, Field(ge=0, le=24)] | None = None
    css_class: Annotated[Text, Field(max_length=100)] | None = None
    allowed_origins: Annotated[list[Origin], Field(max_length=20)] | None = None


class FormIn(FormSettings):
    """Body of ``POST /api/v1/forms``."""

    name: Name
    recipient_list_id: Id
    consent_codes: Annotated[list[CodeName], Field(max_length=20)] | None = None
    fields: Annotated[list[FieldName], Field(max_length=20)] | None = None
    double_opt_in: bool = True


class FormPatch(FormSettings):
    """Body of ``PATCH /api/v1/forms/{id}``: any of the fields."""

    name: Name | None = None
    recipient_list_id: Id | None = None
    consent_codes: Annotated[list[CodeName], Field(max_length=20)] | None = None
    fields: Annotated[list[FieldName], Field(max_length=20)] | None = None
    double_opt_in: bool | None = None


class FormOut(BaseModel):
    """A form, its public URL and how it is used."""

    id: int
    url: str
    name: str
    recipient_list_id: int
    consent_codes: list[str]
    fields: list[str]
    double_opt_in: bool
    confirmation_email_id: int | None
    title: str
    intro: str
    button_label: str
    thank_you_text: str
    confirmed_text: str
    accent_color: str
    font: str
    radius: int
    css_class: str
    allowed_origins: list[str]
    submissions: int
    confirmed: int
    pending: int
    created_at: Timestamp


class FormList(BaseModel):
    """Every form."""

    items: list[FormOut]
