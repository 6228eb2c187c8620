"""The public tracking endpoints answer every request: 4xx with the product's
headers and error page or JSON for anything that is not a tracking request, on the
fast path (``asgi_entry``) and through the plain app; an erased contact's
personalized link is the 404 page (B5, B10)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import httpx
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.support import world
from tests.support.live import LiveServer
from tests.support.smtp import SmtpSink
from tidings.emails import service as emails
from tidings.privacy.erasure import erase_contact
from tidings.runtime import Runtime
from tidings.sending.models import Delivery
from tidings.sending.service import start_mailout
from tidings.sending.tokens import CLICK, OPEN, UNSUBSCRIBE
from tidings.tracking.models import TrackingEvent
from tidings.tracking.services import signer
from tidings.web.security import HEADERS

SECURITY = [name.decode() for name, _ in HEADERS]
BROWSER = {"Accept": "text/html,application/xhtml+xml", "User-Agent": "Mozilla/5.0 Firefox/140.0"}


@dataclass
class Tokens:
    click: str
    open: str
    unsubscribe: str


def _assert_answered(answer: httpx.Response, status: int | None = None) -> None:
    """A 4xx (``status`` if given) with every security header."""
    if status is not None:
        assert answer.status_code == status, (answer.request.url, answer.text[:200])
    assert 400 <= answer.status_code < 500, (answer.request.url, answer.status_code)
    for name in SECURITY:
        assert name in answer.headers, (answer.request.url, name)


def _tokens(runtime: Runtime) -> Tokens:
    with runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=0)
        mailout = start_mailout(session=session, email_id=w.email_id)
        delivery = session.scalars(select(Delivery.id).where(Delivery.mailout_id == mailout.id))
        delivery_id = delivery.one()
        link_id = emails.links(session=session, email_id=w.email_id)[0].id
    sign = signer(runtime)
    return Tokens(
        click=sign.make(CLICK, delivery_id, link_id),
        open=sign.make(OPEN, delivery_id, w.email_id),
        unsubscribe=sign.make(UNSUBSCRIBE, delivery_id),
    )


def test_unmatched_paths_methods_and_bodies_are_4xx_with_the_headers(
    client: TestClient, runtime: Runtime
) -> None:
    tokens = _tokens(runtime)
    cases: list[tuple[str, str, dict[str, str], bytes, int]] = [
        ("POST", f"/t/c/{tokens.click}", {}, b"", 405),
        ("PUT", f"/t/o/{tokens.open}.gif", {}, b"", 405),
        ("DELETE", f"/u/{tokens.unsubscribe}", {}, b"", 405),
        ("GET", "/t/", {}, b"", 404),
        ("GET", "/t/x", {}, b"", 404),
        ("GET", "/t/c/", {}, b"", 404),
        ("GET", "/t/o/x", {}, b"", 404),
        ("GET", "/u/", {}, b"", 404),
        ("GET", "/u/a/b", {}, b"", 404),
        ("GET", f"/t/c/{tokens.click}/", {}, b"", 404),
        ("GET", f"/t/c/{tokens.click}/x", {}, b"", 404),
        ("GET", f"/t/c/{tokens.click}=", {}, b"", 404),
        ("GET", f"/u/{tokens.unsubscribe}/", {}, b"", 404),
        ("POST", f"/u/{tokens.unsubscribe}", {"Content-Type": "multipart/form-data"}, b"x", 400),
        (
            "POST",
            f"/u/{tokens.unsubscribe}",
            {"Content-Type": "multipart/form-data; boundary=zz"},
            b"--zz\r\nContent-Disposition: form-data\r\n\r\nbroken",
            400,
        ),
    ]
    for method, path, headers, body, status in cases:
        answer = client.request(method, path, headers=headers, content=body)
        _assert_answered(answer, status)
        # The product's answer for a client that is not a browser: its JSON, or the
        # 404 page where a link's token is what is wrong (B5).
        if answer.headers["content-type"].startswith("application/json"):
            assert answer.json()["detail"]
        else:
            assert f"Error {status}" in answer.text and status == 404
        page = client.request(method, path, headers={**headers, **BROWSER}, content=body)
        _assert_answered(page, status)
        assert page.headers["content-type"].startswith("text/html")
        assert f"Error {status}" in page.text  # the product's error page, not a traceback
    # A 405 names the methods that would do.
    allow = client.post(f"/t/c/{tokens.click}").headers["allow"]
    assert set(allow.split(", ")) == {"GET", "HEAD"}
    # Nothing was recorded, nobody unsubscribed: the real requests still work.
    assert client.get(f"/t/c/{tokens.click}", follow_redirects=False).status_code == 302
    assert client.get(f"/u/{tokens.unsubscribe}", headers=BROWSER).status_code == 200


def test_every_truncation_of_a_click_url_is_the_404_page(
    client: TestClient, runtime: Runtime
) -> None:
    path = f"/t/c/{_tokens(runtime).click}"
    for cut in range(2, len(path)):
        answer = client.get(path[:cut], headers=BROWSER, follow_redirects=False)
        _assert_answered(answer, 404)
        assert "Error 404" in answer.text
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(TrackingEvent)) == 0


PATH_CHARS = st.sampled_from([*"abcXYZ019-_./%=+~!*'()$,;:@&", "%2F", "%00", "%ff", "é"])
METHODS = st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
CONTENT_TYPES = st.sampled_from(
    [
        None,
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=b",
        "multipart/form-data; boundary=",
        "application/json",
        "text/plain; charset=nonsense",
    ]
)


def test_random_requests_under_the_tracking_prefixes_never_fail(
    client: TestClient, runtime: Runtime
) -> None:
    tokens = _tokens(runtime)
    real = [f"t/c/{tokens.click}", f"t/o/{tokens.open}.gif", f"u/{tokens.unsubscribe}"]

    @settings(
        max_examples=120,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        base=st.sampled_from(["t/", "u/", "t/c/", "t/o/", *real]),
        cut=st.integers(min_value=0, max_value=40),
        tail=st.lists(PATH_CHARS, max_size=12).map("".join),
        method=METHODS,
        content_type=CONTENT_TYPES,
        body=st.one_of(
            st.binary(max_size=300),
            st.sampled_from([b"scope=all", b"--b\r\n\r\n", b"--b--\r\n", b"%%%=&&="]),
        ),
        browser=st.booleans(),
    )
    def probe(
        base: str,
        cut: int,
        tail: str,
        method: str,
        content_type: str | None,
        body: bytes,
        browser: bool,
    ) -> None:
        path = "/" + (base[: max(2, len(base) - cut)] if base in real else base) + tail
        headers = dict(BROWSER) if browser else {}
        if content_type is not None:
            headers["Content-Type"] = content_type
        answer = client.request(method, path, headers=headers, content=body)
        assert answer.status_code < 500, (method, path, content_type, body, answer.text[:300])
        for name in SECURITY:
            assert name in answer.headers, (method, path, name)

    probe()


TRACKED = re.compile(r'href="(http://127\.0\.0\.1:\d+/t/c/[A-Za-z0-9_-]+)"')
PERSONAL_HTML = (
    '<html><body><p><a href="https://example.com/blog">Blog</a></p>'
    '<p><a href="https://example.com/hello?who={{ contact.email }}">Your page</a></p>'
    "</body></html>"
)


def test_an_erased_contacts_personalized_link_is_the_404_page(
    live: tuple[Runtime, LiveServer], smtp_sink: SmtpSink, api_key: str
) -> None:
    runtime, server = live
    with runtime.session() as session:
        w = world.build(session, consenting=0, anonymous=1, html=PERSONAL_HTML)
        contact_id = w.anonymous[0]
    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {api_key}"})
    with api:
        mailout = api.post(f"/api/v1/emails/{w.email_id}/send").json()["mailout_id"]
        deadline = time.monotonic() + 30
        while api.get(f"/api/v1/mailouts/{mailout}").json()["status"] != "finished":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    blog, personal = TRACKED.findall(smtp_sink.to("person0@example.com")[0].part("html"))
    before = httpx.get(personal, headers=BROWSER, follow_redirects=False)
    assert before.headers["location"] == "https://example.com/hello?who=person0@example.com"
    with runtime.session() as session:
        erase_contact(session=session, contact_id=contact_id)
    after = httpx.get(personal, headers=BROWSER, follow_redirects=False)
    assert after.status_code == 404
    assert "location" not in after.headers and "contact.email" not in after.text
    assert "This link is not valid" in after.text
    for name in SECURITY:
        assert name in after.headers
    # The link that was the same for everyone still leads where it did.
    assert httpx.get(blog, follow_redirects=False).headers["location"] == (
        "https://example.com/blog"
    )
    with runtime.session() as session:
        clicks = session.scalar(
            select(func.count()).select_from(TrackingEvent).where(TrackingEvent.type == "click")
        )
    assert clicks == 2  # before the erasure, and the shared link after it
