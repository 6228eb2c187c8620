"""API bodies for contacts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class ContactIn(BaseModel):
    """Body of ``POST /api/v1/contacts``."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    fields: dict[str, Any] = Field(default_factory=dict)


class ContactPatch(BaseModel):
    """Body of ``PATCH /api/v1/contacts/{id}``; a field set to null is removed."""

    model_config = ConfigDict(extra="forbid")

    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    fields: dict[str, Any] | None = None
