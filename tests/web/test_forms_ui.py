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
