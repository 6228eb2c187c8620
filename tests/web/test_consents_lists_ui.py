"""Consents and recipient list pages over real HTTP, and the CSV import with progress."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.support.admin import Admin, signed_in
from tests.web.conftest import Ui, sign_in
from tidings.consent import service as consent
from tidings.consent.models import Consent
from tidings.contacts import service as contacts
from tidings.lists import service as lists

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

IMPORT_CSV = (
    "\ufeffE-mail;First Name;Last Name;Company\r\n"
    "ada@example.com;Ada;Lovelace;Engines\r\n"
    "not-an-address;Bad;Row;\r\n"
    ";No;Email;Acme\r\n"
    "=cmd|' /C calc'!A0;Formula;Row;\r\n"
    "grace@example.com;Grace;Hopper;Navy\r\n"
    "ADA@example.com;Ada;Again;\r\n"
)


def test_consent_versions(ui: Ui) -> None:
    with signed_in(ui) as admin:
        index = admin.get("/consents").text
        assert "Email tracking" in index and "<code>tracking</code>" in index
        bad = admin.post("/consents", {"code_name": "Not Valid", "display_name": "X", "text": "t"})
        assert bad.status_code == 422 and "lower-case" in bad.text
        taken = admin.post(
            "/consents", {"code_name": "tracking", "display_name": "Again", "text": "t"}
        )
        assert taken.status_code == 422 and "exists" in taken.text
        made = admin.post(
            "/consents",
            {"code_name": "profile", "display_name": "Profile", "text": "First <text>"},
        )
        assert admin.flash(made) == "The consent was created."
        url = made.headers["location"]
        edited = admin.post(f"{url}/versions", {"text": "Second text"})
        assert admin.flash(edited) == "Version 2 is now the current text."
        same = admin.post(f"{url}/versions", {"text": "Second text"})
        assert same.status_code == 422 and "unchanged" in same.text
        empty = admin.post(f"{url}/versions", {"text": "   "})
        assert empty.status_code == 422
        detail = admin.get(url).text
        assert "Version 2" in detail and "Version 1" in detail
        assert "First &lt;text&gt;" in detail  # the old version stays readable
        assert detail.index("Version 2") < detail.index("Version 1")
        assert "Save as version 3" in detail
        assert admin.get("/consents/99999").status_code == 404
    with ui.runtime.session() as session:
        profile = consent.require(session=session, code_name="profile")
        texts = [v.text for v in consent.versions(session=session, consent_id=profile.id)]
        assert texts == ["First <text>", "Second text"]


def test_lists_members_add_remove_and_paging(ui: Ui) -> None:
    with signed_in(ui) as admin:
        assert "No recipient lists yet" in admin.get("/lists").text
        assert admin.post("/lists", {"name": "  "}).status_code == 422
        made = admin.post("/lists", {"name": "Weekly <news>"})
        assert admin.flash(made) == "The list was created."
        url = made.headers["location"]
        list_id = int(url.rsplit("/", 1)[1])
        assert "No members yet" in admin.get(url).text
        added = admin.post(f"{url}/members", {"email": "New@Example.com", "first_name": "Nu"})
        assert admin.flash(added) == "New contact created and subscribed."
        again = admin.post(f"{url}/members", {"email": "new@example.com"})
        assert admin.flash(again) == "Contact subscribed."
        bad = admin.post(f"{url}/members", {"email": "nope"})
        assert bad.status_code == 422 and "Not a valid email" in bad.text
        with ui.runtime.session() as session:
            new = contacts.find_by_email(session=session, email="new@example.com")
            assert new is not None and new.first_name == "Nu"
            for i in range(55):
                c = contacts.create(session=session, email=f"m{i:02d}@example.com")
                lists.subscribe(session=session, list_id=list_id, contact_id=c.id)
        removed = admin.post(f"{url}/members/{new.id}/remove")
        assert admin.flash(removed).startswith("The contact was removed")
        index = admin.get("/lists").text
        assert "Weekly &lt;news&gt;" in index and "<strong>55</strong>" in index
        page = admin.get(url).text
        assert page.count('data-label="Since"') == 50
        older = re.search(r'href="/lists/\d+\?before=(\d+)#members">Older', page)
        assert older
        rest = admin.get(f"{url}?before={older.group(1)}").text
        assert rest.count('data-label="Since"') == 6
        unsubscribed = admin.get(f"{url}?status=unsubscribed").text
        assert unsubscribed.count('data-label="Since"') == 1 and "new@example.com" in unsubscribed
        assert admin.get("/lists/99999").status_code == 404


def _wait_import(admin: Admin, url: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        fragment = admin.get(f"{url}/progress").text
        if 'data-status="finished"' in fragment or 'data-status="failed"' in fragment:
            return fragment
        assert "hx-get" in fragment  # still polling
        time.sleep(0.1)
    raise AssertionError("import did not finish")


def test_csv_import_reports_every_bad_row(ui: Ui) -> None:
    with ui.runtime.session() as session:
        list_id = lists.create_list(session=session, name="Imported").id
        grace = contacts.create(session=session, email="grace@example.com", first_name="G")
        lists.subscribe(session=session, list_id=list_id, contact_id=grace.id)
        lists.unsubscribe(session=session, list_id=list_id, contact_id=grace.id)
    with signed_in(ui) as admin:
        started = admin.post(
            f"/lists/{list_id}/import",
            files={"file": ("people.csv", IMPORT_CSV.encode("utf-8"), "text/csv")},
        )
        assert started.status_code == 303, started.text
        url = started.headers["location"]
        assert re.fullmatch(rf"/lists/{list_id}/imports/[\w-]+", url)
        fragment = _wait_import(admin, url)
        assert "hx-get" not in fragment
        summary = " ".join(fragment.split())
        assert "6 rows read (utf-8 (with BOM)): 2 imported, 4 skipped." in summary
        rows = re.findall(
            r'<tr><td class="num">(\d+)</td><td class="url">(.*?)</td><td>(.*?)</td>', fragment
        )
        reasons = {int(row): (value, reason) for row, value, reason in rows}
        assert reasons[3][0] == "not-an-address" and reasons[3][1].startswith("invalid email")
        assert reasons[4][1] == "missing email"
        assert reasons[7] == ("ada@example.com", "duplicate of row 2")
        assert reasons[6][1] == "unsubscribed from this list earlier; updated but not resubscribed"
        page = admin.get(url).text
        assert "people.csv" in page and "Rows to check" in page
        report = admin.get(f"{url}/problems.csv")
        assert report.headers["content-disposition"].startswith("attachment;")
        assert "\r\n5,'=cmd|' /C calc'!A0,invalid email" in report.text  # no formula
        with ui.runtime.session() as session:
            ada = contacts.find_by_email(session=session, email="ada@example.com")
            assert ada is not None and ada.fields == {"company": "Engines"}
        listing = admin.get(f"/lists/{list_id}").text
        assert "people.csv" in listing and "2 imported, 4 skipped" in listing
        assert admin.get(f"/lists/{list_id}/imports/unknown").status_code == 404
        empty = admin.post(f"/lists/{list_id}/import", files={"file": ("e.csv", b"", "text/csv")})
        assert empty.status_code == 422 and "Choose a CSV file" in empty.text
        no_email = admin.post(
            f"/lists/{list_id}/import", files={"file": ("x.csv", b"name\nAda\n", "text/csv")}
        )
        failed = _wait_import(admin, no_email.headers["location"])
        assert "no email column" in failed
        # Erasing a contact also drops their rows from reports kept in memory.
        with ui.runtime.session() as session:
            ada_id = contacts.find_by_email(session=session, email="ada@example.com").id  # type: ignore[union-attr]
        admin.post(f"/contacts/{ada_id}/erase", {"confirm_email": "ada@example.com"})
        progress = admin.get(f"{url}/progress").text
        assert "ada@example.com" not in progress and "missing email" in progress
    with ui.runtime.session() as session:
        sub = lists.subscription(session=session, list_id=list_id, contact_id=grace.id)
        assert sub is not None and sub.status == "unsubscribed"
        assert session.query(Consent).count() == 1


@pytest.mark.browser
def test_import_progress_in_a_browser(ui: Ui, page: Any) -> None:
    with ui.runtime.session() as session:
        list_id = lists.create_list(session=session, name="Big import").id
    rows = "\n".join(f"p{i}@example.com,P{i}" for i in range(3000))
    sign_in(page, ui)
    page.goto(f"{ui.url}/lists/{list_id}")
    page.set_input_files(
        "input[name=file]",
        {
            "name": "big.csv",
            "mimeType": "text/csv",
            "buffer": f"email,first_name\n{rows}\nbad\n".encode(),
        },
    )
    page.click("#import button[type=submit]")
    page.wait_for_selector("#import-progress[data-status=finished]", timeout=60_000)
    text = page.inner_text("#import-progress")
    assert "3000 imported, 1 skipped" in text and "missing email" not in text
    assert "invalid email" in text
    assert page.dialogs == []
