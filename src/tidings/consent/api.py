"""REST routes for consent definitions and contacts' agreements."""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends
from sqlalchemy import select

from tidings.consent import service
from tidings.consent.models import Consent
from tidings.consent.schemas import (
    AgreementIn,
    AgreementOut,
    CodeName,
    ConsentDetail,
    ConsentIn,
    ConsentList,
    ConsentOut,
    ConsentTextIn,
    ConsentVersion,
    RevokeOut,
    VersionOut,
)
from tidings.values import Id
from tidings.web.deps import SessionDep, require_api_key
from tidings.web.errors import API_RESPONSES, BODY_RESPONSES, responses

router = APIRouter(
    prefix="/api/v1",
    tags=["consents"],
    dependencies=[Depends(require_api_key)],
    responses=API_RESPONSES,
)


def _consent_out(session: SessionDep, consent: Consent) -> ConsentOut:
    text = service.current_text(session=session, consent_id=consent.id)
    return ConsentOut(
        id=consent.id,
        code_name=consent.code_name,
        display_name=consent.display_name,
        version=text.version,
        text=text.text,
    )


@router.post("/consents", status_code=201, responses=BODY_RESPONSES | responses(409))
def create_consent(body: ConsentIn, session: SessionDep) -> ConsentOut:
    """Create a consent definition with its first text version."""
    consent, _ = service.create_consent(
        session=session, code_name=body.code_name, display_name=body.display_name, text=body.text
    )
    return _consent_out(session, consent)


@router.get("/consents")
def list_consents(session: SessionDep) -> ConsentList:
    """Every consent definition with its current version."""
    consents = session.scalars(select(Consent).order_by(Consent.id)).all()
    return ConsentList(items=[_consent_out(session, c) for c in consents])


@router.get("/consents/{code_name}", responses=responses(404))
def get_consent(code_name: CodeName, session: SessionDep) -> ConsentDetail:
    """One consent with every text version."""
    consent = service.require(session=session, code_name=code_name)
    return ConsentDetail(
        **_consent_out(session, consent).model_dump(),
        versions=[
            ConsentVersion(version=v.version, text=v.text, created_at=v.created_at)
            for v in service.versions(session=session, consent_id=consent.id)
        ],
    )


@router.post(
    "/consents/{code_name}/versions",
    status_code=201,
    responses=BODY_RESPONSES | responses(404),
)
def new_version(code_name: CodeName, body: ConsentTextIn, session: SessionDep) -> VersionOut:
    """Store a new text version; earlier ones stay readable."""
    consent = service.require(session=session, code_name=code_name)
    version = service.update_text(session=session, consent=consent, text=body.text)
    return VersionOut(code_name=code_name, version=version.version)


@router.post(
    "/contacts/{contact_id}/consents/{code_name}",
    status_code=201,
    responses=BODY_RESPONSES | responses(404),
)
def agree(
    contact_id: Id,
    code_name: CodeName,
    session: SessionDep,
    body: AgreementIn | None = Body(default=None),
) -> AgreementOut:
    """Record the contact's agreement to the consent's current text."""
    agreement = service.agree(
        session=session,
        contact_id=contact_id,
        code_name=code_name,
        source=body.source if body else "api",
    )
    version = service.current_text(session=session, consent_id=agreement.consent_id).version
    return AgreementOut.of(agreement, code_name=code_name, version=version)


@router.delete("/contacts/{contact_id}/consents/{code_name}", responses=responses(404))
def revoke(contact_id: Id, code_name: CodeName, session: SessionDep) -> RevokeOut:
    """Revoke: tracking stops now and activities tracked under it are deleted (B9)."""
    result = service.revoke(session=session, contact_id=contact_id, code_name=code_name)
    return RevokeOut(
        contact_id=contact_id,
        code_name=code_name,
        revoked=result.revoked,
        activities_deleted=result.activities_deleted,
    )
