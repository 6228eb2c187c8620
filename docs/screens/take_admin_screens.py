"""Regenerate the admin screenshots of contacts, consents, lists, inbox, settings and login.

Run from the repository root (needs Debian's chromium at /usr/bin/chromium):

    .venv/bin/python docs/screens/take_admin_screens.py [--out docs/screens]

It builds a throw-away embedded instance (SQLite in a temporary directory, the
built-in mail catcher, in-process workers), loads the demo data, sends the demo
email, clicks a few tracked links as the recipients would, then drives chromium
through the pages at 1280 px (and the contact page at 390 px, like a phone).
"""

from __future__ import annotations

import argparse
import re
import time
from email import message_from_bytes, policy
from pathlib import Path

import httpx
from instance import CHROMIUM, CHROMIUM_ARGS, serve_instance, sign_in
from sqlalchemy import func, select

from tidings import demo
from tidings.auth.service import create_api_key, create_user
from tidings.consent import service as consent
from tidings.contacts import service as contacts
from tidings.lists import service as lists
from tidings.mailcatcher.models import CaughtMessage
from tidings.runtime import Runtime

USER, PASSWORD = "marketing@example.com", "screens-password"
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/150.0 Safari/537.36"
IMPORT_CSV = (
    "Email,First Name,Last Name,Company,City\n"
    "ada.lovelace@example.com,Ada,Lovelace,Analytical Engines,London\n"
    "nina.simone@example.com,Nina,Simone,Example Records,Tryon\n"
    "not-an-address,Bad,Row,,\n"
    ",No,Email,Acme,\n"
    "miles.davis@example.com,Miles,Davis,Example Records,Alton\n"
    "nina.simone@example.com,Nina,Again,,\n"
    "john.coltrane@example.com,John,Coltrane,,Hamlet\n"
)


def _seed(runtime: Runtime) -> int:
    """Demo data plus a few extras; returns Ada's contact id."""
    with runtime.session() as session:
        demo.seed(session=session)
        create_user(session=session, email=USER, password=PASSWORD)
        create_user(session=session, email="analyst@example.com", password=PASSWORD)
        create_api_key(session=session, name="Website forms")
        revoked, _ = create_api_key(session=session, name="Old CRM sync")
        from tidings.auth.service import revoke_api_key

        revoke_api_key(session=session, key_id=revoked.id)
        profile, _ = consent.create_consent(
            session=session,
            code_name="product_profile",
            display_name="Product interest profile",
            text="I agree that Example Widgets builds a profile of the products I look at.",
        )
        consent.update_text(
            session=session,
            consent=profile,
            text="I agree that Example Widgets builds a profile of the products I look at "
            "on its website and in its emails, to show me relevant offers. I can withdraw "
            "this at any time from the preference page.",
        )
        ada = contacts.find_by_email(session=session, email="ada.lovelace@example.com")
        assert ada is not None
        contacts.update(
            session=session,
            contact=ada,
            fields={"company": "Analytical Engines", "city": "London", "plan": "pro"},
        )
        updates = lists.create_list(session=session, name="Product updates")
        lists.subscribe(session=session, list_id=updates.id, contact_id=ada.id, source="form")
        lists.unsubscribe(session=session, list_id=updates.id, contact_id=ada.id, source="email")
        consent.agree(
            session=session, contact_id=ada.id, code_name="product_profile", source="website"
        )
        return ada.id


def _click_links(runtime: Runtime, base: str) -> None:
    """Wait for the demo mailout to reach the catcher, then click like recipients do."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with runtime.session() as session:
            caught = session.scalar(select(func.count()).select_from(CaughtMessage)) or 0
        if caught >= len(demo.PEOPLE):
            break
        time.sleep(0.2)
    with runtime.session() as session:
        raws = list(session.scalars(select(CaughtMessage.raw).order_by(CaughtMessage.id)))
    pattern = re.compile(re.escape(base) + r"/t/c/[A-Za-z0-9_-]+")
    for index, raw in enumerate(raws):
        body = message_from_bytes(raw, policy=policy.default).get_body(("html",))
        html = body.get_content() if body is not None else ""  # type: ignore[union-attr]
        links = pattern.findall(html)
        for link in links[: 1 + index % 3]:
            httpx.get(link, headers={"User-Agent": BROWSER_UA}, follow_redirects=False)
            time.sleep(0.05)


def take(out: Path) -> None:
    """Build the instance and write every screenshot into ``out``."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with serve_instance(
        "tidings-screens-", _seed, mailcatcher=True, mailout_recovery_interval=0.2
    ) as (runtime, base, ada_id):
        _click_links(runtime, base)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            _shoot(browser, base, out, ada_id)
            browser.close()


def _shoot(browser: object, base: str, out: Path, ada_id: int) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 860})  # type: ignore[attr-defined]
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{base}/login")
    page.screenshot(path=out / "login.png")
    sign_in(page, base, USER, PASSWORD)

    def shot(path: str, name: str, full: bool = True) -> None:
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=out / name, full_page=full)

    shot("/contacts", "contacts.png")
    shot("/contacts?q=ada", "contacts-search.png")
    shot(f"/contacts/{ada_id}", "contact.png")
    shot("/consents", "consents.png")
    shot("/lists", "lists.png")
    page.goto(f"{base}/lists")
    page.click("text=Demo newsletter readers")
    page.wait_for_load_state()
    page.screenshot(path=out / "lists-detail.png", full_page=True)
    page.set_input_files(
        "input[name=file]",
        {"name": "new-readers.csv", "mimeType": "text/csv", "buffer": IMPORT_CSV.encode()},
    )
    page.click("#import button[type=submit]")
    page.wait_for_selector("#import-progress[data-status=finished]", timeout=30_000)
    page.screenshot(path=out / "lists-import.png", full_page=True)
    shot("/inbox", "inbox.png")
    page.goto(f"{base}/inbox")
    page.click("table.inbox tbody tr:last-child a")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=out / "inbox-message.png", full_page=True)
    shot("/settings", "settings.png")
    page.goto(f"{base}/settings/api-keys")
    page.fill("input[name=name]", "Zapier integration")
    page.click("#api-keys button[type=submit]")
    page.wait_for_load_state()
    page.screenshot(path=out / "settings-api-keys.png", full_page=True)
    context.close()

    phone = browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True
    )
    mobile = phone.new_page()
    sign_in(mobile, base, USER, PASSWORD)
    mobile.goto(f"{base}/contacts/{ada_id}")
    mobile.wait_for_load_state("networkidle")
    mobile.screenshot(path=out / "contacts-detail-phone.png", full_page=True)
    phone.close()


def main() -> None:
    """Parse arguments and take the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    take(parser.parse_args().out)


if __name__ == "__main__":
    main()
