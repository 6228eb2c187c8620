"""The whole loop over real SMTP and real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from tests.support import world
from tests.support.live import LiveServer
from tests.support.people import PERSON
from tests.support.smtp import SmtpSink
from tidings.runtime import Runtime

TRACKED = re.compile(r'href="(http://127\.0\.0\.1:\d+/t/c/[A-Za-z0-9_-]+)"')


def _api(server: LiveServer, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=10)


def _wait_finished(api: httpx.Client, mailout_id: int, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data: dict[str, Any] = api.get(f"/api/v1/mailouts/{mailout_id}").json()
        if data["status"] == "finished":
            return data
        time.sleep(0.05)
    raise AssertionError(f"mailout did not finish: {data}")


@pytest.mark.parametrize("live", ["process", "thread"], indirect=True)
def test_send_click_and_count(
    live: tuple[Runtime, LiveServer], smtp_sink: SmtpSink, api_key: str
) -> None:
    runtime, server = live
    with runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=1)
    consenting_address, anonymous_address = "person0@example.com", "person1@example.com"
    with _api(server, api_key) as api:
        answer = api.post(f"/api/v1/emails/{w.email_id}/send", json={})
        assert answer.status_code == 202, answer.text
        progress = _wait_finished(api, answer.json()["mailout_id"])
        assert progress["total"] == 2 and progress["sent"] == 2 and progress["failed"] == 0

        assert smtp_sink.per_recipient() == {consenting_address: 1, anonymous_address: 1}
        message = smtp_sink.to(consenting_address)[0]
        headers = message.message
        assert headers["List-Unsubscribe"].startswith(f"<{server.url}/u/")
        assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert headers["Subject"] == "News for P0"
        html = message.part("html")
        text = message.part("plain")
        links = TRACKED.findall(html)
        assert len(links) == 3  # three http(s) positions; mailto and javascript untouched
        assert 'href="mailto:hello@example.com"' in html
        assert 'href="javascript:alert(1)"' in html
        assert links[0] != links[2]  # the same URL twice is two positions
        for link in links:
            assert "example.com" not in link and "person0" not in link
            assert link in text  # the plain-text part carries the same tracked links
        assert "/t/o/" in html

        # Clicks by the consenting recipient become activities with the exact URL. A
        # person clicks one link, another, then the first again; every link of the
        # message within seconds would be a machine's burst (B7).
        first = httpx.get(links[0], headers=PERSON, follow_redirects=False)
        assert first.status_code == 302
        assert first.headers["location"] == "https://example.com/pricing?plan=pro&ref=mail"
        assert httpx.get(links[1], headers=PERSON).headers["location"] == (
            "https://example.com/blog"
        )
        assert httpx.get(links[0], headers=PERSON).status_code == 302
        # The other recipient did not agree: counted, never identified.
        other_links = TRACKED.findall(smtp_sink.to(anonymous_address)[0].part("html"))
        assert httpx.get(other_links[0], headers=PERSON).status_code == 302
        assert httpx.get(other_links[2], headers=PERSON).status_code == 302

        stats = api.get(f"/api/v1/emails/{w.email_id}/statistics").json()
        assert stats["sent"] == 2 and stats["delivered"] == 2
        assert stats["clicks_total"] == 5
        assert stats["clicks_identified"] == 3 and stats["clicks_anonymous"] == 2
        assert stats["clicks_total"] == stats["clicks_identified"] + stats["clicks_anonymous"]
        assert stats["clicks_automated"] == 0
        assert stats["clicks_unique"] == 2
        assert stats["opens_total"] == 2 and stats["opens_unique"] == 2  # implied by clicks
        assert stats["rates"]["click_rate"] == {
            "value": 1.0,
            "numerator": 2,
            "denominator": 2,
            "of": "delivered",
        }
        per_link = {item["position"]: item for item in stats["links"]}
        assert per_link[1]["clicks_total"] == 3 and per_link[1]["clicks_unique"] == 2
        assert per_link[3]["clicks_total"] == 1 and per_link[3]["clicks_unique"] == 1
        assert per_link[1]["url_clicks_total"] == 4  # rolls up by URL across positions

        activities = api.get(f"/api/v1/emails/{w.email_id}/activities").json()["items"]
        clicks = [a for a in activities if a["type"] == "email_click"]
        assert [a["value"] for a in clicks] == [
            "https://example.com/pricing?plan=pro&ref=mail",
            "https://example.com/blog",
            "https://example.com/pricing?plan=pro&ref=mail",
        ]
        assert {a["contact_email"] for a in activities} == {consenting_address}
        by_link = api.get(
            f"/api/v1/emails/{w.email_id}/activities",
            params={"type": "email_click", "link_id": per_link[2]["link_id"]},
        ).json()["items"]
        assert len(by_link) == 1


def test_consent_revoked_between_send_and_click(
    live: tuple[Runtime, LiveServer], smtp_sink: SmtpSink, api_key: str
) -> None:
    runtime, server = live
    with runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=0)
    contact_id = w.consenting[0]
    with _api(server, api_key) as api:
        mailout = api.post(f"/api/v1/emails/{w.email_id}/send").json()["mailout_id"]
        _wait_finished(api, mailout)
        links = TRACKED.findall(smtp_sink.messages[0].part("html"))
        assert httpx.get(links[1], headers=PERSON).status_code == 302
        assert len(api.get(f"/api/v1/contacts/{contact_id}/activities").json()["items"]) == 2

        revoked = api.delete(f"/api/v1/contacts/{contact_id}/consents/tracking")
        assert revoked.status_code == 200
        assert revoked.json()["activities_deleted"] == 2
        assert api.get(f"/api/v1/contacts/{contact_id}/activities").json()["items"] == []

        assert httpx.get(links[0], headers=PERSON).status_code == 302
        stats = api.get(f"/api/v1/emails/{w.email_id}/statistics").json()
        assert stats["clicks_total"] == 2
        assert stats["clicks_identified"] == 1 and stats["clicks_anonymous"] == 1
        assert api.get(f"/api/v1/emails/{w.email_id}/activities").json()["items"] == []


def test_tampered_and_unknown_tokens_record_nothing(
    live: tuple[Runtime, LiveServer], smtp_sink: SmtpSink, api_key: str
) -> None:
    runtime, server = live
    with runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=0)
    with _api(server, api_key) as api:
        _wait_finished(api, api.post(f"/api/v1/emails/{w.email_id}/send").json()["mailout_id"])
        link = TRACKED.findall(smtp_sink.messages[0].part("html"))[0]
        token = link.rsplit("/", 1)[1]
        flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
        for bad in (flipped, token[:-3], token + "x", "x" * 22, token[:8]):
            answer = httpx.get(f"{server.url}/t/c/{bad}", follow_redirects=False)
            assert answer.status_code == 404, bad
            assert "location" not in answer.headers
            assert "not valid" in answer.text
        stats = api.get(f"/api/v1/emails/{w.email_id}/statistics").json()
        assert stats["clicks_total"] == 0 and stats["clicks_automated"] == 0
        assert stats["opens_total"] == 0


def test_unsubscribe_post_vs_get_and_head(
    live: tuple[Runtime, LiveServer], smtp_sink: SmtpSink, api_key: str
) -> None:
    runtime, server = live
    with runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=0)
    contact_id = w.consenting[0]
    with _api(server, api_key) as api:
        _wait_finished(api, api.post(f"/api/v1/emails/{w.email_id}/send").json()["mailout_id"])
        url = smtp_sink.messages[0].message["List-Unsubscribe"].strip("<>")

        def status() -> str:
            items = api.get(f"/api/v1/recipient-lists/{w.list_id}/subscribers").json()["items"]
            return str(next(i["status"] for i in items if i["id"] == contact_id))

        assert httpx.head(url).status_code == 200
        page = httpx.get(url)
        assert page.status_code == 200 and "<form" in page.text and 'method="post"' in page.text
        assert status() == "subscribed"
        one_click = httpx.post(url, data={"List-Unsubscribe": "One-Click"})
        assert one_click.status_code == 200 and "You are unsubscribed" in one_click.text
        assert status() == "unsubscribed"
        stats = api.get(f"/api/v1/emails/{w.email_id}/statistics").json()
        assert stats["unsubscribes"] == 1
        httpx.post(url, data={"List-Unsubscribe": "One-Click"})
        assert api.get(f"/api/v1/emails/{w.email_id}/statistics").json()["unsubscribes"] == 1
        # A later send skips the unsubscribed contact.
        smtp_sink.messages.clear()
        again = api.post(f"/api/v1/emails/{w.email_id}/send").json()
        assert again["total"] == 0


PERSONAL_HTML = """<p>Hi {{ contact.first_name }}</p>
<a href="https://example.com/account?u={{ contact.id }}&amp;n={{ contact.first_name }}">Account</a>
<a href="https://example.com/plain">Plain</a>"""


def test_personalized_destinations_automated_clicks_and_opens(
    live: tuple[Runtime, LiveServer], smtp_sink: SmtpSink, api_key: str
) -> None:
    runtime, server = live
    with runtime.session() as session:
        w = world.build(session, consenting=2, anonymous=0, html=PERSONAL_HTML)
    with _api(server, api_key) as api:
        _wait_finished(api, api.post(f"/api/v1/emails/{w.email_id}/send").json()["mailout_id"])
        for index, contact_id in enumerate(w.consenting):
            message = smtp_sink.to(f"person{index}@example.com")[0]
            links = TRACKED.findall(message.part("html"))
            answer = httpx.get(links[0], headers=PERSON)
            assert answer.headers["location"] == (
                f"https://example.com/account?u={contact_id}&n=P{index}"
            )
        # Scanners and HEAD requests are kept out of the human figures.
        scanner = httpx.get(links[1], headers={"User-Agent": "Barracuda link scanner"})
        assert scanner.status_code == 302
        assert httpx.head(links[1], headers=PERSON).status_code == 302
        pixel = re.search(r'src="(http://127\.0\.0\.1:\d+/t/o/[^"]+)"', message.part("html"))
        assert pixel
        image = httpx.get(pixel.group(1), headers=PERSON)
        assert image.status_code == 200 and image.headers["content-type"] == "image/gif"

        stats = api.get(f"/api/v1/emails/{w.email_id}/statistics").json()
        assert stats["clicks_total"] == 2 and stats["clicks_automated"] == 2
        assert stats["clicks_unique"] == 2
        # The last recipient's click already implied an open; the pixel adds one more.
        assert stats["opens_total"] == 3 and stats["opens_unique"] == 2
        plain = next(link for link in stats["links"] if link["position"] == 2)
        assert plain["clicks_total"] == 0 and plain["clicks_automated"] == 2
        values = [
            a["value"]
            for a in api.get(
                f"/api/v1/emails/{w.email_id}/activities", params={"type": "email_click"}
            ).json()["items"]
        ]
        assert sorted(values) == sorted(
            f"https://example.com/account?u={cid}&n=P{i}" for i, cid in enumerate(w.consenting)
        )
        timeline = api.get(f"/api/v1/emails/{w.email_id}/timeline").json()["items"]
        assert sum(b["clicks"] for b in timeline) == 2 and sum(b["opens"] for b in timeline) == 3
