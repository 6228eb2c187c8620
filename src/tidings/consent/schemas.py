"""API bodies for consents."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ConsentIn(BaseModel):
    """Body of ``POST /api/v1/consents``."""

    model_config = ConfigDict(extra="forbid")

    code_name: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    display_name: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=20000)


class ConsentTextIn(BaseModel):
    """Body of ``POST /api/v1/consents/{code_name}/versions``."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=20000)


class AgreementIn(BaseModel):
    """Optional body when recording an agreement or revocation."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(default="api", max_length=200)
