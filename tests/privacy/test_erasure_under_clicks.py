"""Erasure through the API while clicks are being recorded: the erasure answers at
once, and the clicks keep being answered, on SQLite and PostgreSQL; on PostgreSQL it
takes its locks in the order the tracking writer does."""

from __future__ import annotations

import re
import threading
import time

import httpx
import pytest
from sqlalchemy import text

from tests.support import world
from tests.support.live import LiveServer
from tests.support.people import PERSON
from tests.support.smtp import SmtpSink
from tidings.privacy.erasure import erase_contact
from tidings.runtime import Runtime
from tidings.stats.models import EmailStats

TRACKED = re.compile(r'href="(http://127\.0\.0\.1:\d+/t/c/[A-Za-z0-9_-]+)"')
ERASED = 4  # contacts erased one after another; one more stays


class Clicker(threading.Thread):
    """Clicks the given links in turn until stopped; records (start, seconds, status)."""

    def __init__(self, links: list[str]) -> None:
        super().__init__(daemon=True)
        self.links = links
        self.answers: list[tuple[float, float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(headers=PERSON, timeout=60) as client:
            while not self.stop.is_set():
                for link in self.links:
                    started = time.monotonic()
                    status = client.get(link, follow_redirects=False).status_code
                    self.answers.append((started, time.monotonic() - started, status))


def _answered(clickers: list[Clicker]) -> int:
    return sum(len(clicker.answers) for clicker in clickers)


def _until_answered(clickers: list[Clicker], count: int, timeout: float = 30) -> None:
    """Wait for the clickers' answers to reach ``count`` (a busy machine is slower)."""
    deadline = time.monotonic() + timeout
    while _answered(clickers) < count:
        assert time.monotonic() < deadline, f"only {_answered(clickers)} clicks answered"
        time.sleep(0.05)


def test_erasure_while_clicks_are_recorded(
    live: tuple[Runtime, LiveServer], smtp_sink: SmtpSink, api_key: str
) -> None:
    runtime, server = live
    with runtime.session() as session:
        w = world.build(session, consenting=ERASED + 1, anonymous=0)
    api = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60
    )
    with api:
        mailout = api.post(f"/api/v1/emails/{w.email_id}/send", json={}).json()["mailout_id"]
        deadline = time.monotonic() + 30
        while api.get(f"/api/v1/mailouts/{mailout}").json()["status"] != "finished":
            assert time.monotonic() < deadline, "the mailout did not finish"
            time.sleep(0.05)
        links = [
            TRACKED.findall(smtp_sink.to(f"person{n}@example.com")[0].part("html"))[0]
            for n in range(ERASED + 1)
        ]
        clickers = [Clicker(links) for _ in range(3)]
        for clicker in clickers:
            clicker.start()
        _until_answered(clickers, 11)  # clicks are flowing

        # Each erasure meets clicks of the contact it erases (their consent checked,
        # their activity being written) and of the others.
        erasures = []
        for target in w.consenting[:ERASED]:
            started = time.monotonic()
            erased = api.delete(f"/api/v1/contacts/{target}")
            erasures.append((target, erased, started, time.monotonic() - started))
            time.sleep(0.2)
        _until_answered(clickers, _answered(clickers) + 11)  # clicks go on after them
        for clicker in clickers:
            clicker.stop.set()
        for clicker in clickers:
            clicker.join(60)

        for target, erased, _, took in erasures:
            assert erased.status_code == 204, erased.text
            assert took < 1.0, f"erasure took {took:.2f} s"
            assert api.get(f"/api/v1/contacts/{target}").status_code == 404
        unknown = time.monotonic()
        assert api.delete("/api/v1/contacts/987654321").status_code == 404
        assert time.monotonic() - unknown < 1.0
        assert api.get(f"/api/v1/contacts/{w.consenting[ERASED]}").status_code == 200

    answers = [a for clicker in clickers for a in clicker.answers]
    assert {status for _, _, status in answers} == {302}
    first, last = erasures[0][2], erasures[-1][2] + erasures[-1][3]
    before = [a for a in answers if a[0] < first]
    during = [a for a in answers if first <= a[0] <= last]
    after = [a for a in answers if a[0] > last]
    assert min(len(before), len(during), len(after)) > 10, (len(before), len(during), len(after))
    slowest = max(seconds for _, seconds, _ in answers)
    assert slowest < 1.0, f"a click waited {slowest:.2f} s"
    # Every answered click is a stored click, the erased contacts' too (anonymously).
    with runtime.session() as session:
        stats = session.get(EmailStats, w.email_id)
        assert stats is not None and stats.clicks_total == len(answers)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_erasure_locks_in_the_order_of_the_tracking_writer(runtime: Runtime) -> None:
    """The writer's consent check holds a contact's agreements FOR SHARE, then its
    activity insert takes a key-share lock on the contact. An erasure between the two
    must wait for the writer, not hold the contact and deadlock with it."""
    with runtime.session() as session:
        contact_id = world.build(session, consenting=1, anonymous=0).consenting[0]
    outcome: dict[str, object] = {}

    def erase() -> None:
        try:
            with runtime.session() as session:
                erase_contact(session=session, contact_id=contact_id)
            outcome["erased"] = True
        except Exception as exc:  # noqa: BLE001 - the test reports whatever happened
            outcome["error"] = exc

    with runtime.engine.connect() as writer:
        writer.execute(
            text("SELECT id FROM consent_agreements WHERE contact_id = :c FOR SHARE"),
            {"c": contact_id},
        )
        eraser = threading.Thread(target=erase)
        eraser.start()
        deadline = time.monotonic() + 10
        while not _waiting_for_a_lock(runtime):
            assert time.monotonic() < deadline and eraser.is_alive(), outcome
            time.sleep(0.01)
        try:
            writer.execute(
                text("SELECT id FROM contacts WHERE id = :c FOR KEY SHARE"), {"c": contact_id}
            )
            writer.commit()
        except Exception as exc:  # noqa: BLE001
            outcome["writer"] = exc
        eraser.join(10)
    assert outcome == {"erased": True}


def _waiting_for_a_lock(runtime: Runtime) -> bool:
    with runtime.engine.connect() as conn:
        waiting = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
    return bool(waiting)
