"""The consent gate consent registers with ``activities.gate`` (B1): an activity is
stored only under an agreement to ``tracking``, on SQLite and PostgreSQL, and recording
without a registered gate raises rather than store it unchecked."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tidings.activities import gate
from tidings.activities import service as activities
from tidings.consent import service as consent
from tidings.consent.models import TRACKING_CONSENT
from tidings.contacts import service as contacts


def test_an_activity_is_stored_only_under_the_tracking_consent(session: Session) -> None:
    ada = contacts.create(session=session, email="ada@example.com").id
    assert activities.record(session, ada, "custom:note", "before") is None
    agreement = consent.agree(session=session, contact_id=ada, code_name=TRACKING_CONSENT)
    stored = activities.record(session, ada, "custom:note", "after")
    assert stored is not None and stored.consent_id == agreement.consent_id


def test_recording_without_a_gate_raises(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    ada = contacts.create(session=session, email="ada@example.com").id
    monkeypatch.setattr(gate, "_gates", [])
    with pytest.raises(RuntimeError, match=r"import tidings\.consent"):
        activities.record(session, ada, "custom:note", "unchecked")
