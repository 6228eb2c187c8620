"""Regenerate the email channel screenshots in docs/screens/.

Starts the app on a temporary data directory (SQLite, embedded mail catcher and
workers), loads the demo data, sends the demo email, opens and clicks some of the
caught messages as recipients would, then photographs the pages with Debian's chromium:

    .venv/bin/python docs/screens/take_screens.py [OUTPUT_DIR]
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import httpx
from instance import CHROMIUM, CHROMIUM_ARGS, serve_instance, sign_in
from playwright.sync_api import Page, sync_playwright
from sqlalchemy import select

from tidings import demo
from tidings.assembly.bootstrap import ensure_defaults
from tidings.auth.service import create_user
from tidings.emails import service as emails
from tidings.mailcatcher.inbox import show_message
from tidings.mailcatcher.models import CaughtMessage
from tidings.runtime import Runtime
from tidings.sending import service as sending
from tidings.sending.models import Mailout

OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
USER, PASSWORD = "demo@example.com", "tidings-demo"
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"}
SCANNER = {"User-Agent": "Mozilla/5.0 (compatible; SafeLinks scanner)"}
TRACKED = re.compile(r'href="(http://127\.0\.0\.1:\d+/t/c/[A-Za-z0-9_-]+)"')
PIXEL = re.compile(r'src="(http://127\.0\.0\.1:\d+/t/o/[A-Za-z0-9_-]+\.gif)"')
OCTOBER_HTML = """<!doctype html>
<html><body style="font-family: Georgia, serif; max-width: 36rem; margin: auto;">
<h1>October at Example Widgets</h1>
<p>Hello {{ contact.first_name or "there" }}, <a href="https://example.com/blog/october">read
 the October notes</a> or <a href="https://example.com/events">join a meetup</a>.</p>
</body></html>"""
DRAFT_HTML = """<!doctype html>
<html><body style="font-family: Georgia, serif; max-width: 36rem; margin: auto;">
<h1>Hi {{ contact.first_name or "there" }}, a first look at December</h1>
<p>Our winter sale starts next week. <a href="https://example.com/sale">Preview the deals</a>.</p>
<p>Thanks for reading, {{ contact.first_name or "friend" }}!</p>
</body></html>"""


def seed(runtime: Runtime) -> tuple[int, int]:
    """Demo data, an older sent email and a draft; returns the demo and draft ids."""
    with runtime.session() as session:
        ensure_defaults(session)
        result = demo.seed(session=session, send=True)
        create_user(session=session, email=USER, password=PASSWORD)
        october = emails.create(
            session=session,
            name="October newsletter",
            subject="October at Example Widgets",
            html=OCTOBER_HTML,
            sender_name="Example Widgets",
            sender_address="news@example.com",
            recipient_list_id=result.list_id,
        )
        sending.start_mailout(session=session, email_id=october.id)
        draft = emails.create(
            session=session,
            name="December teaser (draft)",
            subject="{{ contact.first_name or 'Friend' }}, December is coming",
            html=DRAFT_HTML,
            sender_name="Example Widgets",
            sender_address="news@example.com",
            recipient_list_id=result.list_id,
        )
    return result.email_id, draft.id


def wait_sent(runtime: Runtime) -> None:
    """Until every mailout has finished."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with runtime.session() as session:
            statuses = list(session.scalars(select(Mailout.status)))
            if statuses and all(status == "finished" for status in statuses):
                return
        time.sleep(0.2)
    raise RuntimeError("the mailouts did not finish")


def interact(runtime: Runtime) -> None:
    """Open and click the caught messages as a mix of people and one scanner would."""
    with runtime.session() as session:
        ids = list(session.scalars(select(CaughtMessage.id).order_by(CaughtMessage.id)))
        bodies = [show_message(session=session, message_id=i)["html"] or "" for i in ids]
    for index, body in enumerate(bodies):
        links = TRACKED.findall(body)
        pixel = PIXEL.findall(body)
        if pixel and index % 5 in (0, 1, 3):
            httpx.get(pixel[0], headers=BROWSER)
        picks = [0] if index % 3 == 0 else []
        picks += [1] if index % 4 == 1 else []
        picks += [3] if index % 7 == 0 else []
        picks += [2] if index % 10 == 3 else []
        for pick in picks:
            if pick < len(links):
                httpx.get(links[pick], headers=BROWSER)
        if index in (4, 9) and links:
            httpx.get(links[-1], headers=SCANNER)


def shoot(page: Page, base: str, email_id: int, draft_id: int) -> None:
    """Every screenshot, wide then phone."""
    sign_in(page, base, USER, PASSWORD)
    page.wait_for_url(f"{base}/emails")
    shots = [
        ("emails-list", "/emails", "table.emails"),
        ("email-editor", f"/emails/{draft_id}/edit", ".preview-subject"),
        ("emails-send", f"/emails/{draft_id}/send", ".recipient-count"),
        ("statistics", f"/emails/{email_id}", ".tdg-badge"),
        ("activities", f"/emails/{email_id}/activities", "tr.activity"),
    ]
    for width, suffix in ((1280, ""), (390, "-phone")):
        for name, path, ready in shots:
            page.set_viewport_size({"width": width, "height": 900 if width > 600 else 844})
            page.goto(base + path)
            if ready == ".tdg-badge":
                page.frame_locator("iframe.clickmap").locator(ready).first.wait_for()
                page.wait_for_timeout(400)  # the chart draws after its data arrives
            else:
                page.locator(ready).first.wait_for()
            if suffix:
                name = "emails-" + name.removeprefix("emails-").removeprefix("email-")
            # Grow the viewport to the whole page: sandboxed frames outside it stay unpainted.
            height = page.evaluate("document.documentElement.scrollHeight")
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_timeout(300)
            page.screenshot(path=str(OUT / f"{name}{suffix}.png"), full_page=True)
            print("wrote", OUT / f"{name}{suffix}.png")


def main() -> None:
    """Run the app, make the data, take the screenshots, stop."""
    with serve_instance(
        "tidings-screens-", seed, mailcatcher=True, mailout_recovery_interval=0.2
    ) as (runtime, base, (email_id, draft_id)):
        wait_sent(runtime)
        interact(runtime)
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            shoot(page, base, email_id, draft_id)
            browser.close()


if __name__ == "__main__":
    main()
