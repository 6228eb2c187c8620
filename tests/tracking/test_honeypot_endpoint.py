"""The hidden honeypot link ``/t/h/{token}`` against hostile input: tampered,
truncated, non-canonical and foreign tokens, wrong methods, huge paths and NUL bytes
are the product's 404 (or 405) with the security headers, and record nothing; only
the intact token records an automated click (B5, B7)."""

from __future__ import annotations

import string

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.support import world
from tidings.emails import service as emails
from tidings.runtime import Runtime
from tidings.sending.models import Delivery
from tidings.sending.service import start_mailout
from tidings.sending.tokens import CLICK, HONEYPOT, OPEN
from tidings.tracking.models import TrackingEvent
from tidings.tracking.services import signer
from tidings.web.security import HEADERS

SECURITY = [name.decode() for name, _ in HEADERS]
BROWSER = {"Accept": "text/html,application/xhtml+xml", "User-Agent": "Mozilla/5.0 Firefox/140.0"}
B64URL = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


def _honeypot(runtime: Runtime) -> tuple[str, str, str]:
    """A delivery's honeypot token, and its click and open tokens."""
    with runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=0)
        mailout = start_mailout(session=session, email_id=w.email_id)
        delivery_id = session.scalars(
            select(Delivery.id).where(Delivery.mailout_id == mailout.id)
        ).one()
        link_id = emails.links(session=session, email_id=w.email_id)[0].id
    sign = signer(runtime)
    return (
        sign.make(HONEYPOT, delivery_id, w.email_id),
        sign.make(CLICK, delivery_id, link_id),
        sign.make(OPEN, delivery_id, w.email_id),
    )


def _recorded(runtime: Runtime) -> int:
    with runtime.session() as session:
        return int(session.scalar(select(func.count()).select_from(TrackingEvent)) or 0)


def _non_canonical(token: str) -> list[str]:
    """Spellings a lenient base64 decoder reads as the same bytes."""
    variants = [token + "=", token + "==", token.replace("-", "+").replace("_", "/")]
    if len(token) % 4 in (2, 3):  # the last character carries unused low bits
        last = B64URL.index(token[-1])
        variants.append(token[:-1] + B64URL[last ^ 1])
    return [v for v in variants if v != token]


def _assert_refused(answer: httpx.Response, status: int = 404) -> None:
    where = (answer.request.method, str(answer.request.url)[:120])
    assert answer.status_code == status, (*where, answer.status_code, answer.text[:200])
    for name in SECURITY:
        assert name in answer.headers, (*where, name)
    if answer.request.method != "HEAD":
        assert f"Error {status}" in answer.text, (*where, answer.text[:200])


def test_hostile_honeypot_requests_are_404_and_record_nothing(
    client: TestClient, runtime: Runtime
) -> None:
    token, click, opened = _honeypot(runtime)
    flipped = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    hostile = [
        flipped,  # tampered
        token[::-1],
        click,  # a real token of another purpose
        opened,
        *_non_canonical(token),
        token + "%00",  # NUL bytes
        "%00" + token,
        token[:10] + "%00" + token[11:],
        "A" * 20_000,  # a huge path
        token * 300,
        "%2e%2e%2f" + token,  # encoded traversal
        "é" + token,
        "",
    ]
    hostile += [token[:cut] for cut in range(1, len(token))]  # every truncation
    for bad in hostile:
        for method in ("GET", "HEAD"):
            answer = client.request(method, f"/t/h/{bad}", headers=BROWSER)
            _assert_refused(answer)
        # A client that is not a browser: the same refusal, with a detail.
        answer = client.get(f"/t/h/{bad}")
        assert answer.status_code == 404 and all(h in answer.headers for h in SECURITY)
    for extra in ("/", "/x", "/../c"):
        _assert_refused(client.get(f"/t/h/{token}{extra}", headers=BROWSER))
    # Wrong methods: 405 naming the ones that would do, with the headers.
    for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        answer = client.request(method, f"/t/h/{token}", headers=BROWSER, content=b"x=1")
        _assert_refused(answer, 405)
        assert set(answer.headers["allow"].split(", ")) == {"GET", "HEAD"}
    assert _recorded(runtime) == 0

    # The intact token records one automated click, and says nothing about it.
    answer = client.get(f"/t/h/{token}", headers=BROWSER)
    assert answer.status_code == 204 and answer.content == b""
    assert answer.headers["x-robots-tag"] == "noindex"
    assert all(name in answer.headers for name in SECURITY)
    with runtime.session() as session:
        event = session.scalars(select(TrackingEvent)).one()
        assert event.automated and event.automated_reason == "honeypot"
