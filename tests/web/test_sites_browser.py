"""The website snippet in a real chromium, on a test page served on another port:
a consenting contact's tracked click lands with a token, the widget shows the
"clicked pricing" variant, the visit is in their timeline and group; a
non-consenting contact gets the default and leaves nothing; after revoking, the
same browser gets defaults."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.support import world
from tests.web.conftest import Ui, sign_in
from tidings.activities.models import Activity
from tidings.consent import service as consent
from tidings.emails import service as emails
from tidings.groups import service as groups
from tidings.groups.models import GroupMember
from tidings.mailcatcher.server import free_port
from tidings.personalization import service as sites
from tidings.personalization.directory import directory
from tidings.sending.models import Delivery
from tidings.sending.service import start_mailout
from tidings.sending.tokens import CLICK
from tidings.tracking.services import signer

pytestmark = [
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
    pytest.mark.parametrize("live", ["thread"], indirect=True),
    pytest.mark.browser,
]

SCREENS = Path(__file__).parents[2] / "docs" / "screens"
PRICING = {"type": "clicked_email", "url_contains": "/pricing"}
VISITED = {"type": "activity", "activity_type": "page_visit", "value_contains": "/pricing"}


class _Site:
    """A tiny website on its own port that loads the snippet."""

    def __init__(self, tidings_url: str) -> None:
        self.port = free_port()
        self.site_key = ""
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = (
                    "<!doctype html><html lang='en'><head><title>Pricing</title>"
                    f"<script defer src='{tidings_url}/p/tidings.js' data-site='{outer.site_key}'>"
                    "</script></head><body><main><h1>Plans</h1>"
                    "<div data-tidings-widget='hero'>Loading</div></main></body></html>"
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> _Site:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site(ui: Ui) -> Iterator[_Site]:
    with _Site(ui.url) as served:
        yield served


def _until(check: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition still false")


def _widget(page: Any) -> str:
    for _ in range(150):
        if page.evaluate("document.documentElement.hasAttribute('data-tidings-ready')"):
            break
        page.wait_for_timeout(100)
    return str(page.inner_text("[data-tidings-widget=hero]"))


def _visits(ui: Ui, contact_id: int) -> list[str | None]:
    with ui.runtime.session() as session:
        return list(
            session.scalars(
                select(Activity.value).where(
                    Activity.contact_id == contact_id, Activity.type == "page_visit"
                )
            )
        )


def test_a_click_through_personalizes_the_website(
    ui: Ui, site: _Site, browser: Any, page: Any
) -> None:
    with ui.runtime.session() as session:
        registered = sites.create_site(session=session, name="Shop", origin=site.origin)
        site.site_key = registered.site_key
        sites.put_widget(
            session=session,
            site=registered,
            key="hero",
            html="<p>Welcome</p>",
            variants=[{"condition": PRICING, "html": "<p>Clicked pricing</p>"}],
            create=True,
        )
        html = f'<p><a href="{site.origin}/pricing.html?plan=pro">Pricing</a></p>'
        w = world.build(session, consenting=1, anonymous=1, html=html)
        group, _ = groups.create(session=session, name="Visited pricing", condition=VISITED)
        mailout = start_mailout(session=session, email_id=w.email_id)
        deliveries = dict(
            session.execute(
                select(Delivery.contact_id, Delivery.id).where(Delivery.mailout_id == mailout.id)
            ).all()
        )
        link_id = emails.links(session=session, email_id=w.email_id)[0].id
    sign = signer(ui.runtime)
    click = {c: f"{ui.url}/t/c/" + sign.make(CLICK, d, link_id) for c, d in deliveries.items()}
    (agreed,), (other,) = w.consenting, w.anonymous

    page.goto(click[agreed])
    assert _widget(page) == "Clicked pricing"
    assert page.url == f"{site.origin}/pricing.html?plan=pro"  # tdg removed
    assert page.evaluate("localStorage.getItem('tidings.visitor')").startswith("v1.")
    assert _until(lambda: _visits(ui, agreed)) == [f"{site.origin}/pricing.html?plan=pro"]

    def member() -> bool:
        with ui.runtime.session() as session:
            found = session.scalars(
                select(GroupMember.contact_id).where(GroupMember.group_id == group.id)
            ).all()
            return agreed in found

    _until(member)
    admin = page.context.new_page()
    sign_in(admin, ui)
    admin.goto(f"{ui.url}/contacts/{agreed}")
    assert f"{site.origin}/pricing.html?plan=pro" in admin.inner_text("main")
    admin.goto(f"{ui.url}/sites/{registered.id}?contact={agreed}")
    reason = admin.inner_text(".preview-reason")
    assert reason.startswith("variant 1 of 1") and "/pricing" in reason
    assert registered.site_key in admin.inner_text("#snippet")
    if os.environ.get("TIDINGS_SCREENSHOTS"):  # refresh docs/screens/sites.png on demand
        admin.screenshot(path=str(SCREENS / "sites.png"), full_page=True)
    admin.close()

    # Another browser, a contact who does not agree to tracking: default, nothing kept.
    other_context = browser.new_context()
    other_page = other_context.new_page()
    other_page.goto(click[other])
    assert _widget(other_page) == "Welcome"
    assert "tdg" not in other_page.url
    assert other_page.evaluate("localStorage.getItem('tidings.visitor')") is None
    other_context.close()
    assert _visits(ui, other) == []

    # Revoking: the same browser (token still stored) gets the default.
    with ui.runtime.session() as session:
        consent.revoke(session=session, contact_id=agreed, code_name="tracking")
    directory(ui.runtime).invalidate()  # the per-visitor answer cache (30 s)
    page.goto(f"{site.origin}/pricing.html")
    assert _widget(page) == "Welcome"
    assert _visits(ui, agreed) == []
