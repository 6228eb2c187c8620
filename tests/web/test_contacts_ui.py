"""Contacts pages over real HTTP: search, create, detail, consents, lists, timeline,
export, erase; and in chromium: hostile names stay inert, forms need the CSRF token."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.admin import signed_in
from tests.web.conftest import Ui, sign_in
from tidings.activities.models import Activity
from tidings.consent import service as consent
from tidings.contacts import service as contacts
from tidings.lists import service as lists

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
HOSTILE = '"><script>alert(1)</script>'


def test_search_paging_and_empty_state(ui: Ui) -> None:
    with signed_in(ui) as admin:
        empty = admin.get("/contacts")
        assert empty.status_code == 200 and "No contacts yet" in empty.text
        with ui.runtime.session() as session:
            for i in range(60):
                contacts.create(
                    session=session,
                    email=f"user{i:02d}@example.com",
                    first_name=f"First{i:02d}",
                    last_name="Tester",
                )
            contacts.create(
                session=session, email="ada@example.com", first_name="Ada", last_name="Lovelace"
            )
        first = admin.get("/contacts")
        assert "61 contacts" in first.text
        assert first.text.count('href="/contacts/') - first.text.count('href="/contacts/new') == 50
        assert "ada@example.com" in first.text  # newest first
        older = re.search(r'href="/contacts\?before=(\d+)">Older', first.text)
        assert older
        second = admin.get(f"/contacts?before={older.group(1)}")
        assert "user00@example.com" in second.text and "ada@example.com" not in second.text
        assert "Newest" in second.text and "Older" not in second.text
        by_name = admin.get("/contacts", params={"q": "ada lovelace"})
        assert "ada@example.com" in by_name.text and "1 contact " in by_name.text
        by_email = admin.get("/contacts", params={"q": "USER0"})
        assert "10 contacts" in by_email.text
        none = admin.get("/contacts", params={"q": "100%_\\"})
        assert none.status_code == 200 and "No contact matches" in none.text
        bad = admin.get("/contacts", params={"before": "abc"})
        assert bad.status_code == 422 and "<html" in bad.text


def test_create_contact_form(ui: Ui) -> None:
    with ui.runtime.session() as session:
        list_id = lists.create_list(session=session, name="Weekly").id
    with signed_in(ui) as admin:
        assert "New contact" in admin.get("/contacts/new").text
        invalid = admin.post("/contacts", {"email": "not an address"})
        assert invalid.status_code == 422 and "not valid" in invalid.text
        bad_fields = admin.post("/contacts", {"email": "a@example.com", "fields": "no colon"})
        assert bad_fields.status_code == 422 and "line 1" in bad_fields.text
        made = admin.post(
            "/contacts",
            {
                "email": " Ada@Example.com ",
                "first_name": "Ada",
                "last_name": "",
                "fields": "company: Engines\ncity: London",
                "list_id": str(list_id),
            },
        )
        assert admin.flash(made) == "The contact was created."
        page = admin.get(made.headers["location"]).text
        assert "ada@example.com" in page and "Engines" in page and "Weekly" in page
        again = admin.post("/contacts", {"email": "ada@example.com"})
        assert again.status_code == 422 and "exists" in again.text
    with ui.runtime.session() as session:
        ada = contacts.find_by_email(session=session, email="ada@example.com")
        assert ada is not None and ada.fields == {"company": "Engines", "city": "London"}
        assert ada.last_name is None
        sub = lists.subscription(session=session, list_id=list_id, contact_id=ada.id)
        assert sub is not None and sub.source == "admin"


def _contact_with_activity(ui: Ui, count: int = 3) -> int:
    now = datetime.now(UTC)
    with ui.runtime.session() as session:
        contact = contacts.create(
            session=session,
            email="eve@example.com",
            first_name="Eve",
            fields={"score": 7, "note": "<b>bold</b>"},
        )
        consent.agree(
            session=session, contact_id=contact.id, code_name="tracking", source="website"
        )
        tracking = consent.require(session=session, code_name="tracking")
        values = ["https://example.com/a?x=1&y=2", "javascript:alert(1)", HOSTILE]
        for i in range(count):
            session.add(
                Activity(
                    contact_id=contact.id,
                    type="email_click",
                    value=values[i % 3],
                    consent_id=tracking.id,
                    occurred_at=now - timedelta(minutes=i),
                )
            )
        return contact.id


def test_detail_fields_timeline_and_links(ui: Ui) -> None:
    contact_id = _contact_with_activity(ui, count=30)
    with signed_in(ui) as admin:
        html = admin.get(f"/contacts/{contact_id}").text
        assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html
        assert ">score</dt><dd>7</dd>" in html
        assert (
            '<a class="url" href="https://example.com/a?x=1&amp;y=2" '
            'rel="noopener noreferrer" target="_blank">'
        ) in html
        assert 'href="javascript' not in html
        assert '<span class="url">javascript:alert(1)</span>' in html
        assert HOSTILE not in html and "&#34;&gt;&lt;script&gt;" in html
        assert "Email tracking" in html and "website" in html and "agreed" in html
        assert html.count('data-label="Value"') == 25
        cursor = re.search(r'\?cursor=([^"#]+)#activity">Older', html)
        assert cursor
        older = admin.get(f"/contacts/{contact_id}?cursor={cursor.group(1)}").text
        assert older.count('data-label="Value"') == 5
        assert "Older &rarr;" not in older
        broken = admin.get(f"/contacts/{contact_id}?cursor=not-a-cursor")
        assert broken.status_code == 422 and "cursor" in broken.text
        assert admin.get("/contacts/999999").status_code == 404


def test_agree_revoke_unsubscribe_resubscribe(ui: Ui) -> None:
    contact_id = _contact_with_activity(ui, count=3)
    with ui.runtime.session() as session:
        list_id = lists.create_list(session=session, name="Monthly").id
        lists.subscribe(session=session, list_id=list_id, contact_id=contact_id)
        tracking_id = consent.require(session=session, code_name="tracking").id
        profile, _ = consent.create_consent(
            session=session, code_name="profile", display_name="Profile", text="v1"
        )
        profile_id = profile.id
    with signed_in(ui) as admin:
        html = admin.get(f"/contacts/{contact_id}").text
        assert "the 3 tracked activities recorded under it will be deleted" in html
        revoked = admin.post(f"/contacts/{contact_id}/consents/{tracking_id}/revoke")
        assert admin.flash(revoked) == "Email tracking revoked; 3 tracked activities deleted."
        agreed = admin.post(f"/contacts/{contact_id}/consents/{profile_id}/agree")
        assert admin.flash(agreed) == "Agreement to Profile recorded."
        html = admin.get(f"/contacts/{contact_id}").text
        assert "No activity recorded" in html
        assert html.count('<span class="badge bad">revoked</span>') == 1
        assert "History (3 events)" in html
        out = admin.post(f"/contacts/{contact_id}/lists/{list_id}/unsubscribe")
        assert admin.flash(out) == "Unsubscribed from the list."
        back = admin.post(f"/contacts/{contact_id}/lists", {"list_id": str(list_id)})
        assert admin.flash(back) == "Subscribed to the list."
        no_list = admin.post(f"/contacts/{contact_id}/lists", {"list_id": ""})
        assert admin.flash(no_list) == "Choose a list first."
        assert admin.post(f"/contacts/{contact_id}/consents/99999/agree").status_code == 404
    with ui.runtime.session() as session:
        assert (
            consent.active_agreement(session=session, contact_id=contact_id, consent_id=tracking_id)
            is None
        )
        sub = lists.subscription(session=session, list_id=list_id, contact_id=contact_id)
        assert sub is not None and sub.status == "subscribed"


def test_edit_contact(ui: Ui) -> None:
    contact_id = _contact_with_activity(ui, count=0)
    with signed_in(ui) as admin:
        saved = admin.post(
            f"/contacts/{contact_id}/edit",
            {"first_name": "Evelyn", "last_name": "", "fields": "score: 7\ncity: Rome"},
        )
        assert admin.flash(saved) == "The contact was saved."
        bad = admin.post(f"/contacts/{contact_id}/edit", {"first_name": "x" * 201})
        assert bad.status_code == 422 and "200 characters" in bad.text
    with ui.runtime.session() as session:
        eve = contacts.get(session=session, contact_id=contact_id)
        assert eve.first_name == "Evelyn" and eve.last_name is None
        assert eve.fields == {"score": 7, "city": "Rome"}  # unchanged values keep their type


def test_export_download(ui: Ui) -> None:
    contact_id = _contact_with_activity(ui, count=2)
    with signed_in(ui) as admin:
        answer = admin.get(f"/contacts/{contact_id}/export")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/json")
        assert answer.headers["content-disposition"] == (
            f'attachment; filename="contact-{contact_id}.json"'
        )
        data = json.loads(answer.text)
        assert data["contact"]["email"] == "eve@example.com"
        assert len(data["activities"]) == 2
        assert data["consent_agreements"][0]["consent"] == "tracking"


def test_erase_needs_the_address_typed(ui: Ui) -> None:
    contact_id = _contact_with_activity(ui, count=2)
    with signed_in(ui) as admin:
        confirm = admin.get(f"/contacts/{contact_id}/erase").text
        assert "Erase eve@example.com?" in confirm
        wrong = admin.post(f"/contacts/{contact_id}/erase", {"confirm_email": "eve@example.org"})
        assert wrong.status_code == 422 and "Type the contact" in wrong.text
        assert admin.get(f"/contacts/{contact_id}").status_code == 200
        erased = admin.post(f"/contacts/{contact_id}/erase", {"confirm_email": " EVE@example.com"})
        assert erased.headers["location"] == "/contacts"
        assert admin.flash(erased).startswith("The contact was erased.")
        assert admin.get(f"/contacts/{contact_id}").status_code == 404
        assert (
            admin.post(
                f"/contacts/{contact_id}/erase", {"confirm_email": "eve@example.com"}
            ).status_code
            == 404
        )


def test_every_form_post_needs_the_csrf_token(ui: Ui) -> None:
    contact_id = _contact_with_activity(ui, count=0)
    with signed_in(ui) as admin:
        for path in (
            "/contacts",
            f"/contacts/{contact_id}/edit",
            f"/contacts/{contact_id}/erase",
            f"/contacts/{contact_id}/consents/1/revoke",
            "/lists",
            "/consents",
            "/settings/api-keys",
            "/settings/users",
        ):
            answer = admin.client.post(path, data={"confirm_email": "eve@example.com"})
            assert answer.status_code == 403, path
            assert "CSRF check failed" in answer.text
        assert admin.get(f"/contacts/{contact_id}").status_code == 200


@pytest.mark.browser
def test_hostile_names_stay_inert(ui: Ui, page: Any) -> None:
    with ui.runtime.session() as session:
        contact = contacts.create(
            session=session,
            email="mallory@example.com",
            first_name=HOSTILE,
            last_name=HOSTILE,
            fields={"site": "javascript:alert(2)"},
        )
        # A key no form accepts today, as a row written before keys were checked holds.
        contact.fields = {**contact.fields, HOSTILE: HOSTILE}
        contact_id = contact.id
    sign_in(page, ui)
    inline_scripts = "document.querySelectorAll('script:not([src])').length"
    for path in (
        "/contacts",
        f"/contacts?q={contact_id and 'mallory'}",
        f"/contacts/{contact_id}",
        f"/contacts/{contact_id}/erase",
    ):
        page.goto(f"{ui.url}{path}")
        page.wait_for_load_state("networkidle")
        assert page.evaluate(inline_scripts) == 0, path
        if not path.endswith("/erase"):
            assert HOSTILE in page.inner_text("main"), path  # shown as text
    page.goto(f"{ui.url}/contacts/{contact_id}")
    page.click("details summary")  # the edit form holds the values too
    assert page.input_value("input[name=first_name]") == HOSTILE
    assert page.dialogs == []


@pytest.mark.browser
def test_browser_form_without_csrf_token_is_refused(ui: Ui, page: Any) -> None:
    sign_in(page, ui)
    refused = page.request.post(f"{ui.url}/contacts", form={"email": "x@example.com"})
    assert refused.status == 403
    page.goto(f"{ui.url}/contacts/new")
    page.fill("input[name=email]", "forged@example.com")
    page.evaluate("document.querySelector('form.stacked input[name=csrf_token]').remove()")
    page.click("form.stacked button[type=submit]")
    page.wait_for_load_state()
    assert "CSRF check failed" in page.inner_text("body")
    with ui.runtime.session() as session:
        assert contacts.find_by_email(session=session, email="forged@example.com") is None
    # With the token the same form works.
    page.goto(f"{ui.url}/contacts/new")
    page.fill("input[name=email]", "real@example.com")
    page.click("form.stacked button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "real@example.com"


def test_custom_fields_follow_the_field_rules_and_empty_shows_empty(ui: Ui) -> None:
    with ui.runtime.session() as session:
        contact = contacts.create(
            session=session, email="nil@example.com", fields={"company": "Acme", "plan": "pro"}
        )
        contact_id = contact.id
        # A field stored without a value (as the API allowed before values were checked).
        contact.fields = {**contact.fields, "company": None}
    with signed_in(ui) as admin:
        page = admin.get(f"/contacts/{contact_id}").text
        assert "null" not in page
        assert re.search(r"<dt>company</dt><dd></dd>", page)
        textarea = re.search(r'<textarea name="fields"[^>]*>(.*?)</textarea>', page, re.S)
        assert textarea and textarea.group(1).splitlines() == ["company: ", "plan: pro"]
        for fields, words in (
            ("my field: x", "line 1 (my field)"),
            ("email: x", "email is a column of the contact"),
            ("n" * 101 + ": x", "1 to 100 letters"),
            ("note: " + "v" * 2001, "at most 2000 characters"),
            ("\n".join(f"f{i}: {i}" for i in range(101)), "at most 100 fields"),
        ):
            refused = admin.post(
                f"/contacts/{contact_id}/edit", {"first_name": "", "fields": fields}
            )
            assert refused.status_code == 422, fields[:40]
            assert words in refused.text and "<html" in refused.text
            new = admin.post("/contacts", {"email": "other@example.com", "fields": fields})
            assert new.status_code == 422 and words in new.text
        # Saving the form as shown keeps the empty field empty (not the text "null").
        saved = admin.post(
            f"/contacts/{contact_id}/edit",
            {"first_name": "", "fields": "company: \nplan: pro\nseats: 3"},
        )
        assert admin.flash(saved) == "The contact was saved."
    with ui.runtime.session() as session:
        stored = contacts.get(session=session, contact_id=contact_id).fields
        assert stored == {"company": None, "plan": "pro", "seats": "3"}
        assert contacts.find_by_email(session=session, email="other@example.com") is None
