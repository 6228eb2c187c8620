"""The default tracking policy (B1): an interaction is tracked only under an active
agreement, given before it happened, to the consent that governs the email."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from tidings.consent import service as consent
from tidings.consent.models import TRACKING_CONSENT
from tidings.consent.policy import ConsentAgreementPolicy
from tidings.contacts import service as contacts
from tidings.db.base import utcnow
from tidings.emails import service as emails


def _email(session: Session, name: str, tracking_consent_id: int | None = None) -> int:
    return emails.create(
        session=session,
        name=name,
        subject=name,
        html="<p>Hello</p>",
        sender_name="Tidings",
        sender_address="news@example.com",
        tracking_consent_id=tracking_consent_id,
    ).id


def test_only_active_earlier_agreements_to_the_governing_consent_allow(session: Session) -> None:
    tracking = consent.require(session=session, code_name=TRACKING_CONSENT)
    site, _ = consent.create_consent(
        session=session, code_name="site", display_name="Site", text="Track my visits."
    )
    default_mail = _email(session, "Default")
    site_mail = _email(session, "Site", tracking_consent_id=site.id)
    agreed, later, revoked, never, site_only = (
        contacts.create(session=session, email=f"{name}@example.com").id
        for name in ("agreed", "later", "revoked", "never", "site")
    )
    at = utcnow()
    for contact_id in (agreed, later, revoked):
        consent.agree(session=session, contact_id=contact_id, code_name=TRACKING_CONSENT)
    consent.agree(session=session, contact_id=site_only, code_name="site")
    consent.revoke(session=session, contact_id=revoked, code_name=TRACKING_CONSENT)
    # Agreed only after the interaction happened.
    late = consent.active_agreement(session=session, contact_id=later, consent_id=tracking.id)
    assert late is not None
    late.given_at = at + timedelta(minutes=5)
    session.flush()

    subjects = [
        (contact_id, email_id)
        for contact_id in (agreed, later, revoked, never, site_only)
        for email_id in (default_mail, site_mail)
    ]
    allowed = ConsentAgreementPolicy().allowed(session, subjects, at + timedelta(seconds=1))
    assert allowed == {(agreed, default_mail): tracking.id, (site_only, site_mail): site.id}
    # Only what was asked is answered.
    asked = ConsentAgreementPolicy().allowed(session, [(agreed, site_mail)], at)
    assert asked == {}
    assert ConsentAgreementPolicy().allowed(session, [], at) == {}
    # At a time before the agreement was given, nothing is allowed.
    earlier = ConsentAgreementPolicy().allowed(session, subjects, at - timedelta(hours=1))
    assert earlier == {}
