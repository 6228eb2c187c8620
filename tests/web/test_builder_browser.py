"""The email builder in a real chromium: create from a template, add a text and a button
widget, reorder them by dragging and with the keyboard, watch the preview follow, and
find the saved email's HTML in the new order with the button's link tracked."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from tests.support import world
from tests.web.conftest import Ui, sign_in
from tidings.emails.models import Email, Link

pytestmark = [
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
    pytest.mark.browser,
]

BODY = 'ol[data-container="section:body"]'


def _until(page: Any, script: str, timeout: float = 10.0) -> None:
    """Poll ``script`` from Python: the page's CSP forbids the eval wait_for_function uses."""
    for _ in range(int(timeout * 10)):
        if page.evaluate(script):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"still false after {timeout} s: {script}")


def _keys(page: Any) -> list[str]:
    return [
        str(k)
        for k in page.eval_on_selector_all(f"{BODY} > li", "els => els.map(e => e.dataset.key)")
    ]


def _preview_text(page: Any) -> str:
    return str(page.frame_locator("iframe.builder-frame").locator("body").inner_text())


def _preview_has(page: Any, *texts: str) -> None:
    for _ in range(100):
        shown = _preview_text(page)
        if all(text in shown for text in texts):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the preview does not show {texts}: {_preview_text(page)[:400]}")


def _add(page: Any, kind: str) -> str:
    before = set(_keys(page))
    form = page.locator('form.add-widget:has(input[name=container][value="section:body"])')
    form.locator("select[name=type]").select_option(kind)
    form.locator("button[type=submit]").click()
    _until(page, f"document.querySelectorAll('{BODY} > li').length === {len(before) + 1}")
    [key] = set(_keys(page)) - before
    assert page.get_attribute(f"#w-{key} details.widget-edit", "open") is not None
    return key


def test_build_an_email_from_a_template(ui: Ui, page: Any) -> None:
    with ui.runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=0)
    sign_in(page, ui)

    # Pick the personal note and name the email.
    page.goto(f"{ui.url}/emails")
    page.click("a:text('New from a template')")
    page.click("label.template-choice:has-text('Personal note')")
    page.fill("input[name=name]", "Builder note")
    page.fill("input[name=subject]", "A note for {{ contact.first_name }}")
    page.fill("input[name=sender_name]", "Sam")
    page.fill("input[name=sender_address]", "sam@example.com")
    page.select_option("select[name=recipient_list_id]", str(w.list_id))
    page.click("button:text('Create email')")
    page.wait_for_url(re.compile(r"/emails/\d+/builder\?created=1$"))
    email_id = int(page.url.split("/")[4])
    assert page.get_attribute("iframe.builder-frame", "sandbox") == ""
    _preview_has(page, "Hi Sample,", "I read every answer")
    [letter] = _keys(page)

    # A text widget, written in the editor's editable area.
    text_key = _add(page, "text")
    area = page.locator(f"#w-{text_key} .rich-area")
    area.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("Breaking news from the builder")
    page.click(f"#w-{text_key} button:text('Save text')")
    _preview_has(page, "Breaking news from the builder")

    # A button widget with its label and link.
    button_key = _add(page, "button")
    page.fill(f"#w-{button_key} input[name=label]", "Join the beta")
    page.fill(f"#w-{button_key} input[name=url]", "https://example.com/beta?from=note")
    page.click(f"#w-{button_key} button:text('Save button')")
    _preview_has(page, "Join the beta")
    assert _keys(page) == [letter, text_key, button_key]

    # Drag the button above the new text.
    page.locator(f"#w-{button_key} .widget-type").drag_to(
        page.locator(f"#w-{text_key} .widget-head"), target_position={"x": 30, "y": 3}
    )
    _until(
        page, f"document.querySelector('{BODY} > li:nth-child(2)').dataset.key === '{button_key}'"
    )
    assert _keys(page) == [letter, button_key, text_key]
    preview = _preview_text(page)
    for _ in range(100):
        if preview.index("Join the beta") < preview.index("Breaking news"):
            break
        page.wait_for_timeout(100)
        preview = _preview_text(page)
    assert (
        preview.index("Hi Sample") < preview.index("Join the beta") < preview.index("Breaking news")
    )

    # Then with the keyboard: focus its "move up" button and press Enter; the focus stays.
    page.focus(f"#w-{button_key} button[data-move=up]")
    page.keyboard.press("Enter")
    _until(
        page, f"document.querySelector('{BODY} > li:first-child').dataset.key === '{button_key}'"
    )
    assert _keys(page) == [button_key, letter, text_key]
    _until(page, f"document.activeElement.closest('#w-{button_key}') !== null")
    assert page.evaluate("document.activeElement.dataset.move") == "up"
    _preview_has(page, "Join the beta")
    for _ in range(100):
        preview = _preview_text(page)
        if preview.index("Join the beta") < preview.index("Hi Sample"):
            break
        page.wait_for_timeout(100)
    assert (
        preview.index("Join the beta") < preview.index("Hi Sample") < preview.index("Breaking news")
    )

    # The phone preview is phone-sized.
    page.click("button[data-preview-width=phone]")
    _until(
        page, "document.querySelector('iframe.builder-frame').getBoundingClientRect().width <= 376"
    )
    assert page.get_attribute("button[data-preview-width=phone]", "aria-pressed") == "true"

    # Save the subject too; the stored HTML has the widgets in their new order.
    page.click("summary:text('Name, subject, sender and recipient list')")
    page.fill("input[name=subject]", "News for {{ contact.first_name }}")
    page.click("form[action$='/builder/settings'] button:text('Save')")
    page.wait_for_url(re.compile(r"/builder\?saved=1$"))
    assert page.inner_text(".flash") == "Saved."
    assert (
        page.evaluate(
            "document.querySelectorAll('script:not([src]):not([type=\"application/json\"])').length"
        )
        == 0
    )
    assert page.dialogs == []

    with ui.runtime.session() as session:
        email = session.get(Email, email_id)
        assert email is not None and email.builder is not None
        html = email.html
        assert email.subject == "News for {{ contact.first_name }}"
        assert [w["key"] for w in email.builder["sections"][0]["widgets"]] == [
            button_key,
            letter,
            text_key,
        ]
        assert email.plain_text is not None
        assert email.plain_text.index("Join the beta: https://example.com/beta?from=note") < (
            email.plain_text.index("Breaking news from the builder")
        )
        links = session.scalars(select(Link.url).where(Link.email_id == email_id)).all()
    assert (
        html.index("Join the beta")
        < html.index("Hi {{ contact.first_name")
        < html.index("Breaking news from the builder")
    )
    assert list(links) == ["https://example.com/beta?from=note"]
