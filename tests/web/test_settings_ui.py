"""Settings (API keys, users, configuration without secrets) and the Inbox pages."""

from __future__ import annotations

import re
import smtplib
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from tests.support.admin import csrf, signed_in
from tests.web.conftest import Ui
from tidings.assembly.screens import configuration
from tidings.config import Settings
from tidings.mailcatcher.models import CaughtMessage
from tidings.mailcatcher.server import MailCatcher
from tidings.runtime import Runtime

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_api_key_shown_once_then_revoked(ui: Ui) -> None:
    with signed_in(ui) as admin:
        assert "No API keys yet" in admin.get("/settings/api-keys").text
        unnamed = admin.post("/settings/api-keys", {"name": " "})
        assert unnamed.status_code == 422 and "Give the key a name" in unnamed.text
        created = admin.post("/settings/api-keys", {"name": "Website <forms>"})
        assert created.status_code == 201
        key = re.search(r'<p class="secret" id="new-key">(tdg_[\w-]+)</p>', created.text)
        assert key, created.text
        assert "shown only this once" in created.text and "Website &lt;forms&gt;" in created.text
        api = {"Authorization": f"Bearer {key.group(1)}"}
        assert httpx.get(f"{ui.url}/api/v1/contacts", headers=api).status_code == 200
        later = admin.get("/settings/api-keys").text
        assert key.group(1) not in later and key.group(1)[:10] in later
        key_id = re.search(r'action="/settings/api-keys/(\d+)/revoke"', later)
        assert key_id
        revoked = admin.post(f"/settings/api-keys/{key_id.group(1)}/revoke")
        assert admin.flash(revoked).startswith("The API key was revoked")
        assert httpx.get(f"{ui.url}/api/v1/contacts", headers=api).status_code == 401
        assert "revoked" in admin.get("/settings/api-keys").text
        assert '0</div><div class="label">active API keys' in admin.get("/settings").text
        assert admin.post("/settings/api-keys/99999/revoke").status_code == 404


def test_create_user_who_can_sign_in(ui: Ui) -> None:
    with signed_in(ui) as admin:
        short = admin.post("/settings/users", {"email": "bo@example.com", "password": "short"})
        assert short.status_code == 422 and "at least 8 characters" in short.text
        made = admin.post("/settings/users", {"email": "Bo@Example.com", "password": "long enough"})
        assert admin.flash(made) == "User bo@example.com can now sign in."
        dup = admin.post("/settings/users", {"email": "bo@example.com", "password": "long enough"})
        assert dup.status_code == 409 and "already exists" in dup.text
        assert "bo@example.com" in admin.get("/settings/users").text
    with httpx.Client(base_url=ui.url) as client:
        token = csrf(client.get("/login").text)
        ok = client.post(
            "/login",
            data={"email": "bo@example.com", "password": "long enough", "csrf_token": token},
            follow_redirects=False,
        )
        assert ok.status_code == 303


def test_configuration_never_shows_secrets(ui: Ui, tmp_path: Path) -> None:
    with signed_in(ui) as admin:
        html = admin.get("/settings").text
    assert ui.runtime.secret_key not in html
    assert "SQLite (embedded)" in html and ui.runtime.base_url in html
    settings = Settings(
        data_dir=tmp_path,
        database_url="postgresql://tidings:db-pass-123@db.internal:5432/tidings",
        smtp_url="smtps://mailer:smtp-pass-456@relay.example.net:465",
        queue_url="redis://:redis-pass-789@cache.internal:6379/2",
        secret_key="secret-key-value-000",
    )
    runtime = Runtime(settings)  # no connection is made to build the page data
    try:
        shown = " ".join(f"{label} {value}" for label, value in configuration(runtime))
    finally:
        runtime.close()
    for secret in (
        "db-pass-123",
        "smtp-pass-456",
        "redis-pass-789",
        "secret-key-value-000",
        "mailer",
        "tidings:",
    ):
        assert secret not in shown
    assert "PostgreSQL · db.internal:5432/tidings" in shown
    assert "smtps://relay.example.net:465" in shown
    assert "Redis · cache.internal:6379/2" in shown


def _catch(runtime: Runtime, count: int) -> None:
    catcher = MailCatcher(runtime)
    catcher.start()
    try:
        with smtplib.SMTP(catcher.host, catcher.port) as smtp:
            for i in range(count):
                msg = EmailMessage()
                msg["From"] = "news@example.com"
                msg["To"] = f"reader{i}@example.com"
                msg["Subject"] = f"Issue {i} <b>"
                msg["List-Unsubscribe"] = (
                    f"<https://t.example.com/u/tok{i}>, <mailto:u@example.com>"
                )
                msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
                msg.set_content("Plain part https://example.com/plain")
                msg.add_alternative(
                    '<p><a href="https://example.com/x">Link</a><script>alert(1)</script></p>',
                    subtype="html",
                )
                smtp.send_message(msg)
    finally:
        catcher.stop()


def test_inbox_pages(ui: Ui) -> None:
    with signed_in(ui) as admin:
        assert "No messages yet" in admin.get("/inbox").text
        _catch(ui.runtime, 52)
        listing = admin.get("/inbox").text
        assert "52 in all" in listing and "Issue 51 &lt;b&gt;" in listing
        older = re.search(r'href="/inbox\?before=(\d+)">Older', listing)
        assert older
        rest = admin.get(f"/inbox?before={older.group(1)}").text
        assert "Issue 0 " in rest and "Issue 51" not in rest and "Newest" in rest
        with ui.runtime.session() as session:
            first = session.query(CaughtMessage).order_by(CaughtMessage.id).first()
            assert first is not None
        message = admin.get(f"/inbox/{first.id}").text
        assert (
            '<a class="url" href="https://t.example.com/u/tok0" target="_blank" '
            'rel="noopener noreferrer">'
        ) in message
        assert "mailto:u@example.com" in message and "List-Unsubscribe=One-Click" in message
        frame = re.search(r"<iframe[^>]*>", message, re.S)
        assert frame
        assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in frame.group(0)
        assert "allow-scripts" not in frame.group(0) and "allow-same-origin" not in frame.group(0)
        assert 'srcdoc="<base target=&quot;_blank&quot;>' in frame.group(0)
        assert "<script>alert" not in message
        assert admin.get("/inbox/99999").status_code == 404
