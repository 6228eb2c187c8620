"""The issue's process built in the admin UI in a real chromium: "clicked /pricing in
the newsletter -> send the follow-up -> wait -> if the follow-up was not clicked, set
lead_status=cold"; the link clicked in the Inbox, the follow-up arriving in the Inbox,
the counts moving, and the contact page showing the process."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.automation.helpers import make_email
from tests.web.conftest import Ui, sign_in
from tidings.automation.models import Automation
from tidings.consent import service as consent
from tidings.contacts import service as contacts
from tidings.contacts.models import Contact
from tidings.emails import service as emails
from tidings.emails.models import Link
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


def _add(page: Any, where: str, kind: str) -> None:
    """Add a step of ``kind`` at an "Add a step" place of the flow."""
    page.select_option(where, kind)
    page.click(f"{where}-go")


def _link_id(runtime: Runtime, email_id: int) -> int:
    with runtime.session() as session:
        found = session.scalars(select(Link.id).where(Link.email_id == email_id)).one()
        return int(found)


def _automation(runtime: Runtime) -> Automation:
    with runtime.session() as session:
        automation = session.scalars(select(Automation)).one()
        session.expunge(automation)
        return automation


def _steps(runtime: Runtime) -> list[dict[str, Any]]:
    return list(_automation(runtime).steps)


def _trigger(runtime: Runtime) -> dict[str, Any]:
    return dict(_automation(runtime).trigger)


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

    # Build the process in the flow editor: no JSON typed anywhere.
    page.goto(f"{ui.url}/automations")
    page.screenshot(path=str(SHOTS / "automation-list-empty.png"), full_page=True)
    page.click("text=Create your first automation")
    page.fill("input[name=name]", "Pricing follow-up")
    page.select_option("#trigger_type", "email_click")
    assert page.locator("#trigger_list_id").is_hidden()  # only the click's fields show
    page.select_option("#trigger_email_id", str(newsletter))
    pricing = _link_id(ui.runtime, newsletter)
    offered = page.locator("#trigger_link_id option:not([disabled])").all_inner_texts()
    assert offered == ["Any link", "October newsletter: https://example.com/pricing"]
    page.select_option("#trigger_link_id", str(pricing))
    page.fill("#trigger_url_contains", "/pricing")

    _add(page, "#add-first", "send_email")
    page.select_option("#f-send-email-1-email_id", str(follow_up))
    _add(page, "#add-after-send-email-1", "wait")
    page.fill("#f-wait-1-seconds", "1")
    page.select_option("#f-wait-1-seconds-unit", "60")  # minutes
    _add(page, "#add-after-wait-1", "condition")
    check = page.locator("#card-condition-1")
    check.locator(".group-add [data-action=add-condition]").first.click()
    row = check.locator(".cond-row").first
    row.locator("input[type=checkbox][name$='.not']").check()
    row.locator("select.kind").select_option("clicked_email")
    row.locator("select[data-role=email]").select_option(str(follow_up))
    _add(page, "#add-condition-1-yes", "set_field")
    page.fill("#f-set-field-1-value", "cold")
    assert page.locator("#steps").is_hidden()  # the JSON view stays folded
    # Forgetting the field's name: the service's refusal is shown on that step's card,
    # and the flow comes back as it was.
    page.click("button:has-text('Create automation')")
    problem = page.locator("#card-set-field-1 .step-error")
    assert problem.inner_text().startswith("field: a field name is")
    assert page.locator("#editor-error").inner_text().startswith("Step set-field-1: field:")
    assert page.locator("#f-wait-1-seconds").input_value() == "1"
    assert page.locator("#f-wait-1-seconds-unit").input_value() == "60"
    assert page.locator("#card-condition-1 .cond-row select.kind").input_value() == "clicked_email"
    page.screenshot(path=str(SHOTS / "automation-editor-error.png"), full_page=True)
    page.fill("#f-set-field-1-field", "lead_status")
    page.click("button:has-text('Create automation')")
    page.wait_for_url(re.compile(r"/automations/\d+$"))
    automation_url = page.url
    assert page.locator("#running").inner_text() == "0"
    trigger_words = page.locator(".flow-trigger").inner_text()
    assert "link https://example.com/pricing, URL containing “/pricing”" in trigger_words
    assert "Wait 1 minute" in page.locator("#step-wait-1").inner_text()
    assert page.locator(".branch-col.yes #step-set-field-1").count() == 1
    issue_steps: list[dict[str, Any]] = [
        {"id": "send-email-1", "type": "send_email", "email_id": follow_up},
        {"id": "wait-1", "type": "wait", "seconds": 60},
        {
            "id": "condition-1",
            "type": "condition",
            "condition": {"all": [{"not": {"type": "clicked_email", "email_id": follow_up}}]},
            "yes": "set-field-1",
        },
        {"id": "set-field-1", "type": "set_field", "field": "lead_status", "value": "cold"},
    ]
    assert _steps(ui.runtime) == issue_steps
    assert _trigger(ui.runtime) == {
        "type": "email_click",
        "email_id": newsletter,
        "link_id": pricing,
        "url_contains": "/pricing",
    }

    # A minute is long for a test: the flow editor shortens the wait to 2 seconds.
    page.click("text=Edit")
    page.wait_for_url(re.compile(r"/edit$"))
    assert page.locator("#f-wait-1-seconds").input_value() == "1"
    page.select_option("#f-wait-1-seconds-unit", "1")  # seconds
    page.fill("#f-wait-1-seconds", "2")
    assert page.locator("#card-wait-1 .flow-counts").inner_text() == "0 entered · 0 here now"
    page.screenshot(path=str(SHOTS / "automation-editor.png"), full_page=True)
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(r"/automations/\d+$"))
    issue_steps[1]["seconds"] = 2
    assert _steps(ui.runtime) == issue_steps

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
    assert page.locator("#step-send-email-1 .entered").inner_text() == "1 entered"
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
    assert page.locator("#step-set-field-1 .entered").inner_text() == "1 entered"
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

    # On a phone the branches stack and nothing runs off the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    for path in (f"{automation_url}/edit", automation_url):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    page.goto(f"{automation_url}/edit")
    page.screenshot(path=str(SHOTS / "automation-editor-phone.png"), full_page=True)
    context.close()


def test_the_flow_editor_adds_moves_and_removes_steps(ui: Ui, page: Any) -> None:
    follow_up = make_email(ui.runtime)
    sign_in(page, ui)
    page.goto(f"{ui.url}/automations/new")
    page.fill("input[name=name]", "Shuffle")
    page.select_option("#trigger_type", "email_open")
    assert page.locator("#trigger_url_contains").is_hidden()
    _add(page, "#add-first", "wait")
    _add(page, "#add-after-wait-1", "log_activity")
    page.fill("#f-log-activity-1-activity_type", "custom:opened")
    _add(page, "#add-first", "send_email")  # above the wait
    page.select_option("#f-send-email-1-email_id", str(follow_up))
    _add(page, "#add-after-wait-1", "finish")

    def order() -> list[str]:
        cards = page.locator("#flow-editor > ol.flow-seq > li.flow-step")
        return [str(card.get_attribute("data-step")) for card in cards.all()]

    assert order() == ["send-email-1", "wait-1", "finish-1", "log-activity-1"]
    assert page.locator("#add-after-finish-1").count() == 0  # nothing follows a finish
    page.focus("#add-first")
    page.keyboard.press("ArrowDown")  # choosing with the keyboard adds nothing yet
    assert order() == ["send-email-1", "wait-1", "finish-1", "log-activity-1"]
    page.click("#card-log-activity-1 [aria-label='Move up']")
    page.click("#card-log-activity-1 [aria-label='Move up']")
    assert order() == ["send-email-1", "log-activity-1", "wait-1", "finish-1"]
    page.click("#card-wait-1 [aria-label='Remove this step']")
    assert order() == ["send-email-1", "log-activity-1", "finish-1"]
    _add(page, "#add-after-send-email-1", "wait")  # a new wait gets an id of its own
    assert order() == ["send-email-1", "wait-2", "log-activity-1", "finish-1"]
    page.click("#card-wait-2 [aria-label='Remove this step']")
    page.click("button:has-text('Create automation')")
    page.wait_for_url(re.compile(r"/automations/\d+$"))
    assert _steps(ui.runtime) == [
        {"id": "send-email-1", "type": "send_email", "email_id": follow_up},
        {"id": "log-activity-1", "type": "log_activity", "activity_type": "custom:opened"},
        {"id": "finish-1", "type": "finish"},
    ]

    # The JSON view, on purpose: the flow is set aside and the JSON saved instead.
    page.click("text=Edit")
    page.click("#advanced summary")
    page.click("#use-json")
    assert page.locator("#flow-editor").is_hidden()
    page.fill("#steps", '[{"id": "only", "type": "finish"}]')
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(r"/automations/\d+$"))
    assert _steps(ui.runtime) == [{"id": "only", "type": "finish"}]
