"""The pluggable consent policy (B1): one setting, loaded alike by the thread writer,
the writer process and the workers; and the consent an email names."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.consent.policies import OnlyWithField
from tests.tracking.test_writer import _click, _sent
from tidings.activities.models import Activity
from tidings.assembly.app import create_app
from tidings.config import Settings
from tidings.consent import service as consent
from tidings.consent.policy import (
    ConsentAgreementPolicy,
    PolicyError,
    load_policy,
    tracking_policy,
)
from tidings.contacts import service as contacts
from tidings.contacts.models import Contact
from tidings.db.base import utcnow
from tidings.emails import service as emails
from tidings.runtime import Runtime
from tidings.tracking.events import CLICK, TrackedEvent
from tidings.tracking.writer import EventWriter
from tidings.tracking.writer_client import RemoteWriter
from tidings.tracking.writer_process import WriterProcess

CUSTOM = "tests.consent.policies:OnlyWithField"


def test_the_setting_names_a_policy_class_instance_or_factory() -> None:
    assert isinstance(load_policy(""), ConsentAgreementPolicy)
    assert isinstance(load_policy("  "), ConsentAgreementPolicy)
    assert isinstance(load_policy(CUSTOM), OnlyWithField)
    assert isinstance(load_policy("tests.consent.policies:make"), OnlyWithField)
    from tests.consent import policies

    assert load_policy("tests.consent.policies:INSTANCE") is policies.INSTANCE
    default = load_policy("tidings.consent.policy:ConsentAgreementPolicy")
    assert isinstance(default, ConsentAgreementPolicy)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("OnlyWithField", "expected module:object"),
        ("tests.consent.policies:", "expected module:object"),
        ("tests.consent.nowhere:Policy", "cannot import tests.consent.nowhere"),
        ("tests.consent.policies:Nope", "has no Nope"),
        ("tests.consent.policies:NOT_A_POLICY", "not a policy"),
        ("tests.consent.policies:broken", "making the policy failed: no database"),
        ("tests.consent.policies:Subject", "has no allowed"),
    ],
)
def test_a_bad_setting_says_what_is_wrong(value: str, says: str) -> None:
    with pytest.raises(PolicyError, match=says) as caught:
        load_policy(value)
    assert value in str(caught.value)


def test_a_bad_setting_stops_the_worker_at_start(settings: Settings) -> None:
    env = {
        **os.environ,
        "TIDINGS_DATA_DIR": str(settings.data_dir),
        "TIDINGS_DATABASE_URL": settings.resolved_database_url(),
        "TIDINGS_SECRET_KEY": settings.secret_key,
        "TIDINGS_CONSENT_POLICY": "tests.consent.policies:Nope",
    }
    for command in ("worker", "serve"):
        done = subprocess.run(
            [sys.executable, "-c", "from tidings.cli import main; main()", command],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        assert "TIDINGS_CONSENT_POLICY" in done.stderr and "has no Nope" in done.stderr
        assert "Traceback" not in done.stderr


def test_a_bad_setting_fails_building_the_app(runtime: Runtime) -> None:
    for writer in ("process", "thread"):
        bad = Runtime(
            runtime.settings.model_copy(
                update={"consent_policy": "tests.consent.nowhere:X", "tracking_writer": writer}
            )
        )
        with pytest.raises(PolicyError):
            create_app(bad)
        bad.close()


def _people(runtime: Runtime, prefix: str) -> tuple[int, int, int]:
    """An email sent to a contact with the field and no agreement, and to one with an
    agreement and no field; their delivery ids."""
    sent = _sent(runtime, consenting=1, anonymous=1, prefix=prefix)
    with runtime.session() as session:
        fielded = session.scalars(
            select(Contact).where(Contact.email == f"{prefix}1@example.com")
        ).one()
        contacts.update(session=session, contact=fielded, fields={"tracked": "yes"})
    return sent.email_id, sent.anonymous[0], sent.consenting[0]


def _activities(runtime: Runtime, email_id: int) -> list[tuple[str, str, int | None]]:
    with runtime.session() as session:
        rows = session.execute(
            select(Contact.email, Activity.type, Activity.consent_id)
            .join(Contact, Contact.id == Activity.contact_id)
            .where(Activity.email_id == email_id)
            .order_by(Activity.id)
        ).all()
    return [(str(a), str(b), c) for a, b, c in rows]


@pytest.fixture
def custom(runtime: Runtime) -> Iterator[Runtime]:
    """A runtime whose settings name the custom policy."""
    configured = Runtime(runtime.settings.model_copy(update={"consent_policy": CUSTOM}))
    yield configured
    configured.close()


def test_the_writer_process_applies_the_configured_policy(custom: Runtime) -> None:
    email_id, fielded, agreed = _people(custom, "proc")
    with custom.session() as session:
        links = emails.links(session=session, email_id=email_id)
    remote = RemoteWriter(WriterProcess(custom.settings))
    assert isinstance(remote.policy, OnlyWithField)
    remote.start()
    try:

        async def main() -> None:
            for delivery in (fielded, agreed):
                await remote.record(_event(email_id, delivery, links[0].id, links[0].url))

        asyncio.run(main())
    finally:
        remote.stop()
    # Only the contact with the field became activities (an open inferred from the
    # click, and the click), under no consent; the one who agreed stays anonymous.
    assert _activities(custom, email_id) == [
        ("proc1@example.com", "email_open", None),
        ("proc1@example.com", "email_click", None),
    ]


def test_the_thread_writer_and_workers_load_the_same_policy(custom: Runtime) -> None:
    assert isinstance(tracking_policy(custom), OnlyWithField)
    assert tracking_policy(custom) is tracking_policy(custom)  # once per runtime
    email_id, fielded, agreed = _people(custom, "thread")
    with custom.session() as session:
        links = emails.links(session=session, email_id=email_id)
    writer = EventWriter(custom)
    assert writer.policy is tracking_policy(custom)
    writer.start()
    try:
        for delivery in (fielded, agreed):
            writer.record_blocking(_event(email_id, delivery, links[0].id, links[0].url))
    finally:
        writer.stop()
    assert [who for who, _, _ in _activities(custom, email_id)] == ["thread1@example.com"] * 2


def _event(email_id: int, delivery_id: int, link_id: int, url: str) -> TrackedEvent:
    return TrackedEvent(CLICK, delivery_id, email_id, link_id, url, utcnow())


def test_an_email_names_the_consent_that_governs_it(runtime: Runtime, api_key: str) -> None:
    with runtime.session() as session:
        consent.create_consent(
            session=session,
            code_name="newsletter_tracking",
            display_name="Newsletter tracking",
            text="We count what you open and click in our newsletter.",
        )
    body = {
        "name": "Governed",
        "subject": "Hi",
        "html": '<p><a href="https://example.com/a">A</a></p>',
        "sender_name": "Us",
        "sender_address": "us@example.com",
    }
    with TestClient(create_app(runtime)) as client:
        client.headers["Authorization"] = f"Bearer {api_key}"
        default = client.post("/api/v1/emails", json=body)
        assert default.status_code == 201 and default.json()["tracking_consent"] == "tracking"
        unknown = client.post("/api/v1/emails", json={**body, "tracking_consent": "nope"})
        assert unknown.status_code == 422 and "tracking_consent" in unknown.json()["detail"]
        named = client.post(
            "/api/v1/emails", json={**body, "tracking_consent": "newsletter_tracking"}
        )
        assert named.status_code == 201, named.text
        assert named.json()["tracking_consent"] == "newsletter_tracking"
        email_id = default.json()["id"]
        patched = client.patch(
            f"/api/v1/emails/{email_id}", json={"tracking_consent": "newsletter_tracking"}
        )
        assert patched.status_code == 200 and patched.json()["tracking_consent"] == (
            "newsletter_tracking"
        )
        refused = client.patch(f"/api/v1/emails/{email_id}", json={"tracking_consent": "nope"})
        assert refused.status_code == 422
        assert client.get(f"/api/v1/emails/{email_id}").json()["tracking_consent"] == (
            "newsletter_tracking"
        )
        back = client.patch(f"/api/v1/emails/{email_id}", json={"tracking_consent": "tracking"})
        assert back.json()["tracking_consent"] == "tracking"


def test_the_named_consent_decides_who_is_identified(runtime: Runtime) -> None:
    sent = _sent(runtime, consenting=1, anonymous=1, prefix="governed")
    tracked_only, other = sent.consenting[0], sent.anonymous[0]
    with runtime.session() as session:
        governing, _ = consent.create_consent(
            session=session, code_name="special", display_name="Special", text="Special."
        )
        email = emails.get(session=session, email_id=sent.email_id)
        emails.update(session=session, email=email, changes={"tracking_consent": "special"})
        person = session.scalars(
            select(Contact).where(Contact.email == "governed1@example.com")
        ).one()
        consent.agree(session=session, contact_id=person.id, code_name="special")
        governing_id = governing.id
    writer = EventWriter(runtime)
    writer.start()
    try:
        for delivery in (tracked_only, other):
            writer.record_blocking(_click(sent, delivery, 1))
    finally:
        writer.stop()
    # Agreeing to the default ``tracking`` consent is not enough for this email.
    assert {(who, consent_id) for who, _, consent_id in _activities(runtime, sent.email_id)} == {
        ("governed1@example.com", governing_id)
    }
