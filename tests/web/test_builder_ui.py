"""The email builder over real HTTP without scripts: every change is a CSRF-protected
form post; bad input is a readable message with the input kept; what marketers write
is escaped or sanitized; a sent email's content is locked."""

from __future__ import annotations

import html as html_lib
import re

import httpx
from sqlalchemy import select

from tests.support import world
from tests.support.admin import Admin, signed_in
from tests.web.conftest import Ui
from tidings.emails.models import Email
from tidings.sending.service import start_mailout


def _create(admin: Admin, list_id: int | str = "", template: str = "newsletter") -> int:
    answer = admin.post(
        "/emails/new/template",
        {
            "template": template,
            "name": "Spring",
            "subject": "Spring news",
            "sender_name": "Acme",
            "sender_address": "news@example.com",
            "recipient_list_id": str(list_id),
        },
    )
    assert answer.status_code == 303, answer.text[:500]
    match = re.fullmatch(r"/emails/(\d+)/builder\?created=1", answer.headers["location"])
    assert match
    return int(match.group(1))


def _email(ui: Ui, email_id: int) -> Email:
    with ui.runtime.session() as session:
        email = session.get(Email, email_id)
        assert email is not None
        session.expunge(email)
        return email


def _keys(ui: Ui, email_id: int, section: str) -> list[str]:
    document = _email(ui, email_id).builder
    assert document is not None
    found = next(s for s in document["sections"] if s["name"] == section)
    return [w["key"] for w in found["widgets"]]


def test_creating_from_a_template_checks_the_form_and_keeps_the_input(ui: Ui) -> None:
    with signed_in(ui, landing="/emails") as admin:
        page = admin.get("/emails/new/template")
        assert page.status_code == 200
        for title in ("Newsletter", "Announcement", "Product offer", "Personal note", "Event"):
            assert title in page.text
        assert page.text.count('sandbox=""') == 5
        refused = admin.post(
            "/emails/new/template",
            {"template": "nope", "name": "<b>Kept</b>", "subject": "", "sender_address": "x"},
        )
        assert refused.status_code == 422
        assert "Subject: must not be empty" in refused.text
        assert "no starter template named &#39;nope&#39;" in refused.text
        assert 'value="&lt;b&gt;Kept&lt;/b&gt;"' in refused.text
        no_csrf = admin.client.post("/emails/new/template", data={"template": "note"})
        assert no_csrf.status_code == 403


