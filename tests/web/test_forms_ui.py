"""The Forms screens: list with counts, create, edit with preview and embed codes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.support.admin import signed_in
from tests.web.conftest import Ui, sign_in
from tidings.consent import service as consents
from tidings.forms.models import Form
from tidings.lists import service as lists

SHOTS = Path(__file__).parents[2] / "tests-screenshots"


def _setup(ui: Ui) -> int:
    with ui.runtime.session() as session:
        consents.ensure_tracking_consent(session=session)
        return lists.create_list(session=session, name="News").id


def test_create_and_edit_a_form(ui: Ui) -> None:
    list_id = _setup(ui)
    with signed_in(ui) as admin:
        created = admin.post("/forms", {"name": "Sign-up", "recipient_list_id": str(list_id)})
        assert created.status_code == 303
        path = created.headers["location"]
        editor = admin.get(path).text
        assert "Embed it" in editor and "?embed=1" in editor and "consent_tracking" in editor
        form_id = int(path.rsplit("/", 1)[1])
        saved = admin.post(
            path,
            {
                "name": "Sign-up <b>",
                "recipient_list_id": str(list_id),
                "title": "Join us",
                "fields": "first_name company",
                "consent_codes": "tracking",
                "accent_color": "#aa3300",
                "font": "serif",
                "radius": "12",
                "allowed_origins": "https://shop.example.com",
            },
        )
        assert saved.status_code == 303
        bad = admin.post(
            path, {"name": "x", "recipient_list_id": str(list_id), "accent_color": "red"}
        )
        assert "accent_color" in admin.flash(bad)
        listing = admin.get("/forms").text
        assert "Sign-up &lt;b&gt;" in listing and "<b>" not in listing.split("<main")[1]
    with ui.runtime.session() as session:
        form = session.get(Form, form_id)
        assert form is not None
        assert (form.title, form.fields, form.double_opt_in) == (
            "Join us",
            ["first_name", "company"],
            False,  # the box was not ticked in this post
        )
        assert form.allowed_origins == "https://shop.example.com"


def test_editor_screenshot(ui: Ui, page: Any) -> None:
    list_id = _setup(ui)
    with signed_in(ui) as admin:
        path = admin.post("/forms", {"name": "Sign-up", "recipient_list_id": str(list_id)}).headers[
            "location"
        ]
    sign_in(page, ui)
    page.goto(ui.url + path)
    page.wait_for_selector("iframe")
    assert re.search("Subscribe to News", page.frame_locator("iframe").locator("h1").inner_text())
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "forms-editor.png"), full_page=True)
    page.goto(ui.url + "/forms")
    page.screenshot(path=str(SHOTS / "forms-list.png"), full_page=True)


def test_consent_records_read_by_an_auditor(ui: Ui) -> None:
    from tidings.contacts import service as contacts

    list_id = _setup(ui)
    with ui.runtime.session() as session:
        ann = contacts.create(session=session, email="ann@example.com")
        tracking = consents.require(session=session, code_name="tracking")
        consents.agree(session=session, contact_id=ann.id, code_name="tracking", source="form:7")
        consents.update_text(session=session, consent=tracking, text="=Second text")
        consents.revoke(
            session=session, contact_id=ann.id, code_name="tracking", source="preferences"
        )
        consents.agree(session=session, contact_id=ann.id, code_name="tracking", source="api")
        ann_id, consent_id = ann.id, tracking.id
    assert list_id
    with signed_in(ui) as admin:
        csv_text = admin.get(f"/consents/{consent_id}/agreements.csv").text
        lines = csv_text.strip().splitlines()
        assert lines[0].startswith("contact_id,email,version,text,given_at,source")
        assert len(lines) == 3 and ",form:7," in lines[1] and "preferences" in lines[1]
        assert ",'=Second text," in lines[2]  # never read as a formula
        detail = admin.get(f"/consents/{consent_id}").text
        assert re.search(r"<strong>1</strong> contact agrees now", detail)
        contact_page = admin.get(f"/contacts/{ann_id}").text
        assert '<a href="/forms/7">form:7</a>' in contact_page and "=Second text" in contact_page
