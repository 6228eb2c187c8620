"""API bodies and read models of consents and agreements."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from tidings.consent.models import CODE_NAME_PATTERN, ConsentAgreement
from tidings.values import Text, Timestamp

CodeName = Annotated[str, Field(min_length=1, max_length=100, pattern=CODE_NAME_PATTERN)]
"""A consent's code name: lower-case letters, digits, ``_`` and ``-``."""
TextVersion = Annotated[Text, Field(min_length=1, max_length=20000)]


class ConsentIn(BaseModel):
    """Body of ``POST /api/v1/consents``."""

    model_config = ConfigDict(extra="forbid")

    code_name: CodeName
    display_name: Annotated[Text, Field(min_length=1, max_length=200)]
    text: TextVersion


class ConsentTextIn(BaseModel):
    """Body of ``POST /api/v1/consents/{code_name}/versions``."""

    model_config = ConfigDict(extra="forbid")

    text: TextVersion


class AgreementIn(BaseModel):
    """Optional body when recording an agreement or revocation."""

    model_config = ConfigDict(extra="forbid")

    source: Annotated[Text, Field(max_length=200)] = "api"


class ConsentOut(BaseModel):
    """A consent definition with its current text."""

    id: int
    code_name: str
    display_name: str
    version: int
    text: str


class ConsentVersion(BaseModel):
    """One text version of a consent."""

    version: int
    text: str
    created_at: Timestamp


class ConsentDetail(ConsentOut):
    """A consent with every text version, oldest first."""

    versions: list[ConsentVersion]


class ConsentList(BaseModel):
    """Every consent definition."""

    items: list[ConsentOut]


class VersionOut(BaseModel):
    """The version a new text became."""

    code_name: str
    version: int


class AgreementOut(BaseModel):
    """A contact's agreement to a consent's text version."""

    id: int
    contact_id: int
    code_name: str
    version: int
    given_at: Timestamp
    source: str | None
    revoked_at: Timestamp | None

    @classmethod
    def of(cls, agreement: ConsentAgreement, *, code_name: str, version: int) -> AgreementOut:
        """The read model of a stored agreement."""
        return cls(
            id=agreement.id,
            contact_id=agreement.contact_id,
            code_name=code_name,
            version=version,
            given_at=agreement.given_at,
            source=agreement.source,
            revoked_at=agreement.revoked_at,
        )


class RevokeOut(BaseModel):
    """What a revocation changed."""

    contact_id: int
    code_name: str
    revoked: int
    activities_deleted: int
