"""Erasure (B10) on SQLite and PostgreSQL: after erasing a contact through the admin UI
their address is in no column of any table and, on SQLite, in no file of the data
directory; the email's statistics keep every count."""

from __future__ import annotations

import json
import re
import smtplib
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx
from sqlalchemy import JSON, LargeBinary, String, Text, select

from tests.support import world
from tests.support.admin import signed_in
from tests.support.live import LiveServer
from tests.support.people import PERSON
from tests.support.smtp import SmtpSink
from tests.web.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Ui
from tidings.assembly.schema import metadata
from tidings.auth.service import create_user
from tidings.consent import service as consent
from tidings.contacts import service as contacts
from tidings.lists import service as lists
from tidings.mailcatcher.server import MailCatcher
from tidings.runtime import Runtime
from tidings.tracking.bursts import BURST_SECONDS

TARGET = "person0@example.com"
OTHER = "person1@example.com"
TRACKED = re.compile(r'href="(http://127\.0\.0\.1:\d+/t/c/[A-Za-z0-9_-]+)"')
PIXEL = re.compile(r'src="(http://127\.0\.0\.1:\d+/t/o/[A-Za-z0-9_.-]+)"')
RICH_HTML = world.LINKS_HTML.replace(
    "</body>",
    '<p><a href="https://example.com/hello?who={{ contact.email }}">Your page</a></p></body>',
)
COUNTS = (
    "sent", "delivered", "opens_total", "opens_unique", "clicks_total", "clicks_unique",
    "clicks_identified", "clicks_anonymous", "clicks_automated", "unsubscribes",
)  # fmt: skip


@dataclass
class Rich:
    """A contact with agreements, subscriptions, a delivery, clicks and caught mail."""

    ui: Ui
    api: httpx.Client
    email_id: int
    contact_id: int
    other_id: int


def _wait_finished(api: httpx.Client, mailout_id: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if api.get(f"/api/v1/mailouts/{mailout_id}").json()["status"] == "finished":
            return
        time.sleep(0.05)
    raise AssertionError("mailout did not finish")


def _catch(runtime: Runtime, to: str) -> None:
    """Put a message to ``to`` in the mail catcher's table, the way the catcher does."""
    catcher = MailCatcher(runtime)
    catcher.start()
    try:
        with smtplib.SMTP(catcher.host, catcher.port) as smtp:
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = "news@example.com", to, f"Hello {to}"
            msg.set_content(f"Dear {to}, welcome.")
            smtp.send_message(msg)
    finally:
        catcher.stop()


def build_rich(live: tuple[Runtime, LiveServer], sink: SmtpSink, api_key: str) -> Rich:
    """Make the target contact hold data in as many places as Tidings has."""
    runtime, server = live
    with runtime.session() as session:
        create_user(session=session, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
        w = world.build(session, consenting=1, anonymous=1, html=RICH_HTML)
        target = contacts.get(session=session, contact_id=w.consenting[0])
        contacts.update(
            session=session,
            contact=target,
            last_name="Zed",
            fields={"backup": TARGET.upper(), "city": "Oslo"},
        )
        second = lists.create_list(session=session, name="Second")
        lists.subscribe(session=session, list_id=second.id, contact_id=target.id)
        consent.create_consent(
            session=session, code_name="profile", display_name="Profile", text="Profile v1"
        )
        consent.agree(session=session, contact_id=target.id, code_name="profile", source="form")
    api = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=20
    )
    mailout = api.post(f"/api/v1/emails/{w.email_id}/send").json()["mailout_id"]
    _wait_finished(api, mailout)
    html = sink.to(TARGET)[0].part("html")
    # As a person clicks: at most two different links within the burst window, which
    # would otherwise make the clicks a machine's (B7).
    for index, link in enumerate(TRACKED.findall(html)):
        if index == 2:
            time.sleep(BURST_SECONDS + 0.5)
        assert httpx.get(link, headers=PERSON).status_code == 302
    pixel = PIXEL.search(html)
    assert pixel
    httpx.get(pixel.group(1), headers=PERSON)
    other_link = TRACKED.findall(sink.to(OTHER)[0].part("html"))[0]
    assert httpx.get(other_link, headers=PERSON).status_code == 302
    _catch(runtime, TARGET)
    _catch(runtime, OTHER)
    ui = Ui(runtime=runtime, url=server.url, sink=sink)
    return Rich(ui, api, w.email_id, w.consenting[0], w.anonymous[0])


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1").lower()
    if isinstance(value, dict | list):
        return json.dumps(value).lower()
    return str(value).lower()


def tables_holding(runtime: Runtime, needle: str) -> list[str]:
    """``table.column`` of every text, JSON or binary value containing ``needle``."""
    found: list[str] = []
    needles = {needle.lower(), needle.lower().replace("@", "%40")}
    with runtime.session() as session:
        for table in metadata.sorted_tables:
            columns = [
                c for c in table.columns if isinstance(c.type, String | Text | JSON | LargeBinary)
            ]
            if not columns:
                continue
            for row in session.execute(select(*columns)).all():
                for column, value in zip(columns, row, strict=True):
                    if value is not None and any(n in _text(value) for n in needles):
                        found.append(f"{table.name}.{column.name}")
    return sorted(set(found))


def files_holding(runtime: Runtime, needle: str) -> list[str]:
    """Files under the data directory whose raw bytes contain ``needle``."""
    data_dir = runtime.settings.resolved_data_dir()
    needles = {needle.lower().encode(), needle.lower().replace("@", "%40").encode()}
    return sorted(
        str(path.relative_to(data_dir))
        for path in data_dir.rglob("*")
        if path.is_file() and any(n in path.read_bytes().lower() for n in needles)
    )


def test_erasure_leaves_no_trace_and_keeps_counts(
    live: tuple[Runtime, LiveServer], smtp_sink: SmtpSink, api_key: str
) -> None:
    rich = build_rich(live, smtp_sink, api_key)
    runtime = rich.ui.runtime
    activities = rich.api.get(f"/api/v1/contacts/{rich.contact_id}/activities").json()["items"]
    assert {a["type"] for a in activities} >= {"email_click", "email_open"}
    before = rich.api.get(f"/api/v1/emails/{rich.email_id}/statistics").json()
    assert before["clicks_identified"] == 4 and before["clicks_anonymous"] == 1
    holding = tables_holding(runtime, TARGET)
    # The scan sees the data it looks for: the contact is in many tables first.
    assert {
        "contacts.email",
        "contacts.fields",
        "caught_messages.raw",
        "delivery_link_urls.url",
        "activities.value",
    } <= set(holding), holding

    with signed_in(rich.ui) as admin:
        erased = admin.post(f"/contacts/{rich.contact_id}/erase", {"confirm_email": TARGET})
        assert erased.status_code == 303 and erased.headers["location"] == "/contacts"
        assert TARGET not in admin.get("/contacts").text
        assert admin.get(f"/contacts/{rich.contact_id}").status_code == 404

    assert tables_holding(runtime, TARGET) == []
    assert "contacts.email" in tables_holding(runtime, OTHER)  # others are untouched
    if runtime.is_sqlite:
        assert files_holding(runtime, TARGET) == []
        assert files_holding(runtime, OTHER)  # the file scan does see addresses
    after = rich.api.get(f"/api/v1/emails/{rich.email_id}/statistics").json()
    assert {k: after[k] for k in COUNTS} == {k: before[k] for k in COUNTS}
    assert after["links"] == before["links"]
    rich.api.close()
