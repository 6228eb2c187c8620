"""Bounces end to end, on SQLite and PostgreSQL: a mailout goes to a real SMTP sink
with VERP return paths; a DSN for one recipient and an ARF complaint for another come
back over SMTP to the listener started by the app; statistics, the suppression list
and the contact's export show them, and the next mailout reaches neither address."""

from __future__ import annotations

import smtplib
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.bounces.fixtures import load
from tests.support import world
from tests.support.live import LiveServer
from tests.support.smtp import SmtpSink
from tidings.assembly.app import create_app
from tidings.assembly.bootstrap import ensure_defaults
from tidings.config import Settings
from tidings.emails import service as emails
from tidings.mailcatcher.server import free_port
from tidings.runtime import Runtime

BOUNCED, COMPLAINED, FINE = "person0@example.com", "person1@example.com", "person2@example.com"


@pytest.fixture
def app_with_bounces(
    settings: Settings, smtp_sink: SmtpSink
) -> Iterator[tuple[Runtime, LiveServer, int]]:
    port, bounce_port = free_port(), free_port()
    runtime = Runtime(
        settings.model_copy(
            update={
                "smtp_url": smtp_sink.url,  # type: ignore[attr-defined]
                "base_url": f"http://127.0.0.1:{port}",
                "mailout_recovery_interval": 0.2,
                "smtp_connections": 2,
                "tracking_writer": "thread",
                "bounce_smtp": f"127.0.0.1:{bounce_port}",
                "bounce_domain": "bounces.example.com",
            }
        )
    )
    with runtime.session() as session:
        ensure_defaults(session)
    with LiveServer(create_app(runtime, workers=True), port=port) as server:
        yield runtime, server, bounce_port
    runtime.close()


def _wait_finished(api: httpx.Client, mailout_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        data: dict[str, Any] = api.get(f"/api/v1/mailouts/{mailout_id}").json()
        if data["status"] == "finished":
            return data
        time.sleep(0.05)
    raise AssertionError(f"mailout did not finish: {data}")


def _return(port: int, return_path: str, data: bytes) -> None:
    """What a receiving MTA does with a bounce: MAIL FROM:<> to the return path."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("", [return_path], data)


def test_dsn_and_arf_reach_statistics_suppression_and_the_next_mailout(
    app_with_bounces: tuple[Runtime, LiveServer, int], smtp_sink: SmtpSink, api_key: str
) -> None:
    runtime, server, bounce_port = app_with_bounces
    with runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=2)
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as api:
        sent = api.post(f"/api/v1/emails/{w.email_id}/send", json={})
        assert sent.status_code == 202, sent.text
        assert _wait_finished(api, sent.json()["mailout_id"])["sent"] == 3

        # Every message left with its own signed return path, no address in it.
        paths = {addr: smtp_sink.to(addr)[0].mail_from for addr in (BOUNCED, COMPLAINED, FINE)}
        assert len(set(paths.values())) == 3
        for address, path in paths.items():
            assert path.startswith("bounces+") and path.endswith("@bounces.example.com")
            assert address.split("@")[0] not in path

        _return(
            bounce_port,
            paths[BOUNCED],
            load("postfix_user_unknown.eml", recipient=BOUNCED, return_path=paths[BOUNCED]),
        )
        _return(
            bounce_port,
            paths[COMPLAINED],
            load("arf_abuse.eml", recipient=COMPLAINED, return_path=paths[COMPLAINED]),
        )
        _return(
            bounce_port,
            paths[FINE],
            load("out_of_office.eml", recipient=FINE, return_path=paths[FINE]),
        )

        stats = api.get(f"/api/v1/emails/{w.email_id}/statistics").json()
        assert (stats["sent"], stats["delivered"]) == (3, 2)
        assert (stats["bounced_hard"], stats["bounced_soft"], stats["complaints"]) == (1, 0, 1)
        assert stats["rates"]["bounce_rate"]["numerator"] == 1
        assert stats["rates"]["complaint_rate"]["numerator"] == 1

        listed = {i["email"]: i["reason"] for i in api.get("/api/v1/suppressions").json()["items"]}
        assert listed == {BOUNCED: "hard_bounce", COMPLAINED: "complaint"}
        contact = api.get("/api/v1/contacts", params={"email": BOUNCED}).json()["items"][0]
        exported = api.get(f"/api/v1/contacts/{contact['id']}/export").json()
        assert exported["suppression"]["reason"] == "hard_bounce"
        assert exported["bounces"][0]["status"] == "5.1.1"

        # The next mailout (another email to the same list) skips both addresses.
        with runtime.session() as session:
            later = emails.create(
                session=session,
                name="Later",
                subject="Later news",
                html="<p>Later</p>",
                sender_name="Tidings Test",
                sender_address="news@example.com",
                recipient_list_id=w.list_id,
            )
        smtp_sink.messages.clear()
        again = api.post(f"/api/v1/emails/{later.id}/send", json={})
        assert again.status_code == 202
        assert again.json()["total"] == 1
        assert _wait_finished(api, again.json()["mailout_id"])["sent"] == 1
        assert dict(smtp_sink.per_recipient()) == {FINE: 1}
