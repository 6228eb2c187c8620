"""The Forms screens: list with counts, create, edit with preview and embed codes."""

from __future__ import annotations

import html
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


def _editor_fields(list_id: int | str, **changes: str) -> dict[str, str]:
    return {"name": "Sign-up", "recipient_list_id": str(list_id), **changes}


def test_preview_shows_unsaved_fields_and_saves_nothing(ui: Ui) -> None:
    list_id = _setup(ui)
    with signed_in(ui) as admin:
        path = admin.post("/forms", {"name": "Sign-up", "recipient_list_id": str(list_id)}).headers[
            "location"
        ]
        form_id = int(path.rsplit("/", 1)[1])
        preview = path + "/preview"
        answer = admin.post(
            preview,
            _editor_fields(
                list_id,
                title="Join <script>alert(1)</script>",
                fields="first_name company",
                button_label="Count me in",
                accent_color="#aa3300",
            ),
        )
        assert answer.status_code == 200
        frame = re.search(r'<iframe id="preview-frame"[^>]* sandbox srcdoc="([^"]*)"', answer.text)
        assert frame, answer.text
        inner = html.unescape(frame.group(1))
        assert "Join &lt;script&gt;alert(1)&lt;/script&gt;" in inner and "<script" not in inner
        assert 'name="company"' in inner and "Count me in" in inner and "#aa3300" in inner
        assert 'name="consent_tracking"' not in inner  # no consent ticked in this post
        assert 'name="page_token" value=""' in inner  # a preview cannot be posted
        # What is wrong is said, and the saved page stays in view.
        bad = admin.post(preview, _editor_fields(list_id, accent_color="red", fields="email"))
        assert bad.status_code == 200 and 'role="alert"' in bad.text
        assert "accent_color" in bad.text and 'src="/f/' in bad.text
        for hostile in (
            _editor_fields("x", radius="9" * 50),
            _editor_fields(list_id, consent_codes="nope\x00"),
            _editor_fields(list_id, allowed_origins="javascript:alert(1)"),
            _editor_fields(list_id, name=" "),
            _editor_fields(list_id, recipient_list_id="99999999999999999999999"),
        ):
            refused = admin.post(preview, hostile)
            assert refused.status_code in (200, 422), refused.text[:300]
            assert 'role="alert"' in refused.text or refused.status_code == 422
        # Without the CSRF token: refused; an unknown form: 404.
        assert admin.client.post(preview, data=_editor_fields(list_id)).status_code == 403
        assert admin.post("/forms/987654/preview", _editor_fields(list_id)).status_code == 404
    with ui.runtime.session() as session:
        form = session.get(Form, form_id)
        assert form is not None
        assert (form.title, form.fields, form.button_label) == (
            "Subscribe to News",
            [],
            "Subscribe",
        )
        assert form.accent_color == "#2f5bd3"


def test_editor_preview_follows_typing(ui: Ui, page: Any) -> None:
    list_id = _setup(ui)
    with signed_in(ui) as admin:
        path = admin.post("/forms", {"name": "Sign-up", "recipient_list_id": str(list_id)}).headers[
            "location"
        ]
    sign_in(page, ui)
    page.goto(ui.url + path)
    frame = page.frame_locator("#preview-frame")
    assert re.search("Subscribe to News", frame.locator("h1").inner_text())
    # Typing changes the preview without saving: debounced, one request per pause.
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if r.url.endswith("/preview") else None)
    page.locator("input[name=title]").press_sequentially("!!", delay=20)
    page.fill("input[name=title]", "Our autumn letter")
    page.fill("input[name=fields]", "first_name company")
    page.uncheck("input[name=consent_codes][value=tracking]")
    frame.locator("h1", has_text="Our autumn letter").wait_for()
    frame.locator("input[name=company]").wait_for()
    assert frame.locator("input[name=consent_tracking]").count() == 0
    assert 1 <= len(requests) <= 3
    page.fill("input[name=radius]", "99")
    page.wait_for_selector("#preview-error")
    assert "radius" in page.locator("#preview-error").inner_text()
    page.fill("input[name=radius]", "12")
    page.wait_for_selector("#preview-error", state="detached")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "forms-editor.png"), full_page=True)
    page.locator("#preview").screenshot(path=str(SHOTS / "forms-editor-preview.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SHOTS / "forms-editor-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    # Saving (a plain post) keeps what was typed; the page then shows it as saved.
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=The form is saved")
    assert frame.locator("h1").inner_text() == "Our autumn letter"
    page.goto(ui.url + "/forms")
    page.screenshot(path=str(SHOTS / "forms-list.png"), full_page=True)
    page.goto(ui.url + "/forms")
    page.screenshot(path=str(SHOTS / "forms-list.png"), full_page=True)


def test_consent_records_read_by_an_auditor(ui: Ui) -> None:
    from tidings.contacts import service as contacts

    list_id = _setup(ui)
    with ui.runtime.session() as session:
        ann = contacts.create(session=session, email="ann@example.com")
        tracking = consents.require(session=session, code_name="tracking")
        consents.agree(
            session=session,
            contact_id=ann.id,
            code_name="tracking",
            source="form:7",
            source_url="https://shop.example.com/join",
        )
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
        assert lines[0].startswith("contact_id,email,version,text,given_at,source,source_url")
        assert len(lines) == 3 and ",form:7,https://shop.example.com/join," in lines[1]
        assert "preferences" in lines[1]
        assert ",'=Second text," in lines[2]  # never read as a formula
        detail = admin.get(f"/consents/{consent_id}").text
        # Per version: how many agree to it now, how many agreements it was given.
        per_version = re.findall(
            r"<strong>(\d+)</strong> contacts? agrees? now · (\d+) agreements? given", detail
        )
        assert sorted(per_version) == [("0", "1"), ("1", "1")]
        contact_page = admin.get(f"/contacts/{ann_id}").text
        assert '<a href="/forms/7">form:7</a>' in contact_page and "=Second text" in contact_page
        assert "on https://shop.example.com/join" in contact_page
