"""The email channel in a real chromium: write, send, follow a link, see it counted."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support import world
from tests.web.conftest import Ui, sign_in

pytestmark = [
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
    pytest.mark.browser,
]

TRACKED = re.compile(r'href="(http://127\.0\.0\.1:\d+/t/c/[A-Za-z0-9_-]+)"')
EVIL = 'https://example.com/x?a="><script>alert(1)</script>&q=javascript:alert(2)'
ODD_HREF = (
    "https://example.com/x?a=&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
    "&amp;q=javascript:alert(2)"
)
BODY = f"""<html><body><h1>Hello {{{{ contact.first_name or "there" }}}}</h1>
<p><a href="{ODD_HREF}">Odd link</a></p>
<p><a href="https://example.com/pricing?plan=pro&amp;ref=mail">Pricing</a></p>
</body></html>"""
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/150.0 Safari/537.36"


def _until(page: Any, script: str, timeout: float = 10.0) -> None:
    """Poll ``script`` from Python: the page's CSP forbids the eval wait_for_function uses."""
    for _ in range(int(timeout * 10)):
        if page.evaluate(script):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"still false after {timeout} s: {script}")


def _inert(page: Any) -> None:
    assert page.dialogs == []
    assert page.evaluate("document.querySelectorAll('script:not([src])').length") == 0


def test_write_send_click_and_see_it_everywhere(ui: Ui, page: Any) -> None:
    with ui.runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=1)
    page.route("https://example.com/**", lambda route: route.fulfill(body="ok"))
    sign_in(page, ui)

    # Write the email in the editor; the preview renders as a contact of the list.
    page.goto(f"{ui.url}/emails/new")
    page.fill("input[name=name]", "Browser news")
    page.fill("input[name=subject]", "News for {{ contact.first_name }}")
    page.fill("input[name=sender_name]", "Tidings")
    page.fill("input[name=sender_address]", "news@example.com")
    page.select_option("select[name=recipient_list_id]", str(w.list_id))
    page.fill("textarea[name=html]", BODY)
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(r"/emails/\d+/edit\?saved=1$"))
    email_id = int(page.url.split("/")[4])
    page.select_option("#preview-contact", label="person0@example.com (P0 )")
    page.wait_for_selector(".preview-subject:text('News for P0')")
    assert page.get_attribute("iframe.preview", "sandbox") == ""

    # Send after the confirmation step; the progress bar runs until finished.
    page.click("a:text('Send…')")
    assert page.inner_text(".list-name") == "Newsletter"
    assert page.inner_text(".recipient-count") == "2"
    page.click("button:text('Send now')")
    page.wait_for_selector(".mailout-progress[data-status=finished]", timeout=15_000)
    assert "Finished: 2 sent" in page.inner_text(".mailout-progress")

    # The Contact activities tab gets the click without a reload.
    page.click("nav.tabs a:text('Contact activities')")
    page.wait_for_selector("tbody.poller", state="attached")
    ui.sink.wait_for(2)
    links = TRACKED.findall(ui.sink.to("person0@example.com")[0].part("html"))
    answer = page.request.get(links[0], max_redirects=0, headers={"User-Agent": BROWSER_UA})
    assert answer.status == 302
    other = TRACKED.findall(ui.sink.to("person1@example.com")[0].part("html"))
    page.request.get(other[1], max_redirects=0, headers={"User-Agent": BROWSER_UA})
    cell = page.wait_for_selector("tr.activity[data-type=email_click] td.value a.url")
    assert cell.inner_text() == EVIL
    assert cell.get_attribute("href") == EVIL
    assert cell.get_attribute("rel") == "noopener noreferrer"
    assert cell.get_attribute("target") == "_blank"
    assert page.locator("tr.activity").count() == 2  # the click and the open it implies
    assert "person1@example.com" not in page.inner_text("table.activities")
    _inert(page)

    # Statistics: the figures, the per-link table and the click map.
    page.click("nav.tabs a:text('Statistics')")
    assert page.inner_text("[data-figure=clicks_identified]") == "1"
    assert page.inner_text("[data-figure=clicks_anonymous]") == "1"
    assert page.inner_text("[data-figure=clicks_total]") == "2"
    assert page.inner_text("[data-rate=click_rate] .denominator") == "2 of 2 delivered"
    assert page.inner_text("table.links tbody tr:first-child .url") == EVIL
    clickmap = page.frame_locator("iframe.clickmap")
    assert clickmap.locator(".tdg-badge[data-position='1']").inner_text() == "1 click · 50%"
    assert page.get_attribute("iframe.clickmap", "sandbox") == ""
    _until(page, "document.querySelector('#timeline').offsetHeight > 0")
    page.click("button[data-granularity=day]")
    assert page.get_attribute("button[data-granularity=day]", "aria-pressed") == "true"
    _inert(page)
    assert email_id > 0


def test_figures_update_while_a_mailout_runs(ui: Ui, page: Any) -> None:
    ui.sink.delay = 0.3
    with ui.runtime.session() as session:
        w = world.build(session, consenting=16, anonymous=0)
    sign_in(page, ui)
    page.goto(f"{ui.url}/emails/{w.email_id}/send")
    page.click("button:text('Send now')")
    page.wait_for_selector(".mailout-progress[data-status=sending]", timeout=10_000)
    assert page.get_attribute("#figures", "data-live") == "true"
    _until(page, "Number(document.querySelector('#figures .funnel .count').textContent) > 0")
    page.wait_for_selector(".mailout-progress[data-status=finished]", timeout=20_000)
    page.wait_for_selector("#figures[data-live=false]", timeout=10_000)
    assert page.inner_text("#figures .funnel .count >> nth=0") == "16"
    _inert(page)
