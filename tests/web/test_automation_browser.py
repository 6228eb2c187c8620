"""The issue's process built in the admin UI in a real chromium: "clicked /pricing in
the newsletter -> send the follow-up -> wait -> if the follow-up was not clicked, set
lead_status=cold"; the link clicked in the Inbox, the follow-up arriving in the Inbox,
the counts moving, and the contact page showing the process."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.web.conftest import Ui, sign_in
from tidings.consent import service as consent
from tidings.contacts import service as contacts
from tidings.contacts.models import Contact
from tidings.emails import service as emails
from tidings.lists import service as lists
from tidings.mailcatcher.models import CaughtMessage
from tidings.runtime import Runtime
from tidings.sending.service import start_mailout

pytestmark = [
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
    pytest.mark.browser,
]
SHOTS = Path(os.environ.get("TIDINGS_TEST_SCREENSHOTS", "/tmp/tidings-screens"))
CHROME_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def _seed(runtime: Runtime) -> tuple[int, int, int]:
    with runtime.session() as session:
        news = lists.create_list(session=session, name="Newsletter")
        ann = contacts.create(session=session, email="ann@example.com", first_name="Ann")
        lists.subscribe(session=session, list_id=news.id, contact_id=ann.id)
        consent.agree(session=session, contact_id=ann.id, code_name="tracking")
        newsletter = emails.create(
            session=session,
            name="October newsletter",
            subject="October news",
            html='<p>Hello! <a href="https://example.com/pricing">See pricing</a></p>',
            sender_name="Tidings",
            sender_address="news@example.com",
            recipient_list_id=news.id,
        )
        follow_up = emails.create(
            session=session,
            name="Pricing follow-up",
            subject="Questions about pricing?",
            html='<p>Hi Ann. <a href="https://example.com/call">Book a call</a></p>',
            sender_name="Tidings",
            sender_address="news@example.com",
            purpose="automation",
        )
        return ann.id, newsletter.id, follow_up.id


def _caught(runtime: Runtime, subject: str) -> bool:
    with runtime.session() as session:
        found = session.scalars(
            select(CaughtMessage.id).where(CaughtMessage.subject == subject)
        ).first()
        return found is not None


def _until(check: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_build_the_pricing_follow_up_and_watch_it_run(
    inbox_ui: Ui, browser: Any, tmp_path: Path
) -> None:
    ui = inbox_ui
    ann, newsletter, follow_up = _seed(ui.runtime)
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, user_agent=CHROME_UA)
    context.route(
        re.compile(r"^https://example\.com/"),
        lambda route: route.fulfill(
            body="<title>Example</title><p>ok</p>", content_type="text/html"
        ),
    )
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    SHOTS.mkdir(exist_ok=True)
    sign_in(page, ui)

    # Build the process in the editor.
    page.goto(f"{ui.url}/automations")
    page.screenshot(path=str(SHOTS / "automation-list-empty.png"), full_page=True)
    page.click("text=Create your first automation")
    page.fill("input[name=name]", "Pricing follow-up")
    page.select_option("#trigger_type", "email_click")
    page.select_option("#trigger_email_id", str(newsletter))
    page.fill("#trigger_url_contains", "/pricing")
    steps = [
        {"id": "send", "type": "send_email", "email_id": follow_up},
        {"id": "wait", "type": "wait", "seconds": 2},
        {
            "id": "check",
            "type": "condition",
            "condition": {"not": {"type": "clicked_email", "email_id": follow_up}},
            "yes": "cold",
            "no": None,
        },
        {"id": "cold", "type": "set_field", "field": "lead_status", "value": "cold"},
    ]
    page.fill("#steps", json.dumps(steps, indent=2))
    page.screenshot(path=str(SHOTS / "automation-editor.png"), full_page=True)
    page.click("button:has-text('Create automation')")
    page.wait_for_url(re.compile(r"/automations/\d+$"))
    automation_url = page.url
    assert page.locator("#running").inner_text() == "0"
    assert "“/pricing”" in page.locator(".flow-trigger").inner_text()

    # The newsletter goes out; Ann clicks its pricing link in the Inbox.
    with ui.runtime.session() as session:
        start_mailout(session=session, email_id=newsletter)
    _until(lambda: _caught(ui.runtime, "October news"), "the newsletter")
    page.goto(f"{ui.url}/inbox")
    page.click("text=October news")
    with page.expect_popup() as popup:
        page.frame_locator("iframe.message-html").locator("a", has_text="See pricing").click()
    popup.value.wait_for_load_state()
    popup.value.close()

    # Within a second the follow-up is in the Inbox.
    clicked = time.monotonic()
    _until(lambda: _caught(ui.runtime, "Questions about pricing?"), "the follow-up", 10)
    assert time.monotonic() - clicked < 5
    page.goto(f"{ui.url}/inbox")
    assert page.locator("text=Questions about pricing?").count() >= 1

    page.goto(automation_url)
    assert page.locator("#step-send .entered").inner_text() == "1 entered"
    page.screenshot(path=str(SHOTS / "automation-flow-waiting.png"), full_page=True)

    # After the wait: the follow-up was not clicked, so Ann's lead is cold.
    def cold() -> bool:
        with ui.runtime.session() as session:
            contact = session.get(Contact, ann)
            return contact is not None and (contact.fields or {}).get("lead_status") == "cold"

    _until(cold, "lead_status=cold", 15)
    page.goto(automation_url)
    assert page.locator("#finished").inner_text() == "1"
    assert page.locator("#running").inner_text() == "0"
    assert page.locator("#step-cold .entered").inner_text() == "1 entered"
    page.screenshot(path=str(SHOTS / "automation-flow-finished.png"), full_page=True)

    # Disable with confirmation; the contact page shows the process.
    page.click("#toggle")
    assert page.locator(".badge", has_text="disabled").count() >= 1
    page.goto(f"{ui.url}/contacts/{ann}")
    assert page.locator("#processes-h").count() == 1
    assert page.locator("section:has(#processes-h)").inner_text().count("Pricing follow-up") == 1
    page.goto(f"{ui.url}/automations")
    page.screenshot(path=str(SHOTS / "automation-list.png"), full_page=True)
    assert page.evaluate("document.querySelectorAll('script:not([src])').length") == 0
    context.close()
