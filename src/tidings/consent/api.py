"""REST routes for consent definitions and contacts' agreements."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends
from sqlalchemy import select

from tidings.consent import service
from tidings.consent.models import Consent
from tidings.consent.schemas import AgreementIn, ConsentIn, ConsentTextIn
from tidings.groups.hooks import contacts_changed
from tidings.web.deps import SessionDep, require_api_key

router = APIRouter(prefix="/api/v1", tags=["consents"], dependencies=[Depends(require_api_key)])


def _consent_dict(session: SessionDep, consent: Consent) -> dict[str, Any]:
    text = service.current_text(session=session, consent_id=consent.id)
    return {
        "id": consent.id,
        "code_name": consent.code_name,
        "display_name": consent.display_name,
        "version": text.version,
        "text": text.text,
    }


@router.post("/consents", status_code=201)
def create_consent(body: ConsentIn, session: SessionDep) -> dict[str, Any]:
    """Create a consent definition with its first text version."""
    consent, _ = service.create_consent(
        session=session, code_name=body.code_name, display_name=body.display_name, text=body.text
    )
    return _consent_dict(session, consent)


@router.get("/consents")
def list_consents(session: SessionDep) -> dict[str, Any]:
    """Every consent definition with its current version."""
    consents = session.scalars(select(Consent).order_by(Consent.id)).all()
    return {"items": [_consent_dict(session, c) for c in consents]}


@router.get("/consents/{code_name}")
def get_consent(code_name: str, session: SessionDep) -> dict[str, Any]:
    """One consent with every text version."""
    consent = service.require(session=session, code_name=code_name)
    data = _consent_dict(session, consent)
    data["versions"] = [
        {"version": v.version, "text": v.text, "created_at": v.created_at.isoformat()}
        for v in service.versions(session=session, consent_id=consent.id)
    ]
    return data


@router.post("/consents/{code_name}/versions", status_code=201)
def new_version(code_name: str, body: ConsentTextIn, session: SessionDep) -> dict[str, Any]:
    """Store a new text version; earlier ones stay readable."""
    consent = service.require(session=session, code_name=code_name)
    version = service.update_text(session=session, consent=consent, text=body.text)
    return {"code_name": code_name, "version": version.version}


@router.post("/contacts/{contact_id}/consents/{code_name}", status_code=201)
def agree(
    contact_id: int,
    code_name: str,
    session: SessionDep,
    body: AgreementIn | None = Body(default=None),
) -> dict[str, Any]:
    """Record the contact's agreement to the consent's current text."""
    agreement = service.agree(
        session=session,
        contact_id=contact_id,
        code_name=code_name,
        source=body.source if body else "api",
    )
    version = service.current_text(session=session, consent_id=agreement.consent_id).version
    contacts_changed(session, [contact_id])
    return service.agreement_to_dict(agreement, code_name=code_name, version=version)


@router.delete("/contacts/{contact_id}/consents/{code_name}")
def revoke(contact_id: int, code_name: str, session: SessionDep) -> dict[str, Any]:
    """Revoke: tracking stops now and activities tracked under it are deleted (B9)."""
    result = service.revoke(session=session, contact_id=contact_id, code_name=code_name)
    contacts_changed(session, [contact_id])
    return {
        "contact_id": contact_id,
        "code_name": code_name,
        "revoked": result.revoked,
        "activities_deleted": result.activities_deleted,
    }
