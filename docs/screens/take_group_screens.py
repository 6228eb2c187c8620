"""Regenerate the screenshots of the contact group pages.

Run from the repository root (needs Debian's chromium at /usr/bin/chromium):

    .venv/bin/python docs/screens/take_group_screens.py [--out docs/screens]

It builds a throw-away embedded instance (SQLite in a temporary directory), loads the
demo contacts, records clicks and opens as the tracker would for consenting contacts,
then drives chromium through the pages at 1280 px: the empty list, the list, the
builder with a nested condition and its live count, a group page with members just
rebuilt; and the builder and a group page at 390 px, like a phone.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from instance import CHROMIUM, CHROMIUM_ARGS, serve_instance, sign_in
from sqlalchemy import select

from tidings import demo
from tidings.activities.models import Activity
from tidings.auth.service import create_user
from tidings.consent.models import ConsentAgreement
from tidings.emails import service as emails
from tidings.groups import service as groups
from tidings.runtime import Runtime

USER, PASSWORD = "marketing@example.com", "screens-password"
OCTOBER_HTML = """<html><body><h1>October news</h1>
<p><a href="https://example.com/pricing?utm_campaign=october">Our pricing</a></p>
<p><a href="https://example.com/webinar">Join the webinar</a></p></body></html>"""


def _seed(runtime: Runtime) -> dict[str, int]:
    """Demo contacts and email, an October email, and activities of consenting contacts."""
    now = datetime.now(UTC)
    with runtime.session() as session:
        result = demo.seed(session=session, send=False)
        create_user(session=session, email=USER, password=PASSWORD)
        october = emails.create(
            session=session,
            name="October newsletter",
            subject="October news",
            html=OCTOBER_HTML,
            sender_name="Example Widgets",
            sender_address="news@example.com",
            recipient_list_id=result.list_id,
        )
        consenting = sorted(session.scalars(select(ConsentAgreement.contact_id)))
        links = [
            link
            for email_id in (result.email_id, october.id)
            for link in emails.links(session=session, email_id=email_id)
        ]
        for index, contact_id in enumerate(consenting):
            clicked = [links[index % len(links)]]
            if index % 2:
                clicked.append(links[(index + 2) % len(links)])
            for offset, link in enumerate(clicked):
                when = now - timedelta(days=2 + index + offset * 5, minutes=7 * index)
                for kind, at, value in (
                    ("email_open", when - timedelta(minutes=3), None),
                    ("email_click", when, link.url),
                ):
                    session.add(
                        Activity(
                            contact_id=contact_id,
                            type=kind,
                            email_id=link.email_id,
                            link_id=link.id if value else None,
                            value=value,
                            occurred_at=at,
                        )
                    )
        return {"november": result.email_id, "october": october.id, "list": result.list_id}


def _groups(runtime: Runtime, ids: dict[str, int]) -> dict[str, int]:
    """A few groups, one depending on another."""
    pricing = {
        "type": "clicked_email",
        "email_id": ids["november"],
        "url_contains": "/pricing",
        "within_days": 30,
    }
    made: dict[str, int] = {}
    with runtime.session() as session:
        for name, condition in (
            ("Pricing interest", pricing),
            (
                "Customers",
                {"type": "field", "field": "company", "op": "eq", "value": "Example Widgets"},
            ),
            (
                "Engaged readers",
                {
                    "any": [
                        {"type": "opened_email", "within_days": 30, "min_count": 2},
                        {"type": "clicked_email", "email_id": ids["october"]},
                    ]
                },
            ),
        ):
            made[name] = groups.create(session=session, name=name, condition=condition)[0].id
        made["Not yet engaged"] = groups.create(
            session=session,
            name="Not yet engaged",
            condition={
                "all": [
                    {"type": "in_list", "list_id": ids["list"]},
                    {"not": {"type": "in_group", "group_id": made["Engaged readers"]}},
                ]
            },
        )[0].id
    return made


def _warm_leads(ids: dict[str, int], customers: int) -> dict[str, Any]:
    return {
        "all": [
            {
                "type": "clicked_email",
                "email_id": ids["november"],
                "url_contains": "/pricing",
                "within_days": 30,
            },
            {
                "any": [
                    {"type": "opened_email", "email_id": ids["october"]},
                    {"type": "consent", "code_name": "tracking"},
                ]
            },
            {"not": {"type": "in_group", "group_id": customers}},
        ]
    }


def take(out: Path) -> None:
    """Build the instance and write every screenshot into ``out``."""
    import json

    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with serve_instance("tidings-group-screens-", _seed) as (runtime, base, ids):
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            desk = browser.new_context(viewport={"width": 1280, "height": 860})
            page = desk.new_page()
            _sign_in(page, base)
            _shot(page, f"{base}/contact-groups", out / "groups-empty.png")
            made = _groups(runtime, ids)
            _shot(page, f"{base}/contact-groups", out / "groups.png")
            warm = json.dumps(_warm_leads(ids, made["Customers"]))
            _builder(page, base, warm, out / "groups-builder.png")
            page.goto(f"{base}/contact-groups/{made['Pricing interest']}")
            page.click("button:text('Rebuild now')")  # the flash shows the time it took
            page.wait_for_load_state("networkidle")
            page.screenshot(path=out / "groups-detail.png", full_page=True)
            desk.close()
            phone = browser.new_context(
                viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True
            )
            mobile = phone.new_page()
            _sign_in(mobile, base)
            _builder(mobile, base, warm, out / "groups-builder-phone.png")
            _shot(
                mobile,
                f"{base}/contact-groups/{made['Pricing interest']}",
                out / "groups-detail-phone.png",
            )
            phone.close()
            browser.close()


def _sign_in(page: Any, base: str) -> None:
    sign_in(page, base, USER, PASSWORD)


def _shot(page: Any, url: str, path: Path) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=path, full_page=True)


def _builder(page: Any, base: str, condition: str, path: Path) -> None:
    """The editor of a new group: the nested condition typed in the Advanced box drawn
    by the builder, then the live count settled."""
    page.goto(f"{base}/contact-groups/new")
    page.fill("input[name=name]", "Warm leads")
    page.click("summary")
    page.fill("textarea[name=condition_json]", condition)
    for _ in range(100):
        if page.evaluate("document.querySelectorAll('#builder .cond-row').length") == 4:
            break
        page.wait_for_timeout(100)
    page.click("summary")  # close the Advanced box again
    for _ in range(100):
        if page.evaluate(
            "!!document.querySelector('#live-count .count') && "
            "!document.querySelector('#live-count.pending')"
        ):
            break
        page.wait_for_timeout(100)
    page.screenshot(path=path, full_page=True)


def main() -> None:
    """Parse arguments and take the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    take(parser.parse_args().out)


if __name__ == "__main__":
    main()
