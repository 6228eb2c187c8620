"""Erasure through the API while clicks are being recorded: the erasure answers at
once, and the clicks keep being answered, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
import time

import httpx

from tests.support import world
from tests.support.live import LiveServer
from tests.support.smtp import SmtpSink
from tidings.runtime import Runtime
from tidings.stats.models import EmailStats

TRACKED = re.compile(r'href="(http://127\.0\.0\.1:\d+/t/c/[A-Za-z0-9_-]+)"')
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"}
TARGET, OTHER = "person0@example.com", "person1@example.com"


class Clicker(threading.Thread):
    """Clicks the given links in turn until stopped; records (start, seconds, status)."""

    def __init__(self, links: list[str]) -> None:
        super().__init__(daemon=True)
        self.links = links
        self.answers: list[tuple[float, float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(headers=BROWSER, timeout=60) as client:
            while not self.stop.is_set():
                for link in self.links:
                    started = time.monotonic()
                    status = client.get(link, follow_redirects=False).status_code
                    self.answers.append((started, time.monotonic() - started, status))


def test_erasure_while_clicks_are_recorded(
    live: tuple[Runtime, LiveServer], smtp_sink: SmtpSink, api_key: str
) -> None:
    runtime, server = live
    with runtime.session() as session:
        w = world.build(session, consenting=2, anonymous=0)
    api = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60
    )
    with api:
        mailout = api.post(f"/api/v1/emails/{w.email_id}/send", json={}).json()["mailout_id"]
        deadline = time.monotonic() + 30
        while api.get(f"/api/v1/mailouts/{mailout}").json()["status"] != "finished":
            assert time.monotonic() < deadline, "the mailout did not finish"
            time.sleep(0.05)
        links = [TRACKED.findall(smtp_sink.to(who)[0].part("html"))[0] for who in (TARGET, OTHER)]
        clickers = [Clicker(links) for _ in range(3)]
        for clicker in clickers:
            clicker.start()
        time.sleep(0.5)  # clicks are flowing

        target = w.consenting[0]
        started = time.monotonic()
        erased = api.delete(f"/api/v1/contacts/{target}")
        took = time.monotonic() - started
        time.sleep(0.5)  # clicks go on after the erasure
        for clicker in clickers:
            clicker.stop.set()
        for clicker in clickers:
            clicker.join(60)

        assert erased.status_code == 204, erased.text
        assert took < 1.0, f"erasure took {took:.2f} s"
        assert api.get(f"/api/v1/contacts/{target}").status_code == 404
        unknown = time.monotonic()
        assert api.delete("/api/v1/contacts/987654321").status_code == 404
        assert time.monotonic() - unknown < 1.0
        assert api.get(f"/api/v1/contacts/{w.consenting[1]}").status_code == 200

    answers = [a for clicker in clickers for a in clicker.answers]
    assert {status for _, _, status in answers} == {302}
    before = [a for a in answers if a[0] < started]
    after = [a for a in answers if a[0] > started + took]
    assert len(before) > 10 and len(after) > 10, (len(before), len(after))
    slowest = max(seconds for _, seconds, _ in answers)
    assert slowest < 1.0, f"a click waited {slowest:.2f} s"
    # Every answered click is a stored click, the erased contact's too (anonymously).
    with runtime.session() as session:
        stats = session.get(EmailStats, w.email_id)
        assert stats is not None and stats.clicks_total == len(answers)
