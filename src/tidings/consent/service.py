"""Consent definitions, text versions, agreements and revocation (B9)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tidings.activities.models import Activity
from tidings.consent.models import TRACKING_CONSENT, Consent, ConsentAgreement, ConsentText
from tidings.contacts.models import Contact
from tidings.db.base import utcnow
from tidings.errors import Conflict, NotFound
from tidings.events import EventType, publish

PLACEHOLDER_TRACKING_TEXT = (
    "I agree that Tidings records which emails I open and which links I click, "
    "so that the content I receive can match my interests. "
    "(Placeholder text: edit it under Consents before asking anyone to agree.)"
)


@dataclass(frozen=True)
class RevokeResult:
    """What a revocation changed."""

    revoked: int
    activities_deleted: int


def create_consent(
    *, session: Session, code_name: str, display_name: str, text: str
) -> tuple[Consent, ConsentText]:
    """Create a consent definition with its first text version."""
    if get_by_code(session=session, code_name=code_name, missing_ok=True) is not None:
        raise Conflict(f"a consent with code name {code_name!r} already exists")
    consent = Consent(code_name=code_name, display_name=display_name)
    session.add(consent)
    session.flush()
    version = ConsentText(consent_id=consent.id, version=1, text=text)
    session.add(version)
    session.flush()
    return consent, version


def ensure_tracking_consent(*, session: Session) -> Consent:
    """The default ``tracking`` consent, created with a placeholder text if missing."""
    existing = get_by_code(session=session, code_name=TRACKING_CONSENT, missing_ok=True)
    if existing is not None:
        return existing
    consent, _ = create_consent(
        session=session,
        code_name=TRACKING_CONSENT,
        display_name="Email tracking",
        text=PLACEHOLDER_TRACKING_TEXT,
    )
    return consent


def get_by_code(*, session: Session, code_name: str, missing_ok: bool = False) -> Consent | None:
    """The consent with ``code_name``; ``NotFound`` unless ``missing_ok``."""
    consent = None
    if "\x00" not in code_name:  # no code name holds one, and PostgreSQL refuses it
        consent = session.scalars(
            select(Consent).where(Consent.code_name == code_name)
        ).one_or_none()
    if consent is None and not missing_ok:
        raise NotFound(f"consent {code_name!r} not found")
    return consent


def require(*, session: Session, code_name: str) -> Consent:
    """The consent with ``code_name`` or ``NotFound``."""
    consent = get_by_code(session=session, code_name=code_name)
    assert consent is not None
    return consent


def current_text(*, session: Session, consent_id: int) -> ConsentText:
    """The newest text version of a consent."""
    text = session.scalars(
        select(ConsentText)
        .where(ConsentText.consent_id == consent_id)
        .order_by(ConsentText.version.desc())
        .limit(1)
    ).one()
    return text


def versions(*, session: Session, consent_id: int) -> list[ConsentText]:
    """Every text version of a consent, oldest first."""
    return list(
        session.scalars(
            select(ConsentText)
            .where(ConsentText.consent_id == consent_id)
            .order_by(ConsentText.version)
        )
    )


def update_text(*, session: Session, consent: Consent, text: str) -> ConsentText:
    """Store a new text version; earlier versions stay readable."""
    latest = session.scalar(
        select(func.max(ConsentText.version)).where(ConsentText.consent_id == consent.id)
    )
    version = ConsentText(consent_id=consent.id, version=(latest or 0) + 1, text=text)
    session.add(version)
    session.flush()
    return version


def active_agreement(
    *, session: Session, contact_id: int, consent_id: int
) -> ConsentAgreement | None:
    """The contact's active agreement to a consent, if any."""
    return session.scalars(
        select(ConsentAgreement)
        .where(
            ConsentAgreement.contact_id == contact_id,
            ConsentAgreement.consent_id == consent_id,
            ConsentAgreement.revoked_at.is_(None),
        )
        .order_by(ConsentAgreement.given_at.desc())
        .limit(1)
    ).first()


def agree(
    *,
    session: Session,
    contact_id: int,
    code_name: str,
    source: str = "api",
    text_id: int | None = None,
    source_url: str | None = None,
) -> ConsentAgreement:
    """Record that a contact agrees to the current text of a consent (or to the
    version ``text_id``: the one a form showed them); ``source_url``: the page it
    was given on.

    Agreeing again to the version already agreed returns the existing agreement.
    """
    if session.get(Contact, contact_id) is None:
        raise NotFound(f"contact {contact_id} not found")
    consent = require(session=session, code_name=code_name)
    text = current_text(session=session, consent_id=consent.id)
    if text_id is not None:
        shown = session.get(ConsentText, text_id)
        if shown is None or shown.consent_id != consent.id:
            raise NotFound(f"text version {text_id} of consent {code_name!r} not found")
        text = shown
    existing = active_agreement(session=session, contact_id=contact_id, consent_id=consent.id)
    if existing is not None and existing.consent_text_id == text.id:
        return existing
    now = utcnow()
    if existing is not None:
        # Superseded by agreement to the newer text; history keeps both.
        existing.revoked_at = now
        existing.revoke_source = "superseded"
    agreement = ConsentAgreement(
        contact_id=contact_id,
        consent_id=consent.id,
        consent_text_id=text.id,
        given_at=now,
        source=source[:200],
        source_url=source_url[:500] if source_url else None,
    )
    session.add(agreement)
    session.flush()
    publish(
        session,
        EventType.CONSENT_AGREED,
        {
            "contact_id": contact_id,
            "consent_id": consent.id,
            "version": text.version,
            "source": agreement.source,
        },
    )
    return agreement


def revoke(
    *, session: Session, contact_id: int, code_name: str, source: str = "api"
) -> RevokeResult:
    """Withdraw a contact's consent: tracking stops at once and, under the default
    policy, the activities tracked under this consent are deleted (B9)."""
    if session.get(Contact, contact_id) is None:
        raise NotFound(f"contact {contact_id} not found")
    consent = require(session=session, code_name=code_name)
    active = list(
        session.scalars(
            select(ConsentAgreement).where(
                ConsentAgreement.contact_id == contact_id,
                ConsentAgreement.consent_id == consent.id,
                ConsentAgreement.revoked_at.is_(None),
            )
        )
    )
    now = utcnow()
    for agreement in active:
        agreement.revoked_at = now
        agreement.revoke_source = source[:200]
    session.flush()
    if active:
        publish(
            session,
            EventType.CONSENT_REVOKED,
            {"contact_id": contact_id, "consent_id": consent.id, "source": source[:200]},
        )
    deleted = session.execute(
        delete(Activity).where(Activity.contact_id == contact_id, Activity.consent_id == consent.id)
    )
    return RevokeResult(
        revoked=len(active),
        activities_deleted=deleted.rowcount or 0,  # type: ignore[attr-defined]
    )