def test_widgets_change_through_plain_forms(ui: Ui) -> None:
    with ui.runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=0)
    with signed_in(ui, landing="/emails") as admin:
        email_id = _create(admin, w.list_id, template="note")
        base = f"/emails/{email_id}/builder"
        [letter] = _keys(ui, email_id, "body")

        # Add a text widget: back to the page with its form open.
        added = admin.post(f"{base}/widgets", {"container": "section:body", "type": "text"})
        assert added.status_code == 303
        [key] = set(_keys(ui, email_id, "body")) - {letter}
        assert added.headers["location"] == f"{base}?open={key}#w-{key}"
        page = admin.get(added.headers["location"]).text
        assert f'<li class="widget-card type-text" id="w-{key}"' in page

        # What a marketer writes is sanitized in the document and escaped on the page.
        written = (
            '<p onclick="x()">Hello <script>alert(1)</script><b>world</b> '
            '<a href="javascript:alert(2)">bad</a> <a href="https://e.com/?a=1&b=2">good</a></p>'
        )
        saved = admin.post(f"{base}/widgets/{key}", {"html": written, "align": "center"})
        assert saved.status_code == 303
        stored = _email(ui, email_id)
        widget = next(x for x in stored.builder["sections"][0]["widgets"] if x["key"] == key)  # type: ignore[index]
        assert widget["html"] == (
            '<p>Hello <strong>world</strong> bad <a href="https://e.com/?a=1&amp;b=2">good</a></p>'
        )
        assert widget["align"] == "center"
        assert "alert(" not in stored.html and "onclick" not in stored.html
        page = admin.get(base).text
        assert "<script>alert" not in page

        # A refused change names the field and keeps what was typed.
        image = admin.post(f"{base}/widgets", {"container": "section:body", "type": "image"})
        [image_key] = set(_keys(ui, email_id, "body")) - {letter, key}
        refused = admin.post(
            f"{base}/widgets/{image_key}",
            {"src": "https://e.com/new.png", "alt": " ", "link": "", "width": "", "align": "left"},
        )
        assert image.status_code == 303 and refused.status_code == 422
        assert "Not saved: builder.sections[0].widgets[2].alt: is required" in refused.text
        assert 'value="https://e.com/new.png"' in refused.text

        # Up and down without scripts; at the top of a section a widget goes to the one before.
        assert _keys(ui, email_id, "body") == [letter, key, image_key]
        assert (
            admin.post(f"{base}/widgets/{image_key}/move", {"direction": "up"}).status_code == 303
        )
        assert _keys(ui, email_id, "body") == [letter, image_key, key]
        admin.post(f"{base}/widgets/{letter}/move", {"direction": "down"})
        assert _keys(ui, email_id, "body") == [image_key, letter, key]
        admin.post(f"{base}/widgets/{image_key}/move", {"direction": "up"})
        assert _keys(ui, email_id, "body") == [image_key, letter, key]  # first of the email
        admin.post(f"{base}/widgets/{key}/move", {"container": "section:footer", "index": "0"})
        assert _keys(ui, email_id, "footer")[0] == key
        bad = admin.post(
            f"{base}/widgets/{key}/move", {"container": "section:nowhere", "index": "0"}
        )
        assert bad.status_code == 422 and "no place named" in bad.text

        # htmx gets the document fragment and the trigger that refreshes the preview.
        fragment = admin.client.post(
            f"{base}/widgets/{key}/delete",
            data={"csrf_token": admin.token},
            headers={"HX-Request": "true"},
        )
        assert fragment.status_code == 200
        assert fragment.headers["HX-Trigger"] == "tdg-builder-changed"
        assert fragment.text.lstrip().startswith('<div id="builder-doc"')
        assert key not in _keys(ui, email_id, "footer")
        preview = admin.get(f"{base}/preview?preview_contact_id=").text
        assert 'sandbox=""' in preview and "Hi Sample," in html_lib.unescape(preview)

        # Each email opens in its own editor; a copy keeps the document.
        assert (
            admin.get(f"/emails/{email_id}/edit", follow_redirects=False).headers["location"]
            == base
        )
        copied = admin.post(f"/emails/{email_id}/copy")
        copy_id = int(copied.headers["location"].split("/")[2])
        assert _email(ui, copy_id).builder == _email(ui, email_id).builder
        html_email = admin.get(f"/emails/{w.email_id}/builder", follow_redirects=False)
        assert html_email.headers["location"] == f"/emails/{w.email_id}/edit"


def test_a_sent_builder_email_is_locked(ui: Ui) -> None:
    with ui.runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=0)
    with signed_in(ui, landing="/emails") as admin:
        email_id = _create(admin, w.list_id, template="event")
        with ui.runtime.session() as session:
            start_mailout(session=session, email_id=email_id)
        page = admin.get(f"/emails/{email_id}/builder").text
        assert "Content locked." in page
        assert "/builder/widgets" not in page and "data-draggable" not in page
        before = _email(ui, email_id).html
        refused = admin.post(
            f"/emails/{email_id}/builder/widgets", {"container": "section:hero", "type": "text"}
        )
        assert refused.status_code == 409
        assert "cannot change" in refused.text
        assert _email(ui, email_id).html == before
        renamed = admin.post(
            f"/emails/{email_id}/builder/settings",
            {
                "name": "Renamed",
                "subject": _email(ui, email_id).subject,
                "sender_name": "Acme",
                "sender_address": "news@example.com",
                "recipient_list_id": str(w.list_id),
            },
        )
        assert renamed.status_code == 303
        with ui.runtime.session() as session:
            assert session.scalar(select(Email.name).where(Email.id == email_id)) == "Renamed"


def test_builder_pages_need_a_session(ui: Ui) -> None:
    with httpx.Client(base_url=ui.url) as anonymous:
        answer = anonymous.get("/emails/new/template", follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
