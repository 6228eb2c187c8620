"""The email pages over real HTTP: editor, send with progress, statistics, activities."""

from __future__ import annotations

import html as html_lib
import re
import time
from collections.abc import Iterator

import httpx
import pytest
from markupsafe import escape

from tests.support import world
from tests.support.admin import csrf
from tests.support.people import PERSON
from tests.web.conftest import Ui

TRACKED = re.compile(r'href="(http://127\.0\.0\.1:\d+/t/c/[A-Za-z0-9_-]+)"')
EVIL = 'https://example.com/x?a="><script>alert(1)</script>&q=javascript:alert(2)'
EVIL_HTML = """<html><body><p>Hi {{ contact.first_name or "there" }}</p>
<p><a href="https://example.com/x?a=&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;q=javascript:alert(2)">Evil</a></p>
<p><a href="https://example.com/blog">Blog</a></p>
<p><a href="https://example.com/about">About us</a></p></body></html>"""


@pytest.fixture
def client(ui: Ui) -> Iterator[httpx.Client]:
    """An httpx client signed in through the login form."""
    with httpx.Client(
        base_url=ui.url, timeout=10, headers={"Accept": "text/html"}, follow_redirects=True
    ) as c:
        token = csrf(c.get("/login").text)
        answer = c.post(
            "/login",
            data={"email": ui.email, "password": ui.password, "csrf_token": token, "next": "/"},
        )
        assert answer.status_code == 200 and "Emails" in answer.text
        yield c


def _form(token: str, **changes: str) -> dict[str, str]:
    data = {
        "csrf_token": token,
        "name": "Autumn news",
        "subject": "Hello {{ contact.first_name }}",
        "sender_name": "Tidings",
        "sender_address": "news@example.com",
        "recipient_list_id": "",
        "html": '<p>Hi {{ contact.first_name }} <a href="https://example.com/a">A</a></p>',
        "plain_text": "",
    }
    data.update(changes)
    return data


def test_email_pages_need_a_session(ui: Ui) -> None:
    with httpx.Client(base_url=ui.url) as anonymous:
        answer = anonymous.get("/emails/new", follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/emails/new"


def test_create_with_errors_then_edit_and_preview(ui: Ui, client: httpx.Client) -> None:
    with ui.runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=0)
    listing = client.get("/emails")
    assert listing.status_code == 200 and "News" in listing.text
    token = csrf(client.get("/emails/new").text)
    assert client.post("/emails/new", data={**_form(token), "csrf_token": "x"}).status_code == 403

    broken = '<p>{% if contact.first_name %}Hi <a href="https://example.com/?q=&lt;b&gt;">x</a></p>'
    answer = client.post(
        "/emails/new",
        data=_form(token, html=broken, sender_address="not-an-address", name="Draft <1>"),
    )
    assert answer.status_code == 422
    assert "Not saved" in answer.text and "Sender address" in answer.text
    assert "html: template error" in answer.text
    assert str(escape(broken)) in answer.text  # the input is kept, escaped
    assert 'value="Draft &lt;1&gt;"' in answer.text

    created = client.post(
        "/emails/new",
        data=_form(token, recipient_list_id=str(w.list_id)),
        follow_redirects=False,
    )
    assert created.status_code == 303
    edit_url = created.headers["location"].split("?")[0]
    email_id = int(edit_url.split("/")[2])
    editor = client.get(edit_url)
    assert editor.status_code == 200 and "Saved." in client.get(created.headers["location"]).text
    assert "person0@example.com" in editor.text  # the list's contacts to preview as

    preview = client.post(
        "/emails/preview",
        data=_form(token, preview_contact_id=str(w.consenting[0])),
        headers={"X-CSRF-Token": token},
    )
    assert preview.status_code == 200
    assert "Hello P0" in preview.text and 'sandbox=""' in preview.text
    assert 'srcdoc="&lt;p&gt;Hi P0' in preview.text
    sample = client.post("/emails/preview", data=_form(token), headers={"X-CSRF-Token": token})
    assert "Hello Sample" in sample.text
    bad = client.post(
        "/emails/preview", data=_form(token, subject="{{ oops"), headers={"X-CSRF-Token": token}
    )
    assert bad.status_code == 200 and "subject: template error" in bad.text

    saved = client.post(
        edit_url, data=_form(token, name="Renamed", recipient_list_id=str(w.list_id))
    )
    assert saved.status_code == 200 and "Renamed" in saved.text
    options = client.get("/emails/preview-contacts", params={"recipient_list_id": w.list_id})
    assert "person0@example.com" in options.text
    assert (
        client.get("/emails/preview-contacts", params={"recipient_list_id": "x"}).status_code == 200
    )
    assert client.get(f"/emails/{email_id}").status_code == 200  # draft: statistics empty state
    assert client.get("/emails/987654").status_code == 404
    assert client.get("/emails/99999999999999999999999").status_code == 422


