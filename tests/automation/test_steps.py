"""The webhook and log_activity steps against real parts: an HTTP server, consent."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from tests.automation.helpers import create, deliver, make_contact, make_list, runs, subscribe
from tidings.activities.models import Activity
from tidings.automation.step_kinds.webhook import secret_for
from tidings.config import Settings
from tidings.consent import service as consent
from tidings.runtime import Runtime


class Receiver:
    """An HTTP server answering the given statuses in turn, keeping what it got."""

    def __init__(self, statuses: list[int]) -> None:
        self.got: list[tuple[str, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append((self.headers["Tidings-Signature"], body))
                self.send_response(statuses.pop(0) if statuses else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def hook_runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime(settings.model_copy(update={"webhook_allow_private": True}))
    yield rt
    rt.close()


def test_webhook_step_signs_and_a_refusal_fails_the_run(hook_runtime: Runtime) -> None:
    runtime = hook_runtime
    receiver = Receiver([200, 500])
    list_id = make_list(runtime)
    automation_id = create(
        runtime,
        name="Tell the CRM",
        trigger={"type": "subscribed", "list_id": list_id},
        steps=[{"id": "tell", "type": "webhook", "url": receiver.url}],
    )
    ann, bo = make_contact(runtime), make_contact(runtime, "bo@example.com")
    subscribe(runtime, list_id, ann)
    subscribe(runtime, list_id, bo)
    deliver(runtime)
    assert [(r[0], r[2]) for r in runs(runtime, automation_id)] == [
        (ann, "finished"),
        (bo, "failed"),
    ]
    header, body = receiver.got[0]
    stamp, mac = (part.split("=", 1)[1] for part in header.split(","))
    secret = secret_for(runtime, automation_id).encode()
    # The secret the API shows for the automation.
    assert len(secret) == 64
    expected = hmac.new(secret, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(mac, expected)
    assert b'"contact_id":%d' % ann in body and b"example.com" not in body
    receiver.server.shutdown()


def test_log_activity_records_only_under_consent(runtime: Runtime) -> None:
    list_id = make_list(runtime)
    create(
        runtime,
        name="Note",
        trigger={"type": "subscribed", "list_id": list_id},
        steps=[
            {
                "id": "note",
                "type": "log_activity",
                "activity_type": "custom:welcomed",
                "value": "yes",
            }
        ],
    )
    ann, bo = make_contact(runtime), make_contact(runtime, "bo@example.com")
    with runtime.session() as session:
        consent.agree(session=session, contact_id=ann, code_name="tracking")
    subscribe(runtime, list_id, ann)
    subscribe(runtime, list_id, bo)
    deliver(runtime)
    with runtime.session() as session:
        logged = session.execute(
            select(Activity.contact_id, Activity.value).where(Activity.type == "custom:welcomed")
        ).all()
    assert [tuple(row) for row in logged] == [(ann, "yes")]
