"""The Statistics tab's "Machines, kept apart" table in chromium: machines' opens and
clicks made through the real tracking endpoints show under their reasons, the page
passes axe, and a reason the product does not know is never rendered (B7)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.support import world
from tests.support.people import PERSON
from tests.web.conftest import Ui, sign_in
from tests.web.test_forms_browser import axe_violations
from tidings.emails import service as emails
from tidings.sending.models import Delivery
from tidings.sending.service import start_mailout
from tidings.sending.tokens import CLICK, HONEYPOT, OPEN
from tidings.stats.models import AutomatedReasonCount
from tidings.tracking.services import signer

pytestmark = [
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
    pytest.mark.browser,
]

SHOTS = Path(__file__).parents[2] / "tests-screenshots"
BOT = {"User-Agent": "python-requests/2.32"}
HOSTILE_REASON = "<i>x</i>'\"&"


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page whose CSP lets axe-core be injected (the admin pages allow no inline
    script); dialogs are recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    pg = context.new_page()
    pg.dialogs = []

    def on_dialog(dialog: Any) -> None:
        pg.dialogs.append(dialog.message)
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    yield pg
    context.close()


def test_machines_table_counts_each_reason_and_passes_axe(ui: Ui, page: Any) -> None:
    with ui.runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=3)
        mailout = start_mailout(session=session, email_id=w.email_id)
        deliveries = list(
            session.scalars(
                select(Delivery.id).where(Delivery.mailout_id == mailout.id).order_by(Delivery.id)
            )
        )
        link_id = emails.links(session=session, email_id=w.email_id)[0].id
        # A reason only a tampered database could hold: never shown, let alone as HTML.
        session.add(
            AutomatedReasonCount(email_id=w.email_id, kind="click", reason=HOSTILE_REASON, count=7)
        )
    sign = signer(ui.runtime)
    head, scanner, honeypot, pixel = deliveries
    with httpx.Client(base_url=ui.url, timeout=30) as client:
        # One machine per delivery: a honeypot hit takes its delivery's other
        # interactions of the burst window with it.
        answer = client.head(f"/t/c/{sign.make(CLICK, head, link_id)}", headers=PERSON)
        assert answer.status_code == 302
        answer = client.get(f"/t/c/{sign.make(CLICK, scanner, link_id)}", headers=BOT)
        assert answer.status_code == 302
        answer = client.get(f"/t/h/{sign.make(HONEYPOT, honeypot, w.email_id)}", headers=PERSON)
        assert answer.status_code == 204
        answer = client.get(f"/t/o/{sign.make(OPEN, pixel, w.email_id)}.gif", headers=BOT)
        assert answer.status_code == 200

    sign_in(page, ui)
    page.goto(f"{ui.url}/emails/{w.email_id}")
    section = page.locator("section.machines")
    section.scroll_into_view_if_needed()
    figures = {
        "clicks_head": "1",
        "clicks_user_agent": "1",
        "clicks_honeypot": "1",
        "opens_user_agent": "1",
        "clicks_burst": "0",
        "opens_prefetch": "0",
    }
    for figure, value in figures.items():
        assert section.locator(f"[data-figure={figure}]").inner_text() == value, figure
    rows = section.locator("tbody tr")
    reasons = [rows.nth(n).get_attribute("data-reason") for n in range(rows.count())]
    assert reasons == ["head", "user_agent", "ip_range", "honeypot", "burst", "prefetch"]
    assert section.locator("[data-figure=opens_automated_all]").inner_text() == "1"
    assert section.locator("[data-figure=clicks_automated_all]").inner_text() == "3"
    # The tampered reason: not a row, not markup, not text.
    html = section.inner_html()
    assert "<i>x</i>" not in html and "&lt;i&gt;" not in html and "7" not in html
    assert page.dialogs == []
    assert section.locator("table.reasons caption, h2#machines-title").count() >= 1
    assert axe_violations(page) == []
    SHOTS.mkdir(exist_ok=True)
    section.screenshot(path=str(SHOTS / "events-machines.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    section.scroll_into_view_if_needed()
    section.screenshot(path=str(SHOTS / "events-machines-narrow.png"))
    assert axe_violations(page) == []