def _wait_finished(client: httpx.Client, progress_url: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fragment = client.get(progress_url).text
        if 'data-status="finished"' in fragment:
            assert "hx-trigger" not in fragment  # polling stops
            return fragment
        assert 'hx-trigger="every 1s"' in fragment
        time.sleep(0.1)
    raise AssertionError("the mailout did not finish")


def test_send_click_then_statistics_and_activities(ui: Ui, client: httpx.Client) -> None:
    with ui.runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=1, html=EVIL_HTML)
    confirm = client.get(f"/emails/{w.email_id}/send")
    assert confirm.status_code == 200 and "Newsletter" in confirm.text
    assert '<strong class="recipient-count">2</strong>' in confirm.text
    token = csrf(confirm.text)
    sent = client.post(
        f"/emails/{w.email_id}/send", data={"csrf_token": token}, follow_redirects=False
    )
    assert sent.status_code == 303
    page = client.get(sent.headers["location"]).text
    progress = re.search(r'hx-get="(/emails/\d+/mailouts/\d+/progress)"', page)
    assert progress, "no live progress bar after sending"
    assert "Finished: 2 sent" in _wait_finished(client, progress.group(1))
    again = client.post(f"/emails/{w.email_id}/send", data={"csrf_token": token})
    assert again.status_code == 422 and "nobody to send to" in again.text
    assert "0</strong> recipients" in again.text

    ui.sink.wait_for(2)
    mine = TRACKED.findall(ui.sink.to("person0@example.com")[0].part("html"))
    theirs = TRACKED.findall(ui.sink.to("person1@example.com")[0].part("html"))
    assert len(mine) == 3  # two of three links clicked: a person, not a burst
    assert httpx.get(mine[0], headers=PERSON).status_code == 302
    assert httpx.get(mine[1], headers=PERSON).status_code == 302
    assert httpx.get(theirs[1], headers=PERSON).status_code == 302
    assert httpx.get(theirs[1], headers={"User-Agent": "curl/8.0"}).status_code == 302

    stats = client.get(f"/emails/{w.email_id}").text
    assert "Sent" in stats and 'hx-trigger="every' not in stats  # finished: no polling
    assert '<span class="value" data-figure="clicks_identified">2</span>' in stats
    assert '<span class="value" data-figure="clicks_anonymous">1</span>' in stats
    assert '<span class="value" data-figure="clicks_total">3</span>' in stats
    assert '<strong data-figure="clicks_automated">1</strong>' in stats
    assert "100%" in stats and "2 of 2 delivered" in stats
    assert "<script>alert(1)" not in stats
    assert str(escape(EVIL)) in stats  # per-link table and click map badge, escaped
    assert 'sandbox=""' in stats and "tdg-badge" in stats
    timeline = client.get(f"/emails/{w.email_id}/timeline.json", params={"granularity": "day"})
    assert timeline.json()["clicks"] == [3]
    assert client.get(f"/emails/{w.email_id}/timeline.json?granularity=week").status_code == 422
    figures = client.get(f"/emails/{w.email_id}/statistics/figures", params={"seen": "3-1"})
    assert 'id="figures"' in figures.text and "hx-swap-oob" not in figures.text
    changed = client.get(f"/emails/{w.email_id}/statistics/figures", params={"seen": "0-0"})
    assert 'id="clickmap" hx-swap-oob="true"' in changed.text

    activities = client.get(f"/emails/{w.email_id}/activities").text
    assert str(escape(EVIL)) in activities and "<script>alert(1)" not in activities
    assert activities.count('rel="noopener noreferrer"') == 2
    assert "person1@example.com" not in activities  # no consent: counted, never identified
    assert activities.count('data-type="email_click"') == 2
    assert activities.count('data-type="email_open"') == 1  # the open a click implies
    assert "implied by a click" in activities
    ids = [int(i) for i in re.findall(r'<tr class="activity" data-id="(\d+)"', activities)]
    assert len(ids) == 3
    poller = re.search(r'hx-get="(/emails/\d+/activities/new\?[^"]+)"', activities)
    assert poller and f"after_id={max(ids)}" in poller.group(1)
    assert 'class="activity"' not in client.get(html_lib.unescape(poller.group(1))).text
    newer = client.get(f"/emails/{w.email_id}/activities/new", params={"after_id": min(ids)})
    assert newer.text.count('class="activity"') == 2 and f"after_id={max(ids)}" in newer.text

    links = client.get(f"/emails/{w.email_id}/activities", params={"type": "email_click"}).text
    first_link = re.search(r'<option value="(\d+)" >#1 ', links)
    assert first_link
    only = client.get(
        f"/emails/{w.email_id}/activities", params={"link_id": first_link.group(1)}
    ).text
    assert only.count('class="activity"') == 1
    garbage = client.get(
        f"/emails/{w.email_id}/activities",
        params={"cursor": "nope!", "link_id": "abc", "type": "<b>"},
    )
    assert garbage.status_code == 200
    assert "not a cursor" in garbage.text and "Link: not a valid choice" in garbage.text
    assert "<b>" not in garbage.text

    edit = client.get(f"/emails/{w.email_id}/edit").text
    assert "Content locked" in edit and "readonly" in edit
    locked = client.post(
        f"/emails/{w.email_id}/edit",
        data=_form(token, html="<p>changed</p>", recipient_list_id=str(w.list_id)),
    )
    assert locked.status_code == 409 and "cannot change" in locked.text
    assert "&lt;p&gt;changed&lt;/p&gt;" in locked.text
    copied = client.post(
        f"/emails/{w.email_id}/copy", data={"csrf_token": token}, follow_redirects=False
    )
    assert copied.status_code == 303 and "copied=1" in copied.headers["location"]
    listing = client.get("/emails").text
    assert "Copy of News" in listing and "Draft" in listing and "100%" in listing


def test_preview_as_a_contact_shows_the_variant_and_why(ui: Ui, client: httpx.Client) -> None:
    from tidings.emails import service as email_service

    widgets = {
        "hero": {
            "html": "<p>HERO-DEFAULT</p>",
            "variants": [
                {
                    "condition": {"type": "consent", "code_name": "tracking"},
                    "html": "<p>HERO-VIP</p>",
                }
            ],
        }
    }
    html = '<p>Hi</p>{{ widget("hero") }}'
    with ui.runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=1)
        email = email_service.get(session=session, email_id=w.email_id)
        email_service.update(
            session=session, email=email, changes={"html": html, "widgets": widgets}
        )
    token = csrf(client.get("/emails/new").text)
    for contact_id, shown, reason in (
        (w.consenting[0], "HERO-VIP", "variant 1 of 1: the contact matches"),
        (w.anonymous[0], "HERO-DEFAULT", "the default: the contact matches none of the 1 variants"),
    ):
        preview = client.post(
            "/emails/preview",
            data=_form(
                token, html=html, preview_contact_id=str(contact_id), email_id=str(w.email_id)
            ),
            headers={"X-CSRF-Token": token},
        )
        assert preview.status_code == 200
        assert shown in preview.text and reason in preview.text
