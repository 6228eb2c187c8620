"""Consent definitions, text versions, agreements and revocation through the service,
on SQLite and PostgreSQL (B9)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tidings.activities.models import Activity
from tidings.consent import service as consent
from tidings.consent.models import TRACKING_CONSENT, ConsentAgreement, ConsentText
from tidings.consent.schemas import AgreementOut
from tidings.contacts import service as contacts
from tidings.db.base import utcnow
from tidings.errors import Conflict, NotFound


def _contact(session: Session, name: str = "ada") -> int:
    return contacts.create(session=session, email=f"{name}@example.com").id


def _agreements(session: Session, contact_id: int) -> list[ConsentAgreement]:
    return list(
        session.scalars(
            select(ConsentAgreement)
            .where(ConsentAgreement.contact_id == contact_id)
            .order_by(ConsentAgreement.id)
        )
    )


def test_a_definition_starts_at_version_one_and_its_code_name_is_unique(session: Session) -> None:
    created, first = consent.create_consent(
        session=session, code_name="newsletter", display_name="Newsletter", text="Send me news."
    )
    assert (first.consent_id, first.version, first.text) == (created.id, 1, "Send me news.")
    assert consent.get_by_code(session=session, code_name="newsletter") is created
    assert consent.require(session=session, code_name="newsletter") is created
    with pytest.raises(Conflict, match="'newsletter' already exists"):
        consent.create_consent(
            session=session, code_name="newsletter", display_name="Again", text="Again."
        )
    assert consent.get_by_code(session=session, code_name="nope", missing_ok=True) is None
    with pytest.raises(NotFound, match="consent 'nope' not found"):
        consent.get_by_code(session=session, code_name="nope")
    with pytest.raises(NotFound):
        consent.require(session=session, code_name="nope")


def test_the_tracking_consent_exists_once(session: Session) -> None:
    tracking = consent.ensure_tracking_consent(session=session)
    assert tracking.code_name == TRACKING_CONSENT
    assert consent.ensure_tracking_consent(session=session).id == tracking.id
    count = session.scalar(
        select(func.count()).select_from(ConsentText).filter_by(consent_id=tracking.id)
    )
    assert count == 1
    text = consent.current_text(session=session, consent_id=tracking.id).text
    assert text == consent.PLACEHOLDER_TRACKING_TEXT


def test_new_texts_are_new_versions_and_old_ones_stay(session: Session) -> None:
    created, _ = consent.create_consent(
        session=session, code_name="news", display_name="News", text="v1 text"
    )
    second = consent.update_text(session=session, consent=created, text="v2 text")
    third = consent.update_text(session=session, consent=created, text="v3 text")
    assert (second.version, third.version) == (2, 3)
    found = consent.versions(session=session, consent_id=created.id)
    assert [(v.version, v.text) for v in found] == [(1, "v1 text"), (2, "v2 text"), (3, "v3 text")]
    assert consent.current_text(session=session, consent_id=created.id).id == third.id


def test_an_agreement_records_the_version_source_and_time(session: Session) -> None:
    contact_id = _contact(session)
    created, first = consent.create_consent(
        session=session, code_name="news", display_name="News", text="v1"
    )
    before = utcnow()
    agreement = consent.agree(
        session=session, contact_id=contact_id, code_name="news", source="form:7"
    )
    assert agreement.consent_text_id == first.id and agreement.source == "form:7"
    assert before <= agreement.given_at <= utcnow() and agreement.revoked_at is None
    # Agreeing again to the same version changes nothing.
    again = consent.agree(session=session, contact_id=contact_id, code_name="news")
    assert again.id == agreement.id and len(_agreements(session, contact_id)) == 1
    found = consent.active_agreement(session=session, contact_id=contact_id, consent_id=created.id)
    assert found is not None and found.id == agreement.id
    shown = AgreementOut.of(agreement, code_name="news", version=1).model_dump(mode="json")
    assert shown == {
        "id": agreement.id,
        "contact_id": contact_id,
        "code_name": "news",
        "version": 1,
        "given_at": agreement.given_at.isoformat(),
        "source": "form:7",
        "revoked_at": None,
    }


def test_agreeing_to_a_newer_text_supersedes_and_keeps_history(session: Session) -> None:
    contact_id = _contact(session)
    created, first = consent.create_consent(
        session=session, code_name="news", display_name="News", text="v1"
    )
    old = consent.agree(session=session, contact_id=contact_id, code_name="news")
    second = consent.update_text(session=session, consent=created, text="v2")
    new = consent.agree(session=session, contact_id=contact_id, code_name="news", source="ui")
    assert new.id != old.id and new.consent_text_id == second.id
    history = _agreements(session, contact_id)
    assert [(a.consent_text_id, a.revoke_source) for a in history] == [
        (first.id, "superseded"),
        (second.id, None),
    ]
    assert history[0].revoked_at is not None and history[1].revoked_at is None
    active = consent.active_agreement(session=session, contact_id=contact_id, consent_id=created.id)
    assert active is not None and active.id == new.id


def test_agreements_need_an_existing_contact_and_consent(session: Session) -> None:
    contact_id = _contact(session)
    with pytest.raises(NotFound, match="contact 987654 not found"):
        consent.agree(session=session, contact_id=987654, code_name=TRACKING_CONSENT)
    with pytest.raises(NotFound, match="consent 'nope' not found"):
        consent.agree(session=session, contact_id=contact_id, code_name="nope")
    with pytest.raises(NotFound, match="contact 987654 not found"):
        consent.revoke(session=session, contact_id=987654, code_name=TRACKING_CONSENT)
    with pytest.raises(NotFound, match="consent 'nope' not found"):
        consent.revoke(session=session, contact_id=contact_id, code_name="nope")


def test_revoking_deletes_only_what_was_tracked_under_that_consent(session: Session) -> None:
    ada, bob = _contact(session, "ada"), _contact(session, "bob")
    tracking = consent.require(session=session, code_name=TRACKING_CONSENT)
    other, _ = consent.create_consent(
        session=session, code_name="site", display_name="Site", text="Track my visits."
    )
    for contact_id in (ada, bob):
        consent.agree(session=session, contact_id=contact_id, code_name=TRACKING_CONSENT)
    now = utcnow()
    rows = [
        (ada, "email_click", tracking.id),
        (ada, "email_open", tracking.id),
        (ada, "page_visit", other.id),
        (ada, "custom:note", None),
        (bob, "email_click", tracking.id),
    ]
    for contact_id, kind, consent_id in rows:
        session.add(
            Activity(contact_id=contact_id, type=kind, consent_id=consent_id, occurred_at=now)
        )
    session.flush()

    result = consent.revoke(
        session=session, contact_id=ada, code_name=TRACKING_CONSENT, source="preferences"
    )
    assert (result.revoked, result.activities_deleted) == (1, 2)
    left = session.execute(
        select(Activity.contact_id, Activity.type).order_by(Activity.contact_id, Activity.type)
    ).all()
    assert [tuple(row) for row in left] == [
        (ada, "custom:note"),
        (ada, "page_visit"),
        (bob, "email_click"),
    ]
    # The agreement stays as history, revoked, with where the revocation came from.
    (kept,) = _agreements(session, ada)
    assert kept.revoked_at is not None and kept.revoke_source == "preferences"
    assert consent.active_agreement(session=session, contact_id=ada, consent_id=tracking.id) is None
    # Revoking again finds nothing to revoke; agreeing again starts a new agreement.
    again = consent.revoke(session=session, contact_id=ada, code_name=TRACKING_CONSENT)
    assert (again.revoked, again.activities_deleted) == (0, 0)
    renewed = consent.agree(session=session, contact_id=ada, code_name=TRACKING_CONSENT)
    assert renewed.id != kept.id and len(_agreements(session, ada)) == 2
    assert renewed.given_at >= kept.revoked_at - timedelta(seconds=1)
