"""The whole loop in Debian's chromium over real HTTP and SMTP (issue 11's browser test):
a hosted form with tracking ticked, confirmed from the message, a mailout, a click
that is an activity; a second person without the tick whose click is anonymous; the
first person revoking tracking in the preference center, their next click anonymous.
Every public page passes an axe-core check."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import axe_playwright_python
import httpx
import pytest
from sqlalchemy import select

from tests.support.live import LiveServer
from tests.support.people import PERSON
from tests.support.smtp import SmtpSink
from tidings.activities.models import Activity
from tidings.consent import service as consents
from tidings.contacts import service as contacts
from tidings.emails import service as emails
from tidings.forms import service as forms
from tidings.lists import service as lists
from tidings.runtime import Runtime
from tidings.sending.service import start_mailout
from tidings.stats.service import email_statistics

AXE = Path(axe_playwright_python.__file__).with_name("axe.min.js")
SHOTS = Path(__file__).parents[2] / "tests-screenshots"


def axe_violations(page: Any) -> list[str]:
    """axe-core's violations on the page (WCAG A and AA rules)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})).violations"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
    )
    return list(result)


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"forms-{name}.png"), full_page=True)


def _mail_to(sink: SmtpSink, address: str, subject_part: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for mail in sink.messages:
            if address in mail.rcpt_tos and subject_part in str(mail.message["Subject"]):
                return mail
        time.sleep(0.1)
    raise AssertionError(f"no message {subject_part!r} to {address}")


def _link(mail: Any, pattern: str) -> str:
    match = re.search(pattern, mail.part("html"))
    assert match, mail.part("html")[:2000]
    return match.group(0)


def _subscribe(page: Any, url: str, address: str, *, tick: bool, sink: SmtpSink) -> None:
    page.goto(url)
    assert axe_violations(page) == []
    page.fill("input[name=email]", address)
    page.fill("input[name=first_name]", address.split("@")[0].title())
    if tick:
        page.check("input[name=consent_tracking]")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Thank you")
    assert axe_violations(page) == []
    mail = _mail_to(sink, address, "confirm")
    page.goto(_link(mail, r"http://127\.0\.0\.1:\d+/f/confirm/[A-Za-z0-9_\-]+"))
    # The page confirms itself with its script: one step for a person.
    page.wait_for_selector("text=Subscription confirmed")
    assert axe_violations(page) == []


def _click_activities(runtime: Runtime, address: str) -> int:
    with runtime.session() as session:
        contact = contacts.find_by_email(session=session, email=address)
        assert contact is not None
        return len(
            session.scalars(
                select(Activity).where(
                    Activity.contact_id == contact.id, Activity.type == "email_click"
                )
            ).all()
        )


@pytest.mark.timeout(180)
def test_form_to_click_to_revocation(
    live: tuple[Runtime, LiveServer],
    smtp_sink: SmtpSink,
    browser: Any,
) -> None:
    runtime, server = live
    with runtime.session() as session:
        consents.ensure_tracking_consent(session=session)
        news = lists.create_list(session=session, name="News")
        form = forms.create(
            session=session,
            name="Newsletter",
            recipient_list_id=news.id,
            base_url=runtime.base_url,
            consent_codes=["tracking"],
            fields=["first_name"],
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
        form_url, email_id = f"{server.url}/f/{form.public_id}", email.id
    context = browser.new_context(viewport={"width": 900, "height": 900}, bypass_csp=True)
    page = context.new_page()
    try:
        _subscribe(page, form_url, "ann@example.com", tick=True, sink=smtp_sink)
        _subscribe(page, form_url, "bob@example.com", tick=False, sink=smtp_sink)
        with runtime.session() as session:
            start_mailout(session=session, email_id=email_id)
        ann_mail = _mail_to(smtp_sink, "ann@example.com", "Our offer")
        bob_mail = _mail_to(smtp_sink, "bob@example.com", "Our offer")
        pattern = r"http://127\.0\.0\.1:\d+/t/c/[A-Za-z0-9_\-]+"
        ann_click, bob_click = _link(ann_mail, pattern), _link(bob_mail, pattern)
        with httpx.Client(timeout=10, headers=PERSON) as http:
            assert http.get(ann_click).status_code == 302
            assert http.get(bob_click).status_code == 302
        assert _click_activities(runtime, "ann@example.com") == 1
        assert _click_activities(runtime, "bob@example.com") == 0
        # Ann withdraws tracking in the preference center (the link in the footer).
        page.goto(_link(ann_mail, r"http://127\.0\.0\.1:\d+/preferences/[A-Za-z0-9_\-]+"))
        assert axe_violations(page) == []
        _shot(page, "preferences")
        page.click("button[aria-label='Withdraw Email tracking']")
        page.wait_for_selector("text=You withdrew your agreement")
        with httpx.Client(timeout=10, headers=PERSON) as http:
            assert http.get(ann_click).status_code == 302
        assert _click_activities(runtime, "ann@example.com") == 0  # deleted, none new
        with runtime.session() as session:
            stats = email_statistics(session=session, email_id=email_id)
            assert (stats.clicks_identified, stats.clicks_anonymous) == (1, 2)
        # Unsubscribing there says goodbye and offers the lists left.
        page.click("button[aria-label='Unsubscribe from News']")
        page.wait_for_selector("text=You are unsubscribed")
        assert axe_violations(page) == []
        _shot(page, "goodbye")
        page.goto(form_url)
        _shot(page, "form")
    finally:
        context.close()
