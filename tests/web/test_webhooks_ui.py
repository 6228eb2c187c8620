"""Settings → Webhooks: add a webhook (its secret shown once), its delivery log with a
real receiver's answer (escaped), disable/enable, remove; hostile input through the
form answers a readable refusal, never a 500."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.admin import signed_in
from tests.support.live import LiveServer
from tests.support.receiver import Receiver
from tests.support.smtp import SmtpSink
from tests.web.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Ui, sign_in
from tidings.assembly.app import create_app
from tidings.assembly.bootstrap import ensure_defaults
from tidings.auth.service import create_user
from tidings.config import Settings
from tidings.events import EventType, publish
from tidings.mailcatcher.server import free_port
from tidings.runtime import Runtime
from tidings.webhooks.models import WebhookDelivery

SCRIPT = "<script>alert(1)</script>"


def _receiver() -> Receiver:
    """A receiver that answers every POST with a 500 and a hostile body."""
    return Receiver(failures=10**9, failure_body=f"broken {SCRIPT}".encode())


@pytest.fixture
def hook_ui(settings: Settings, smtp_sink: SmtpSink) -> Iterator[Ui]:
    """The whole app with workers, allowed to call a receiver on this machine."""
    port = free_port()
    rt = Runtime(
        settings.model_copy(
            update={
                "smtp_url": smtp_sink.url,  # type: ignore[attr-defined]
                "base_url": f"http://127.0.0.1:{port}",
                "webhook_allow_private": True,
                "webhook_retry_base": 3600,
            }
        )
    )
    with rt.session() as session:
        ensure_defaults(session)
        create_user(session=session, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
    with LiveServer(create_app(rt, workers=True), port=port) as server:
        yield Ui(runtime=rt, url=server.url, sink=smtp_sink)
    rt.close()


def _deliveries(runtime: Runtime, hook_id: str | None = None) -> list[tuple[int, int, str]]:
    """(mailout id, attempts, status) of each delivery (of one webhook), by id."""
    query = select(WebhookDelivery).order_by(WebhookDelivery.id)
    if hook_id is not None:
        query = query.where(WebhookDelivery.webhook_id == int(hook_id))
    with runtime.session() as session:
        return [
            (int(d.payload.get("data", {}).get("mailout_id", 0)), d.attempts, d.status)
            for d in session.scalars(query)
        ]


def _until(check: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _finished(runtime: Runtime, mailout_id: int) -> None:
    with runtime.session() as session:
        publish(session, EventType.MAILOUT_FINISHED, {"mailout_id": mailout_id, "email_id": 1})


def test_add_see_the_delivery_log_disable_and_remove(hook_ui: Ui) -> None:
    ui, receiver = hook_ui, _receiver()
    try:
        with signed_in(ui) as admin:
            assert "No webhooks yet." in admin.get("/settings/webhooks").text
            added = admin.post(
                "/settings/webhooks",
                {"url": receiver.url, "events": ["mailout.finished", "email.bounced"]},  # type: ignore[dict-item]
            )
            assert added.status_code == 201, added.text[:500]
            secret = re.search(r'<p class="secret" id="new-secret">(whsec_[\w-]+)</p>', added.text)
            assert secret and "shown only this once" in added.text
            listed = admin.get("/settings/webhooks").text
            assert secret.group(1) not in listed and receiver.url in listed
            assert "<code>email.bounced</code> <code>mailout.finished</code>" in listed
            hook_id = re.search(r'data-webhook-id="(\d+)"', listed)
            assert hook_id and 'class="badge ok">enabled' in listed

            _finished(ui.runtime, 1)
            _until(lambda: _deliveries(ui.runtime) == [(1, 1, "pending")], "the first attempt")
            log = admin.get(f"/settings/webhooks/{hook_id.group(1)}").text
            row = log[log.index('id="delivery-log"') :]
            assert "<code>mailout.finished</code>" in row and "HTTP 500" in row
            assert '<td class="num" data-label="Attempts">1</td>' in row
            assert "not yet" not in row  # the last attempt's time is shown
            assert "broken &lt;script&gt;alert(1)&lt;/script&gt;" in row
            assert SCRIPT not in log

            # Disabled: an event queues nothing for it (a second, enabled webhook shows
            # the event was handled); enabled again, the next one is queued.
            hook = hook_id.group(1)
            off = admin.post(f"/settings/webhooks/{hook}/enabled", {"enabled": "0"})
            assert admin.flash(off).startswith("The webhook is disabled")
            assert 'class="badge">disabled' in admin.get("/settings/webhooks").text
            witness = admin.post(
                "/settings/webhooks", {"url": receiver.url + "?w", "events": "mailout.finished"}
            )
            assert witness.status_code == 201
            _finished(ui.runtime, 2)
            _until(lambda: len(_deliveries(ui.runtime)) == 2, "the witness's delivery")
            assert [d[0] for d in _deliveries(ui.runtime, hook)] == [1]
            on = admin.post(f"/settings/webhooks/{hook}/enabled", {"enabled": "1"})
            assert admin.flash(on).startswith("The webhook is enabled")
            _finished(ui.runtime, 3)
            _until(lambda: len(_deliveries(ui.runtime, hook)) == 2, "the event after enabling")
            assert [d[0] for d in _deliveries(ui.runtime, hook)] == [1, 3]

            removed = admin.post(f"/settings/webhooks/{hook_id.group(1)}/delete")
            assert admin.flash(removed) == "The webhook was removed with its delivery log."
            assert receiver.url + "?w" in admin.get("/settings/webhooks").text
            assert _deliveries(ui.runtime, hook) == []
            gone = admin.get(f"/settings/webhooks/{hook_id.group(1)}")
            assert gone.status_code == 404 and "not found" in gone.text
    finally:
        receiver.close()


def test_hostile_input_is_refused_readably(ui: Ui) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"url": "ftp://example.com/x", "events": "mailout.finished"}, "must start with http"),
        ({"url": "javascript:alert(1)", "events": "mailout.finished"}, "must start with http"),
        ({"url": "not a url", "events": "mailout.finished"}, "must start with http"),
        ({"url": "http://127.0.0.1:9/x", "events": "mailout.finished"}, "private or local"),
        ({"url": "http://localhost/x", "events": "mailout.finished"}, "private or local"),
        ({"url": "https://example.com/" + "a" * 3000, "events": "email.bounced"}, "2,000"),
        ({"url": "", "events": "email.bounced"}, "2,000 characters"),
        ({"url": "https://example.com/hook"}, "Choose at least one event type"),
        ({"url": "https://example.com/h", "events": f"x{SCRIPT}"}, "unknown event types"),
        ({"url": "https://exa\x00mple.com/h", "events": ["nope"] * 500}, "unknown event types"),
    ]
    with signed_in(ui) as admin:
        for form, message in cases:
            answer = admin.post("/settings/webhooks", form)
            assert answer.status_code == 422, (form, answer.text[:300])
            error = re.search(r'id="webhook-error">(.*?)</p>', answer.text, re.S)
            assert error and message in error.group(1), (message, error)
            assert SCRIPT not in answer.text
        # A URL with a script in it is a URL: kept, and shown escaped.
        hostile = f"https://example.com/{SCRIPT}"
        made = admin.post("/settings/webhooks", {"url": hostile, "events": "email.bounced"})
        assert made.status_code == 201
        page = admin.get("/settings/webhooks").text
        assert SCRIPT not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        hook_id = re.search(r'data-webhook-id="(\d+)"', page)
        assert hook_id
        assert SCRIPT not in admin.get(f"/settings/webhooks/{hook_id.group(1)}").text
        # Ids beyond 64 bits and missing ids are refused without a 500.
        for path in ("/settings/webhooks/99999999999999999999999", "/settings/webhooks/0"):
            assert admin.get(path).status_code in (404, 422)
        assert admin.post("/settings/webhooks/424242/delete").status_code == 404
        assert admin.post("/settings/webhooks/424242/enabled", {"enabled": "1"}).status_code == 404
        # Without the CSRF token nothing changes.
        forged = admin.client.post(
            "/settings/webhooks",
            data={"url": "https://example.com/x", "events": "email.bounced"},
            follow_redirects=False,
        )
        assert forged.status_code == 403
        assert admin.get("/settings/webhooks").text.count("data-webhook-id=") == 1


@pytest.mark.browser
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_webhooks_tab_in_a_browser(hook_ui: Ui, page: Any) -> None:
    ui, receiver = hook_ui, _receiver()
    shots = Path(os.environ.get("TIDINGS_TEST_SCREENSHOTS", "/tmp/tidings-screens"))
    shots.mkdir(exist_ok=True)
    try:
        sign_in(page, ui)
        page.goto(f"{ui.url}/settings")
        page.click("nav.tabs >> text=Webhooks")
        page.fill("#webhook-url", receiver.url)
        page.check("input[name=events][value='mailout.finished']")
        page.check("input[name=events][value='automation.step']")
        page.click("button:has-text('Add webhook')")
        assert page.locator("#new-secret").inner_text().startswith("whsec_")
        page.screenshot(path=str(shots / "webhooks-added.png"), full_page=True)
        _finished(ui.runtime, 1)
        _until(lambda: _deliveries(ui.runtime) == [(1, 1, "pending")], "the first attempt")
        page.goto(f"{ui.url}/settings/webhooks")
        assert page.locator("#webhook-list td[data-label=Pending]").inner_text() == "1"
        page.screenshot(path=str(shots / "webhooks-tab.png"), full_page=True)
        page.click("text=Delivery log")
        page.click("#delivery-log summary")
        assert SCRIPT in page.locator("#delivery-log pre.answer").inner_text()  # as text
        page.screenshot(path=str(shots / "webhooks-log.png"), full_page=True)
        page.goto(f"{ui.url}/settings/webhooks")
        page.click("#webhook-list button:has-text('Disable')")
        assert page.dialogs and page.dialogs[-1].startswith("Disable the webhook")
        assert page.locator("#webhook-list .badge").inner_text() == "disabled"
    finally:
        receiver.close()
