"""Consents pages: definitions and their text versions; a contact's agree and revoke (B9)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from tidings.activities.models import Activity
from tidings.consent import service
from tidings.consent.models import CODE_NAME_PATTERN, Consent, ConsentAgreement, ConsentText
from tidings.consent.records import write_agreements_csv
from tidings.contacts import service as contacts
from tidings.errors import Conflict, NotFound
from tidings.web.admin import admin_router, flash, page, redirect
from tidings.web.deps import SessionDep
from tidings.web.forms import Id, LongText, Text

router = admin_router()
CODE_NAME = re.compile(CODE_NAME_PATTERN)
TEXT_MAX = 20_000
SOURCE = "admin"


def _get(session: Session, consent_id: int) -> Consent:
    consent = session.get(Consent, consent_id)
    if consent is None:
        raise NotFound(f"consent {consent_id} not found")
    return consent


def _current_versions(session: Session) -> dict[int, int]:
    rows = session.execute(
        select(ConsentText.consent_id, func.max(ConsentText.version)).group_by(
            ConsentText.consent_id
        )
    ).all()
    return {int(cid): int(version) for cid, version in rows}


@dataclass(frozen=True)
class ContactConsent:
    """One consent on a contact's page: the agreement in force, if any."""

    consent: Consent
    current_version: int
    agreement: ConsentAgreement | None
    agreed_version: int | None
    activities: int  # tracked under it, deleted if it is revoked

    @property
    def outdated(self) -> bool:
        """Agreed to an older text than the current one."""
        return self.agreed_version is not None and self.agreed_version < self.current_version


@dataclass(frozen=True)
class AgreementEvent:
    """An agreement given, revoked or superseded, on a contact's page."""

    at: datetime
    what: str  # agreed, revoked or superseded
    consent: str
    version: int
    source: str
    text: str = ""
    url: str | None = None  # the page an agreement was given on


def contact_consents(session: Session, contact_id: int) -> list[ContactConsent]:
    """Every consent definition with the contact's active agreement (or None), the
    version agreed, and how many activities were tracked under it."""
    consents = session.scalars(select(Consent).order_by(Consent.id)).all()
    current = _current_versions(session)
    active = {
        agreement.consent_id: (agreement, version)
        for agreement, version in session.execute(
            select(ConsentAgreement, ConsentText.version)
            .join(ConsentText, ConsentText.id == ConsentAgreement.consent_text_id)
            .where(
                ConsentAgreement.contact_id == contact_id,
                ConsentAgreement.revoked_at.is_(None),
            )
            .order_by(ConsentAgreement.given_at)
        ).all()
    }
    tracked = dict(
        session.execute(
            select(Activity.consent_id, func.count())
            .where(Activity.contact_id == contact_id, Activity.consent_id.is_not(None))
            .group_by(Activity.consent_id)
        ).all()
    )
    items = []
    for consent in consents:
        agreement, version = active.get(consent.id, (None, None))
        items.append(
            ContactConsent(
                consent=consent,
                current_version=current.get(consent.id, 1),
                agreement=agreement,
                agreed_version=version,
                activities=int(tracked.get(consent.id, 0)),
            )
        )
    return items


def agreement_history(session: Session, contact_id: int) -> list[AgreementEvent]:
    """Agreements and revocations of the contact, newest first."""
    rows = session.execute(
        select(ConsentAgreement, Consent.display_name, ConsentText.version, ConsentText.text)
        .join(Consent, Consent.id == ConsentAgreement.consent_id)
        .join(ConsentText, ConsentText.id == ConsentAgreement.consent_text_id)
        .where(ConsentAgreement.contact_id == contact_id)
    ).all()
    events: list[AgreementEvent] = []
    for agreement, name, version, text in rows:
        events.append(
            AgreementEvent(
                agreement.given_at,
                "agreed",
                name,
                version,
                agreement.source,
                text,
                agreement.source_url,
            )
        )
        if agreement.revoked_at is not None:
            superseded = agreement.revoke_source == "superseded"
            events.append(
                AgreementEvent(
                    agreement.revoked_at,
                    "superseded" if superseded else "revoked",
                    name,
                    version,
                    agreement.revoke_source or "",
                    text,
                )
            )
    events.sort(key=lambda e: (e.at, e.what != "agreed"), reverse=True)
    return events


def _index(
    request: Request, session: Session, form: dict[str, str] | None = None, error: str = ""
) -> Response:
    consents = session.scalars(select(Consent).order_by(Consent.id)).all()
    agreed = dict(
        session.execute(
            select(ConsentAgreement.consent_id, func.count())
            .where(ConsentAgreement.revoked_at.is_(None))
            .group_by(ConsentAgreement.consent_id)
        ).all()
    )
    context = {
        "section": "consents",
        "consents": consents,
        "versions": _current_versions(session),
        "agreed": agreed,
        "form": form or {},
        "error": error,
    }
    return page(request, "admin/consents/index.html", context, 422 if error else 200)


