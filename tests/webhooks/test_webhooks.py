"""Webhooks: a real receiver that fails twice, signatures, erasure, hostile input."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.receiver import Receiver
from tidings.assembly.app import create_app
from tidings.assembly.bootstrap import ensure_defaults
from tidings.config import Settings
from tidings.events import EventType, drain, publish
from tidings.runtime import Runtime
from tidings.webhooks import sender
from tidings.webhooks.models import WebhookDelivery


@pytest.fixture
def hook_runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime(
        settings.model_copy(update={"webhook_allow_private": True, "webhook_retry_base": 0.05})
    )
    with rt.session() as session:
        ensure_defaults(session)
    yield rt
    rt.close()


def verify(secret: str, header: str, body: bytes) -> bool:
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(
        secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(parts["t"])) < 300


def test_one_event_three_attempts_one_success(hook_runtime: Runtime, api_key: str) -> None:
    receiver = Receiver(failures=2)
    try:
        with TestClient(create_app(hook_runtime)) as client:
            client.headers["Authorization"] = f"Bearer {api_key}"
            answer = client.post(
                "/api/v1/webhooks", json={"url": receiver.url, "events": ["mailout.finished"]}
            )
            assert answer.status_code == 201, answer.text
            hook_id, secret = answer.json()["id"], answer.json()["secret"]
            assert "secret" not in client.get(f"/api/v1/webhooks/{hook_id}").json()
            with hook_runtime.session() as session:
                publish(session, EventType.MAILOUT_FINISHED, {"mailout_id": 7, "email_id": 3})
                publish(session, EventType.CONTACT_CHANGED, {"contact_id": 1})  # not subscribed
            drain(hook_runtime)
            deadline = time.monotonic() + 10
            while len(receiver.got) < 3 and time.monotonic() < deadline:
                sender.send_due(hook_runtime)
                time.sleep(0.05)
            sender.send_due(hook_runtime)
            items = client.get(f"/api/v1/webhooks/{hook_id}/deliveries").json()["items"]
    finally:
        receiver.close()
    assert len(receiver.got) == 3
    assert len(items) == 1
    item = items[0]
    assert (item["type"], item["status"], item["status_code"], item["attempts"]) == (
        "mailout.finished", "succeeded", 200, 3,
    )  # fmt: skip
    bodies = {body for _, body in receiver.got}
    assert len(bodies) == 1  # the same event each time, so the receiver can drop repeats
    headers, body = receiver.got[-1]
    assert verify(secret, headers["Tidings-Signature"], body)
    assert not verify("whsec_other", headers["Tidings-Signature"], body)
    payload = json.loads(body)
    assert payload["type"] == "mailout.finished" and payload["id"] == item["event_id"]
    assert payload["data"] == {"mailout_id": 7, "email_id": 3}


def test_erasure_scrubs_queued_payloads(hook_runtime: Runtime) -> None:
    from tidings.contacts import service as contacts
    from tidings.privacy.erasure import erase_contact
    from tidings.webhooks import service

    with hook_runtime.session() as session:
        service.create(
            session=session,
            runtime=hook_runtime,
            url="http://127.0.0.1:9/x",
            events=["contact.unsubscribed"],
        )
        contact = contacts.create(session=session, email="gone@example.com")
        publish(
            session, EventType.CONTACT_UNSUBSCRIBED, {"contact_id": contact.id, "list_id": None}
        )
    drain(hook_runtime)
    with hook_runtime.session() as session:
        erase_contact(session=session, contact_id=contact.id)
    drain(hook_runtime)
    with hook_runtime.session() as session:
        rows = session.query(WebhookDelivery).all()
        assert [(r.status, r.payload, r.contact_id) for r in rows] == [
            ("cancelled", {"erased": True}, None)
        ]


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://example.com/x", "events": ["activity.created"]},
        {"url": "javascript:alert(1)", "events": ["activity.created"]},
        {"url": "http://127.0.0.1/x", "events": ["activity.created"]},
        {"url": "http://10.0.0.1/x", "events": ["activity.created"]},
        {"url": "http://[::1]/x", "events": ["activity.created"]},
        {"url": "http://localhost/x", "events": ["activity.created"]},
        {"url": "https://example.com/x", "events": ["contact.erased"]},
        {"url": "https://example.com/x", "events": []},
        {"url": "https://example.com/x\x00", "events": ["activity.created"]},
        {"url": "https://example.com/x", "events": None},
        {"url": "https://example.com/" + "a" * 3000, "events": ["activity.created"]},
        {"url": "https://example.com/x", "events": ["activity.created"], "x": 1},
    ],
)
def test_hostile_input_is_refused(runtime: Runtime, api_key: str, body: dict[str, Any]) -> None:
    with TestClient(create_app(runtime)) as client:
        client.headers["Authorization"] = f"Bearer {api_key}"
        assert client.post("/api/v1/webhooks", json=body).status_code == 422
        assert client.get("/api/v1/webhooks/99999999999999999999").status_code == 422
        assert client.delete("/api/v1/webhooks/123").status_code == 404
        assert client.get("/api/v1/webhooks/123/deliveries").status_code == 404
