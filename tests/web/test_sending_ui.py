"""Admin UI of sending: schedule, pause/cancel controls, test sends, sender identities."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.support import world
from tests.support.admin import signed_in
from tests.web.conftest import Ui
from tidings.sending.models import Mailout, SenderIdentity

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_schedule_then_cancel_from_the_email_page(ui: Ui) -> None:
    with ui.runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=1)
    later = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    with signed_in(ui, landing="/emails") as admin:
        send_page = admin.get(f"/emails/{w.email_id}/send").text
        assert 'name="send_at"' in send_page and "Send a test" in send_page
        bad = admin.post(f"/emails/{w.email_id}/send", {"send_at": "next tuesday"})
        assert bad.status_code == 422 and "is not a date and time" in bad.text
        answer = admin.post(f"/emails/{w.email_id}/send", {"send_at": later})
        assert answer.status_code == 303, answer.text
        page = admin.get(answer.headers["location"]).text
        assert f"Scheduled for {later.replace('T', ' ')} UTC" in page
        with ui.runtime.session() as session:
            mailout = session.scalars(select(Mailout)).one()
            assert (mailout.status, mailout.total) == ("scheduled", 0)
        assert f"/mailouts/{mailout.id}/cancel" in page
        assert f"/mailouts/{mailout.id}/pause" not in page  # only sending mailouts pause
        refused = admin.post(f"/emails/{w.email_id}/mailouts/{mailout.id}/pause")
        assert "Not paused: only a queued or sending mailout" in admin.flash(refused)
        cancelled = admin.post(f"/emails/{w.email_id}/mailouts/{mailout.id}/cancel")
        assert admin.flash(cancelled) == "The mailout is cancelled."
        with ui.runtime.session() as session:
            assert session.get(Mailout, mailout.id).status == "cancelled"  # type: ignore[union-attr]
        other = admin.post(f"/emails/{w.email_id + 1}/mailouts/{mailout.id}/cancel")
        assert other.status_code == 404
        unknown = admin.post(f"/emails/{w.email_id}/mailouts/{mailout.id}/explode")
        assert unknown.status_code == 404
    assert ui.sink.messages == []


def test_send_test_form(ui: Ui) -> None:
    with ui.runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=0)
    with signed_in(ui, landing="/emails") as admin:
        assert "Send a test" in admin.get(f"/emails/{w.email_id}/edit").text
        sent = admin.post(
            f"/emails/{w.email_id}/test",
            {
                "addresses": "qa@example.org, boss@example.org",
                "as_contact": "person0@example.com",
                "back": f"/emails/{w.email_id}/send",
            },
        )
        assert sent.headers["location"] == f"/emails/{w.email_id}/send"
        assert "Test sent to qa@example.org, boss@example.org" in admin.flash(sent)
        ui.sink.wait_for(2, timeout=20)
        subjects = {m.message["Subject"] for m in ui.sink.messages}
        assert subjects == {"[Test] News for P0"}
        for form, message in (
            ({"addresses": "not-an-address"}, "No test sent: addresses: &#39;not-an-address&#39;"),
            ({"addresses": "a@example.org", "as_contact": "ghost@example.org"}, "no contact"),
            ({"addresses": ""}, "give at least one address"),
        ):
            answer = admin.post(
                f"/emails/{w.email_id}/test", {**form, "back": "https://evil.test/"}
            )
            assert answer.headers["location"] == f"/emails/{w.email_id}/edit"  # never elsewhere
            assert message in admin.flash(answer)
    time.sleep(0.3)
    assert len(ui.sink.messages) == 2


def test_sender_identities_on_the_settings_page(ui: Ui) -> None:
    with signed_in(ui, landing="/settings") as admin:
        settings_page = admin.get("/settings").text
        assert 'href="/settings/senders"' in settings_page  # a tab of Settings
        tab = admin.get("/settings/senders").text
        assert 'aria-current="page">Sender identities' in tab and "No sender identities yet" in tab
        section = admin.get("/settings/senders", headers={"HX-Request": "true"}).text
        assert "<html" not in section
        assert "No sender identities yet" in section
        assert "not https" in section  # the test server's base URL is http
        added = admin.post(
            "/settings/senders",
            {
                "domain": "example.com",
                "from_name": "Example <Widgets>",
                "from_address": "news@example.com",
                "postal_address": "1 Example Street",
            },
        )
        assert added.headers["location"] == "/settings/senders"
        assert "Sender identity example.com added" in admin.flash(added)
        section = admin.get("/settings/senders").text
        assert "Example &lt;Widgets&gt;" in section and "<Widgets>" not in section
        assert "_dmarc.example.com" in section and "v=spf1 mx" in section
        assert "tidings dkim generate --domain example.com" in section
        with ui.runtime.session() as session:
            identity_id = session.scalars(select(SenderIdentity.id)).one()
        started = time.monotonic()
        dns = admin.get(f"/settings/senders/{identity_id}/dns")
        assert dns.status_code == 200
        assert time.monotonic() - started < 8  # short timeouts, whatever DNS does here
        statuses = re.findall(r'data-kind="(\w+)" data-status="(\w+)"', dns.text)
        assert dict(statuses)["DKIM"] == "no_key"
        assert {s for _, s in statuses} <= {"ok", "missing", "different", "unknown", "no_key"}
        duplicate = admin.post(
            "/settings/senders",
            {"domain": "example.com", "from_name": "X", "from_address": "x@example.com"},
            headers={"HX-Request": "true"},
        )
        assert duplicate.status_code == 200
        assert "already a sender identity for example.com" in duplicate.text
        removed = admin.post(f"/settings/senders/{identity_id}/delete")
        assert admin.flash(removed) == "The sender identity was removed."
        assert admin.get(f"/settings/senders/{identity_id}/dns").status_code == 404
