"""Regenerate the email builder screenshots in docs/screens/: choosing a starter
template, the builder with its preview at desktop and phone widths, and every starter
template as a recipient sees it on a desktop and on a phone.

    .venv/bin/python docs/screens/take_builder_screens.py [OUTPUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

from instance import CHROMIUM, CHROMIUM_ARGS, serve_instance, sign_in
from playwright.sync_api import sync_playwright

from tidings import demo
from tidings.assembly.bootstrap import ensure_defaults
from tidings.auth.service import create_user
from tidings.emails import builder, rendering
from tidings.emails import widgets as email_widgets
from tidings.emails.builder import starters
from tidings.runtime import Runtime

OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
USER, PASSWORD = "demo@example.com", "tidings-demo"


def _seed(runtime: Runtime) -> None:
    with runtime.session() as session:
        ensure_defaults(session)
        demo.seed(session=session)
        create_user(session=session, email=USER, password=PASSWORD)


def _sample(base: str, name: str) -> str:
    """A starter template rendered for a sample contact, as a recipient gets it."""
    compiled = builder.compile_document(starters.starter(name, base).document)
    prepared, prepared_widgets, _ = email_widgets.prepare(
        compiled.html, compiled.widgets, compiled.widget_texts
    )
    email = rendering.compile_email(
        subject="Sample", prepared_html=prepared, plain_text=compiled.text, widgets=prepared_widgets
    )
    return rendering.render_preview(email, dict(rendering.SAMPLE_CONTACT)).html


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with (
        serve_instance("tidings-builder-screens-", _seed) as (_runtime, base, _),
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 1000})
        sign_in(page, base, USER, PASSWORD)
        page.goto(f"{base}/emails/new/template")
        page.wait_for_timeout(500)
        page.screenshot(path=str(OUT / "builder-templates.png"), full_page=True)

        page.fill("input[name=name]", "May newsletter")
        page.fill("input[name=subject]", "What is new at Acme, {{ contact.first_name }}")
        page.fill("input[name=sender_name]", "Acme")
        page.fill("input[name=sender_address]", "news@example.com")
        page.click("button:text('Create email')")
        page.wait_for_url("**/builder?created=1")
        page.wait_for_timeout(500)
        page.screenshot(path=str(OUT / "builder.png"))
        page.click("#w-intro .widget-edit > summary")
        page.wait_for_timeout(200)
        page.screenshot(path=str(OUT / "builder-editing.png"))
        page.click("button[data-preview-width=phone]")
        page.wait_for_timeout(400)
        page.screenshot(path=str(OUT / "builder-phone-preview.png"))

        phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
        sign_in(phone, base, USER, PASSWORD)
        phone.goto(page.url)
        phone.screenshot(path=str(OUT / "builder-phone.png"), full_page=True)
        phone.close()

        for name in starters.NAMES:
            html = _sample(base, name)
            for label, width in (("desktop", 760), ("phone", 375)):
                view = browser.new_page(viewport={"width": width, "height": 900})
                view.set_content(html)
                view.wait_for_load_state("networkidle")
                view.screenshot(path=str(OUT / f"template-{name}-{label}.png"), full_page=True)
                view.close()
        browser.close()


if __name__ == "__main__":
    main()
