"""The whole loop in Debian's chromium over real HTTP and SMTP, read in the Inbox of the
embedded mode (issue 11's browser test): a hosted form with tracking ticked, the
confirmation opened in the Inbox and its link clicked there, a mailout arriving in the
Inbox, a click on it that is an activity; a second person without the tick, subscribed
after confirming, whose click is anonymous; the first person withdrawing tracking in the
preference center reached from their message, their next click anonymous; the goodbye
page. Every public page passes an axe-core check, at desktop and at phone width."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import axe_playwright_python
import pytest
from sqlalchemy import select

from tests.web.conftest import Ui, sign_in
from tidings.activities.models import Activity
from tidings.consent import service as consents
from tidings.consent.models import ConsentAgreement
from tidings.contacts import service as contacts
from tidings.emails import service as emails
from tidings.forms import links
from tidings.forms import service as forms
from tidings.forms.models import FormSubmission
from tidings.lists import service as lists
from tidings.mailcatcher.models import CaughtMessage
from tidings.runtime import Runtime
from tidings.sending.service import start_mailout
from tidings.stats.service import email_statistics

pytestmark = pytest.mark.browser
AXE = Path(axe_playwright_python.__file__).with_name("axe.min.js")
SHOTS = Path(__file__).parents[2] / "tests-screenshots"
PHONE = {"width": 390, "height": 844}


def axe_violations(page: Any) -> list[str]:
    """axe-core's violations on the page (WCAG A and AA rules)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})).violations"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
    )
    return list(result)


def _shot(page: Any, name: str) -> None:
    """A screenshot at the page's width and one at a phone's, each checked with axe."""
    SHOTS.mkdir(exist_ok=True)
    size = page.viewport_size
    page.screenshot(path=str(SHOTS / f"forms-{name}.png"), full_page=True)
    page.set_viewport_size(PHONE)
    assert axe_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(SHOTS / f"forms-{name}-phone.png"), full_page=True)
    page.set_viewport_size(size)