@router.get("/consents")
def consents_page(request: Request, session: SessionDep) -> Response:
    """Consent definitions with their current version."""
    return _index(request, session)


@router.post("/consents")
def create_consent(
    request: Request,
    session: SessionDep,
    code_name: Text = "",
    display_name: Text = "",
    text: LongText = "",
) -> Response:
    """Create a consent definition with its first text."""
    form = {"code_name": code_name, "display_name": display_name, "text": text}
    code_name, display_name, text = code_name.strip(), display_name.strip(), text.strip()
    error = ""
    if not CODE_NAME.match(code_name):
        error = "The code name needs lower-case letters, digits, - or _ (up to 100)."
    elif not display_name or len(display_name) > 200:
        error = "The display name needs 1 to 200 characters."
    elif not text or len(text) > TEXT_MAX:
        error = f"The text needs 1 to {TEXT_MAX} characters."
    if error:
        return _index(request, session, form, error)
    try:
        consent, _ = service.create_consent(
            session=session, code_name=code_name, display_name=display_name, text=text
        )
    except Conflict:
        return _index(request, session, form, f"A consent with code name {code_name} exists.")
    flash(request, "The consent was created.")
    return redirect(f"/consents/{consent.id}")


def _detail(
    request: Request, session: Session, consent: Consent, error: str = "", draft: str | None = None
) -> Response:
    versions = service.versions(session=session, consent_id=consent.id)
    counts = dict(
        session.execute(
            select(ConsentAgreement.consent_text_id, func.count())
            .where(ConsentAgreement.consent_id == consent.id)
            .group_by(ConsentAgreement.consent_text_id)
        ).all()
    )
    in_force = dict(
        session.execute(
            select(ConsentAgreement.consent_text_id, func.count())
            .where(ConsentAgreement.consent_id == consent.id, ConsentAgreement.revoked_at.is_(None))
            .group_by(ConsentAgreement.consent_text_id)
        ).all()
    )
    context = {
        "section": "consents",
        "in_force": in_force,
        "consent": consent,
        "versions": list(reversed(versions)),
        "current": versions[-1],
        "counts": counts,
        "error": error,
        "draft": versions[-1].text if draft is None else draft,
    }
    return page(request, "admin/consents/detail.html", context, 422 if error else 200)


@router.get("/consents/{consent_id}")
def consent_page(request: Request, consent_id: Id, session: SessionDep) -> Response:
    """One consent with every text version, newest first."""
    return _detail(request, session, _get(session, consent_id))


@router.get("/consents/{consent_id}/agreements.csv")
def agreements_csv(consent_id: Id, session: SessionDep) -> Response:
    """Every agreement to the consent as CSV: contact, version and text, when, source,
    revocation."""
    consent = _get(session, consent_id)
    out = io.StringIO()
    write_agreements_csv(session=session, consent_id=consent.id, out=out)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="agreements-{consent.code_name}.csv"'
        },
    )


@router.post("/consents/{consent_id}/versions")
def new_version(
    request: Request,
    consent_id: Id,
    session: SessionDep,
    text: LongText = "",
) -> Response:
    """Store an edited text as a new version; earlier versions stay as they were."""
    consent = _get(session, consent_id)
    cleaned = text.strip()
    current = service.current_text(session=session, consent_id=consent.id)
    if not cleaned or len(cleaned) > TEXT_MAX:
        return _detail(
            request, session, consent, f"The text needs 1 to {TEXT_MAX} characters.", text
        )
    if cleaned == current.text:
        return _detail(request, session, consent, "The text is unchanged; nothing was saved.", text)
    version = service.update_text(session=session, consent=consent, text=cleaned)
    flash(request, f"Version {version.version} is now the current text.")
    return redirect(f"/consents/{consent.id}")


@router.post("/contacts/{contact_id}/consents/{consent_id}/agree")
def agree(request: Request, contact_id: Id, consent_id: Id, session: SessionDep) -> Response:
    """Record the contact's agreement to the current text (given outside Tidings)."""
    contacts.get(session=session, contact_id=contact_id)
    consent = _get(session, consent_id)
    service.agree(
        session=session, contact_id=contact_id, code_name=consent.code_name, source=SOURCE
    )
    flash(request, f"Agreement to {consent.display_name} recorded.")
    return redirect(f"/contacts/{contact_id}#consents")


@router.post("/contacts/{contact_id}/consents/{consent_id}/revoke")
def revoke(request: Request, contact_id: Id, consent_id: Id, session: SessionDep) -> Response:
    """Revoke: tracking stops now; activities tracked under the consent are deleted."""
    contacts.get(session=session, contact_id=contact_id)
    consent = _get(session, consent_id)
    result = service.revoke(
        session=session, contact_id=contact_id, code_name=consent.code_name, source=SOURCE
    )
    deleted = result.activities_deleted
    flash(
        request,
        f"{consent.display_name} revoked; {deleted} tracked "
        f"activit{'y' if deleted == 1 else 'ies'} deleted.",
    )
    return redirect(f"/contacts/{contact_id}#consents")
