"""Telling machines from people (B7): the request rules and their data files, bursts
and the honeypot in the writer, and the CLI that replaces a data file."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.tracking.test_writer import _click, _counters, _open, _sent
from tidings.activities.models import Activity
from tidings.db.base import utcnow
from tidings.runtime import Runtime
from tidings.stats.service import email_statistics
from tidings.tracking import botdata
from tidings.tracking.bursts import BurstWatch
from tidings.tracking.classifier import Classifier, Interaction
from tidings.tracking.events import CLICK, TrackedEvent
from tidings.tracking.models import TrackingEvent, UniqueMarker
from tidings.tracking.writer import EventWriter

PEOPLE_AGENTS = (
    *botdata.BROWSER_AGENTS,
    # Mail clients and the image proxies that load images when a person reads.
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.10.1",
)
PERSON_IP = "203.0.113.7"  # documentation range: no data file names it


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier()


@pytest.mark.parametrize("agent", PEOPLE_AGENTS)
@pytest.mark.parametrize("ip", [PERSON_IP, "2001:db8::7", "17.1.2.3"])
def test_a_persons_single_click_from_a_browser_stays_human(
    classifier: Classifier, agent: str, ip: str
) -> None:
    # 17.x is Apple's: iCloud Private Relay browsing comes from there; a click stays human.
    verdict = classifier.classify(Interaction(kind="click", method="GET", user_agent=agent, ip=ip))
    assert not verdict.automated, verdict


@pytest.mark.parametrize("agent", PEOPLE_AGENTS)
def test_a_persons_open_from_a_mail_client_stays_human(classifier: Classifier, agent: str) -> None:
    verdict = classifier.classify(
        Interaction(kind="open", method="GET", user_agent=agent, ip=PERSON_IP)
    )
    assert not verdict.automated, verdict


CHROME = botdata.BROWSER_AGENTS[0]


@pytest.mark.parametrize(
    ("kind", "method", "agent", "ip", "reason"),
    [
        ("click", "HEAD", CHROME, PERSON_IP, "head"),
        ("open", "HEAD", CHROME, PERSON_IP, "head"),
        ("click", "GET", "", PERSON_IP, "user_agent"),
        ("click", "GET", "python-requests/2.32.3", PERSON_IP, "user_agent"),
        ("click", "GET", "Proofpoint URL Defense", PERSON_IP, "user_agent"),
        ("click", "GET", "Mozilla/5.0 (compatible; Googlebot/2.1)", PERSON_IP, "user_agent"),
        ("open", "GET", "Barracuda Sentinel (EE)", PERSON_IP, "user_agent"),
        ("click", "GET", CHROME, "40.107.12.9", "ip_range"),
        ("open", "GET", CHROME, "2a01:111:f400::25", "ip_range"),
        ("click", "GET", CHROME, "::ffff:67.231.150.1", "ip_range"),
        ("open", "GET", "Mozilla/5.0", "17.58.1.2", "prefetch"),
        ("open", "GET", CHROME, "17.58.1.2", "prefetch"),
        ("open", "GET", "Mozilla/5.0", PERSON_IP, "prefetch"),
    ],
)
def test_each_request_rule_names_its_reason(
    classifier: Classifier, kind: str, method: str, agent: str, ip: str, reason: str
) -> None:
    verdict = classifier.classify(Interaction(kind=kind, method=method, user_agent=agent, ip=ip))
    assert (verdict.automated, verdict.reason) == (True, reason)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (botdata.IP_RANGES, "0.0.0.0/0 scanner\n", "too broad"),
        (botdata.IP_RANGES, "10.0.0.0/8 scanner\n", "not a public network"),
        (botdata.IP_RANGES, "203.0.113.0/24 scanner\n", "not a public network"),
        (botdata.IP_RANGES, "17.0.0.0/8 prefetch\n17.1.0.0/16 scanner\n", "overlap"),
        (botdata.IP_RANGES, "17.0.0.1/8 scanner\n", "host bits"),
        (botdata.IP_RANGES, "17.0.0.0/8 everyone\n", "unknown category"),
        (botdata.IP_RANGES, "17.0.0.0/8\n", "expected"),
        (botdata.IP_RANGES, "17.0.0.0/8 scanner\x00\n", "NUL"),
        (botdata.IP_RANGES, "# x\n" * (botdata.MAX_LINES + 1), "more than"),
        (botdata.USER_AGENTS, "scanner mozilla\n", "browser"),
        (botdata.USER_AGENTS, "prefetch safari\n", "browser"),
        (botdata.USER_AGENTS, "scanner .*\n", "empty user agent"),
        (botdata.USER_AGENTS, "scanner (unclosed\n", "line 1"),
        (botdata.USER_AGENTS, "scanner " + "a" * 201 + "\n", "longer"),
        (botdata.USER_AGENTS, "robot foo\n", "unknown category"),
    ],
)
def test_hostile_or_broken_data_files_are_refused(name: str, text: str, message: str) -> None:
    with pytest.raises(botdata.BotDataError, match=message):
        botdata.PARSERS[name](text)


def test_the_shipped_data_files_are_valid() -> None:
    data = botdata.load()
    assert data.ip_ranges.category("17.0.0.1") == botdata.PREFETCH
    assert data.ip_ranges.category("52.101.4.4") == botdata.SCANNER
    assert data.ip_ranges.category(PERSON_IP) is None
    assert data.ip_ranges.category("not an address") is None


def test_bot_data_update_validates_and_replaces_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tidings.cli import app
    from tidings.config import get_settings

    data_dir = tmp_path / "data"
    monkeypatch.setenv("TIDINGS_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    try:
        good = tmp_path / "ip_ranges.txt"
        good.write_text("198.51.100.0/24 scanner\n# a comment\n", encoding="utf-8")
        # 198.51.100.0/24 is a documentation range: not public, refused.
        result = CliRunner().invoke(app, ["bot-data", "update", str(good)])
        assert result.exit_code == 2, result.output
        assert not (data_dir / "bot_data" / "ip_ranges.txt").exists()

        good.write_text("45.60.0.0/16 scanner  # a scanner\n", encoding="utf-8")
        result = CliRunner().invoke(app, ["bot-data", "update", str(good)])
        assert result.exit_code == 0, result.output
        installed = data_dir / "bot_data" / "ip_ranges.txt"
        assert installed.read_text(encoding="utf-8") == good.read_text(encoding="utf-8")
        classifier = Classifier.from_data_dir(data_dir)
        verdict = classifier.classify(Interaction("click", "GET", CHROME, "45.60.1.1"))
        assert verdict.reason == "ip_range"
        # The replaced file is the whole list: Microsoft's ranges are gone with it.
        assert not classifier.classify(Interaction("click", "GET", CHROME, "40.107.1.1")).automated

        bad = tmp_path / "user_agents.txt"
        bad.write_text("scanner chrome\n", encoding="utf-8")
        result = CliRunner().invoke(app, ["bot-data", "update", str(bad)])
        assert result.exit_code == 2 and "browser" in result.output
        assert not (data_dir / "bot_data" / "user_agents.txt").exists()

        other = tmp_path / "mine.txt"
        other.write_text("scanner acme-linkcheck\n", encoding="utf-8")
        result = CliRunner().invoke(app, ["bot-data", "update", str(other)])
        assert result.exit_code == 2 and "unknown data file" in result.output
        result = CliRunner().invoke(
            app, ["bot-data", "update", str(other), "--as", "user_agents.txt"]
        )
        assert result.exit_code == 0, result.output
        classifier = Classifier.from_data_dir(data_dir)
        agent = "ACME-LinkCheck/1.0"
        assert classifier.classify(Interaction("click", "GET", agent, PERSON_IP)).automated
        assert list((data_dir / "bot_data").iterdir()) == [
            data_dir / "bot_data" / "ip_ranges.txt",
            data_dir / "bot_data" / "user_agents.txt",
        ] or sorted((data_dir / "bot_data").iterdir()) == sorted(
            [data_dir / "bot_data" / "ip_ranges.txt", data_dir / "bot_data" / "user_agents.txt"]
        )
    finally:
        get_settings.cache_clear()


# --- bursts and the honeypot, through the real writer and database ---


@pytest.fixture
def writer(runtime: Runtime) -> Iterator[EventWriter]:
    event_writer = EventWriter(runtime)
    yield event_writer
    event_writer.stop()


def _honeypot(email_id: int, delivery_id: int) -> TrackedEvent:
    return TrackedEvent(
        kind=CLICK, delivery_id=delivery_id, email_id=email_id, link_id=None, url=None,
        occurred_at=utcnow(), automated=True, automated_reason="honeypot",
    )  # fmt: skip


def _reasons(runtime: Runtime, email_id: int) -> tuple[dict[str, int], dict[str, int]]:
    with runtime.session() as session:
        reasons = email_statistics(session=session, email_id=email_id).automated_reasons
    opens = {k: v for k, v in reasons.opens.model_dump().items() if v}
    clicks = {k: v for k, v in reasons.clicks.model_dump().items() if v}
    return opens, clicks


def _activities(runtime: Runtime, email_id: int) -> int:
    with runtime.session() as session:
        return len(session.scalars(select(Activity).where(Activity.email_id == email_id)).all())


@pytest.mark.parametrize("batching", ["one batch", "a batch each"])
def test_every_link_within_seconds_is_a_burst_and_counts_nothing_human(
    runtime: Runtime, writer: EventWriter, batching: str
) -> None:
    sent = _sent(runtime, consenting=1, anonymous=0, prefix="burst")
    scanner = sent.consenting[0]
    events = [_click(sent, scanner, position) for position in (1, 2, 3)]
    if batching == "one batch":
        tasks_done = asyncio.run(_all_in_one_batch(writer, events))
        assert tasks_done == 3 and writer.batches == 1
    else:
        writer.start()
        for event in events:
            writer.record_blocking(event)
        assert writer.batches == 3
    counters = _counters(runtime, sent)
    assert counters["clicks_total"] == counters["clicks_unique"] == 0
    assert counters["opens_total"] == counters["opens_unique"] == 0
    assert counters["clicks_identified"] == counters["clicks_anonymous"] == 0
    assert counters["clicks_automated"] == 3
    assert [counters[f"link{p}"] for p in (1, 2, 3)] == [(0, 0, 1)] * 3
    assert counters["activities"] == []
    assert _reasons(runtime, sent.email_id) == ({}, {"burst": 3})
    with runtime.session() as session:
        rows = session.execute(
            select(TrackingEvent.automated, TrackingEvent.automated_reason).where(
                TrackingEvent.email_id == sent.email_id
            )
        ).all()
        assert sorted(rows) == [(True, "burst")] * 3
        assert (
            session.scalars(
                select(UniqueMarker).where(UniqueMarker.email_id == sent.email_id)
            ).all()
            == []
        )


async def _all_in_one_batch(writer: EventWriter, events: list[TrackedEvent]) -> int:
    tasks = [asyncio.ensure_future(writer.record(event)) for event in events]
    await asyncio.sleep(0)
    writer.start()
    await asyncio.gather(*tasks)
    return len(tasks)


def test_a_person_clicking_links_a_while_apart_stays_human(
    runtime: Runtime, writer: EventWriter
) -> None:
    sent = _sent(runtime, consenting=1, anonymous=0, prefix="person")
    person = sent.consenting[0]
    start = utcnow()
    writer.start()
    for n, position in enumerate((1, 2, 3, 1)):
        writer.record_blocking(
            _click(sent, person, position, occurred_at=start + timedelta(seconds=20 * n))
        )
    counters = _counters(runtime, sent)
    assert (counters["clicks_total"], counters["clicks_unique"]) == (4, 1)
    assert (counters["opens_total"], counters["opens_unique"]) == (1, 1)
    assert counters["clicks_automated"] == 0
    assert _activities(runtime, sent.email_id) == 5  # four clicks and the inferred open
    assert _reasons(runtime, sent.email_id) == ({}, {})


def test_a_honeypot_hit_takes_back_the_deliverys_interactions_of_the_window(
    runtime: Runtime, writer: EventWriter
) -> None:
    sent = _sent(runtime, consenting=2, anonymous=0, prefix="honeypot")
    scanner, person = sent.consenting
    writer.start()
    writer.record_blocking(_open(sent, scanner))
    writer.record_blocking(_click(sent, scanner, 2))
    writer.record_blocking(_click(sent, person, 1))
    assert _activities(runtime, sent.email_id) == 4  # each: an open and a click
    writer.record_blocking(_honeypot(sent.email_id, scanner))
    writer.record_blocking(_click(sent, scanner, 1))  # after it, in the window
    counters = _counters(runtime, sent)
    # Only the person's click and the open it implies remain human.
    assert (counters["clicks_total"], counters["clicks_unique"]) == (1, 1)
    assert (counters["opens_total"], counters["opens_unique"]) == (1, 1)
    assert counters["clicks_automated"] == 3  # the scanner's click, the honeypot, the last
    assert counters["opens_automated"] == 1
    assert counters["link2"] == (0, 0, 1)
    assert counters["link1"] == (1, 1, 1)
    assert _activities(runtime, sent.email_id) == 2
    assert _reasons(runtime, sent.email_id) == ({"honeypot": 1}, {"honeypot": 3})
    # The scanner's recipient key is free again: a real open later counts once.
    writer.record_blocking(
        _open(sent, scanner).__class__(
            **{**_open(sent, scanner).__dict__, "occurred_at": utcnow() + timedelta(minutes=1)}
        )
    )
    counters = _counters(runtime, sent)
    assert (counters["opens_total"], counters["opens_unique"]) == (2, 2)


def test_burst_screening_needs_different_links_of_one_delivery() -> None:
    watch = BurstWatch()
    watch.set_link_count(1, 5)
    watch.set_link_count(2, 1)
    now = utcnow()

    def click(delivery: int, link: int, email: int = 1, seconds: float = 0) -> TrackedEvent:
        return TrackedEvent(
            kind=CLICK, delivery_id=delivery, email_id=email, link_id=link, url="https://x",
            occurred_at=now + timedelta(seconds=seconds),
        )  # fmt: skip

    # The same link again and again: a person double-clicking, not a burst.
    plan = watch.screen([click(1, 10), click(1, 10, seconds=0.2), click(1, 10, seconds=0.4)])
    assert not any(e.automated for e in plan.events)
    # Three links by three deliveries: three people.
    plan = watch.screen([click(1, 10), click(2, 11), click(3, 12)])
    assert not any(e.automated for e in plan.events)
    # Three links by one delivery, but spread over more than the window.
    plan = watch.screen([click(1, 10), click(1, 11, seconds=3), click(1, 12, seconds=6)])
    assert not any(e.automated for e in plan.events)
    # Within the window: the three, and what follows in the window.
    plan = watch.screen(
        [click(1, 10), click(1, 11, seconds=1), click(1, 12, seconds=2), click(1, 10, seconds=3)]
    )
    assert [e.automated_reason for e in plan.events] == ["burst"] * 4
    # A message with one link has no burst.
    plan = watch.screen([click(4, 20, email=2), click(4, 20, email=2)])
    assert not any(e.automated for e in plan.events)