def _until(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return found


def _caught(runtime: Runtime, address: str, subject: str) -> int:
    """The id of the Inbox's message to ``address`` with ``subject`` (waits for it)."""

    def find() -> int | None:
        with runtime.session() as session:
            return session.scalars(
                select(CaughtMessage.id).where(
                    CaughtMessage.subject == subject,
                    CaughtMessage.recipients.contains(address),
                )
            ).first()

    found: int = _until(find, f"{subject!r} to {address} in the Inbox")
    return found


def _open_in_inbox(page: Any, ui: Ui, address: str, subject: str) -> None:
    """Open the Inbox and the message to ``address``, as its reader would."""
    _caught(ui.runtime, address, subject)
    page.goto(f"{ui.url}/inbox")
    page.locator("tr", has_text=address).get_by_role("link", name=subject).click()
    page.wait_for_selector("iframe.message-html")


def _click_in_message(page: Any, text: str) -> Any:
    """Click a link of the open message; it opens in a new tab, which is returned."""
    with page.expect_popup() as popup:
        page.frame_locator("iframe.message-html").get_by_role("link", name=text).click()
    tab = popup.value
    tab.wait_for_load_state()
    return tab


def _subscribe(page: Any, ui: Ui, form_url: str, address: str, *, tick: bool) -> None:
    """Fill in the hosted form, then confirm from the message in the Inbox."""
    page.goto(form_url)
    assert axe_violations(page) == []
    assert not page.is_checked("input[name=consent_tracking]")
    page.fill("input[name=email]", address)
    page.fill("input[name=first_name]", address.split("@")[0].title())
    if tick:
        page.check("input[name=consent_tracking]")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Thank you")
    assert axe_violations(page) == []
    if tick:
        _shot(page, "thanks")
    _open_in_inbox(page, ui, address, forms.CONFIRMATION_SUBJECT)
    tab = _click_in_message(page, "Confirm my subscription")
    # The page confirms itself with its script: one step for a person.
    tab.wait_for_selector("text=Subscription confirmed")
    assert axe_violations(tab) == []
    if tick:
        _shot(tab, "confirmed")
    tab.close()


def _clicks(runtime: Runtime, address: str) -> int:
    with runtime.session() as session:
        contact = contacts.find_by_email(session=session, email=address)
        assert contact is not None
        return len(
            session.scalars(
                select(Activity.id).where(
                    Activity.contact_id == contact.id, Activity.type == "email_click"
                )
            ).all()
        )


def _split(runtime: Runtime, email_id: int) -> tuple[int, int]:
    with runtime.session() as session:
        stats = email_statistics(session=session, email_id=email_id)
        return stats.clicks_identified, stats.clicks_anonymous


def _seed(runtime: Runtime) -> tuple[int, str, int, int]:
    with runtime.session() as session:
        consents.ensure_tracking_consent(session=session)
        news = lists.create_list(session=session, name="News")
        events = lists.create_list(session=session, name="Events")
        form = forms.create(
            session=session,
            name="Newsletter",
            recipient_list_id=news.id,
            base_url=runtime.base_url,
            consent_codes=["tracking"],
            fields=["first_name"],
        )
        forms.create(
            session=session, name="Events", recipient_list_id=events.id, base_url=runtime.base_url
        )
        email = emails.create(
            session=session,
            name="Offer",
            subject="Our offer",
            html='<p>Hi {{ contact.first_name }}</p><p><a href="https://example.com/offer">'
            "See the offer</a></p>",
            sender_name="Example",
            sender_address="news@example.com",
            recipient_list_id=news.id,
        )
        return form.id, form.public_id, email.id, news.id


@pytest.mark.timeout(240)
def test_form_to_click_to_revocation(inbox_ui: Ui, browser: Any) -> None:
    ui = inbox_ui
    form_id, public_id, email_id, news_id = _seed(ui.runtime)
    form_url = f"{ui.url}/f/{public_id}"
    # bypass_csp: axe is injected as a script, which the pages' policy refuses.
    context = browser.new_context(viewport={"width": 1100, "height": 900}, bypass_csp=True)
    context.route(
        re.compile(r"^https://example\.com/"),
        lambda route: route.fulfill(body="<title>Offer</title><p>ok</p>", content_type="text/html"),
    )
    page = context.new_page()
    try:
        page.goto(form_url)
        _shot(page, "form")
        sign_in(page, ui)  # the Inbox is an admin page
        _subscribe(page, ui, form_url, "ann@example.com", tick=True)
        _subscribe(page, ui, form_url, "bob@example.com", tick=False)
        with ui.runtime.session() as session:
            for address, agreed in (("ann@example.com", 1), ("bob@example.com", 0)):
                contact = contacts.find_by_email(session=session, email=address)
                assert contact is not None
                sub = lists.subscription(session=session, list_id=news_id, contact_id=contact.id)
                assert sub is not None and sub.status == "subscribed"
                sources = session.scalars(
                    select(ConsentAgreement.source).where(ConsentAgreement.contact_id == contact.id)
                ).all()
                assert sources == [f"form:{form_id}"] * agreed

        # The other public pages: a consent's full text, an expired and a tampered link
        # (of a third person, who never confirms).
        page.goto(form_url)
        page.fill("input[name=email]", "cy@example.com")
        page.click("button[type=submit]")
        page.wait_for_selector("text=Thank you")
        with ui.runtime.session() as session:
            last = session.scalars(
                select(FormSubmission).order_by(FormSubmission.id.desc())
            ).first()
            assert last is not None and last.status == "pending"
            old = links.confirm_token(ui.runtime, last.id, last.created_at - timedelta(days=30))
        for path, status, name in (
            (f"/f/{public_id}/consents/tracking", 200, "consent-text"),
            (f"/f/confirm/{old}", 410, "expired"),
            (f"/f/confirm/{old[:-4]}", 404, None),
        ):
            assert page.goto(ui.url + path).status == status
            assert axe_violations(page) == []
            if name:
                _shot(page, name)

        # The mailout reaches both in the Inbox; each clicks its link there.
        with ui.runtime.session() as session:
            start_mailout(session=session, email_id=email_id)
        _open_in_inbox(page, ui, "ann@example.com", "Our offer")
        ann_message = page.url
        _click_in_message(page, "See the offer").close()
        _until(lambda: _clicks(ui.runtime, "ann@example.com") == 1, "Ann's click activity")
        _open_in_inbox(page, ui, "bob@example.com", "Our offer")
        _click_in_message(page, "See the offer").close()
        _until(lambda: _split(ui.runtime, email_id) == (1, 1), "Bob's anonymous click")
        assert _clicks(ui.runtime, "bob@example.com") == 0

        # Ann withdraws tracking in the preference center linked from her message.
        page.goto(ann_message)
        prefs = _click_in_message(page, "Manage your preferences")
        assert axe_violations(prefs) == []
        _shot(prefs, "preferences")
        prefs.click("button[aria-label='Withdraw Email tracking']")
        prefs.wait_for_selector("text=You withdrew your agreement")
        assert _clicks(ui.runtime, "ann@example.com") == 0  # deleted at once (B9)
        _click_in_message(page, "See the offer").close()
        _until(lambda: _split(ui.runtime, email_id) == (1, 2), "Ann's anonymous click")
        assert _clicks(ui.runtime, "ann@example.com") == 0

        # Unsubscribing there says goodbye and offers the lists left.
        prefs.click("button[aria-label='Unsubscribe from News']")
        prefs.wait_for_selector("text=You are unsubscribed")
        assert prefs.locator("button[aria-label='Subscribe to Events']").count() == 1
        assert axe_violations(prefs) == []
        _shot(prefs, "goodbye")
    finally:
        context.close()
