"""The counting rules, without a database: random batches of events against a plain
model of what SPEC B1, B2 and B6 say the figures are."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.tracking.events import CLICK, OPEN, EventKind, TrackedEvent
from tidings.tracking.markers import KnownMarkers, Marker, MarkerKind
from tidings.tracking.rules import (
    CLICKED,
    INFERRED_OPEN,
    OPENED,
    Tally,
    markers_of,
    subjects_of,
    tally,
)

START = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
EMAILS = (1, 2)
LINKS = {1: (11, 12, 13), 2: (21, 22)}


@dataclass
class World:
    """Deliveries of two emails, some with a contact, some allowed, some keyed."""

    email_of: dict[int, int]  # delivery -> email
    contacts: dict[int, int]  # delivery -> contact (missing: erased)
    allowed: dict[tuple[int, int], int | None]  # (contact, email) -> consent id
    keys: dict[int, bytes]  # delivery -> recipient key (missing: window closed)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    count = draw(st.integers(min_value=1, max_value=6))
    email_of = {d: draw(st.sampled_from(EMAILS)) for d in range(100, 100 + count)}
    contacts = {
        d: draw(st.integers(min_value=1, max_value=4))
        for d in email_of
        if draw(st.booleans()) or draw(st.booleans())
    }
    pairs = sorted({(c, email_of[d]) for d, c in contacts.items()})
    allowed = {pair: draw(st.sampled_from([None, 7])) for pair in pairs if draw(st.booleans())}
    keys = {d: d.to_bytes(16, "big") for d in email_of if draw(st.integers(0, 3))}
    return World(email_of, contacts, allowed, keys)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[World, list[TrackedEvent], list[int]]:
    world = draw(worlds())
    deliveries = sorted(world.email_of)
    events = []
    for _ in range(draw(st.integers(min_value=1, max_value=25))):
        delivery = draw(st.sampled_from(deliveries))
        email = world.email_of[delivery]
        kind = draw(st.sampled_from([OPEN, CLICK]))
        link = draw(st.sampled_from(LINKS[email])) if kind == CLICK else None
        automated = draw(st.integers(0, 4)) == 0
        events.append(
            TrackedEvent(
                kind=kind,
                delivery_id=delivery,
                email_id=email,
                link_id=link,
                url=f"https://example.com/{link}" if link else None,
                occurred_at=START + timedelta(minutes=draw(st.integers(0, 180))),
                automated=automated,
                automated_reason="user_agent" if automated else None,
            )
        )
    cuts = sorted(set(draw(st.lists(st.integers(1, len(events)), max_size=4))))
    return world, events, cuts


class Store:
    """The marker table, as a set: what the dialects' ``read`` does with markers."""

    def __init__(self) -> None:
        self.markers: set[Marker] = set()
        self.known = KnownMarkers(limit=3)

    def run(self, world: World, events: list[TrackedEvent]) -> Tally:
        wanted = markers_of(events, world.keys)
        to_insert = [m for m in wanted if m not in self.known]
        fresh = {m for m in to_insert if m not in self.markers}
        self.markers.update(to_insert)
        contacts = {e.delivery_id: c for e in events if (c := world.contacts.get(e.delivery_id))}
        subjects = subjects_of(events, contacts)
        allowed = {s: world.allowed[s] for s in subjects if s in world.allowed}
        result = tally(
            events,
            keys=world.keys,
            contacts=contacts,
            allowed=allowed,
            fresh=fresh,
            time=lambda at: at,
        )
        self.known.add_committed(wanted)
        return result


def _batches(events: list[TrackedEvent], cuts: list[int]) -> list[list[TrackedEvent]]:
    bounds = [0, *cuts, len(events)]
    return [events[a:b] for a, b in itertools.pairwise(bounds) if a < b]


def _summary(tallies: list[Tally]) -> dict[str, Any]:
    """Everything a batch writes, summed over batches."""
    email: Counter[tuple[int, str]] = Counter()
    link: Counter[tuple[int, str]] = Counter()
    timeline: Counter[tuple[int, datetime, int]] = Counter()
    for t in tallies:
        for email_id, deltas in t.email_deltas.items():
            email.update({(email_id, name): n for name, n in deltas.items()})
        for link_id, deltas in t.link_deltas.items():
            link.update({(link_id, name): n for name, n in deltas.items()})
        for (email_id, hour), (opens, clicks) in t.timeline.items():
            timeline.update({(email_id, hour, 0): opens, (email_id, hour, 1): clicks})
    return {
        "email": +email,
        "link": +link,
        "timeline": +timeline,
        "events": [row for t in tallies for row in t.events],
        "activities": [row for t in tallies for row in t.activities],
        "identified": set().union(*(t.identified_contacts for t in tallies)),
    }


def _expected(world: World, events: list[TrackedEvent]) -> dict[str, Any]:
    """The figures as SPEC B1, B2 and B6 state them, counted directly."""
    email: Counter[tuple[int, str]] = Counter()
    link: Counter[tuple[int, str]] = Counter()
    timeline: Counter[tuple[int, datetime, int]] = Counter()
    activities = []
    identified_contacts = set()
    seen: set[tuple[Any, ...]] = set()  # (delivery, what) seen before: uniques

    def first(*what: Any) -> bool:
        new = what not in seen
        seen.add(what)
        return new

    for e in events:
        contact = world.contacts.get(e.delivery_id)
        identified = (
            not e.automated and contact is not None and (contact, e.email_id) in world.allowed
        )
        consent = world.allowed.get((contact, e.email_id)) if contact is not None else None
        hour = e.occurred_at.replace(minute=0)
        if e.automated:
            email[(e.email_id, f"{'opens' if e.kind == OPEN else 'clicks'}_automated")] += 1
            if e.kind == CLICK:
                link[(e.link_id or 0, "clicks_automated")] += 1
            continue
        keyed = e.delivery_id in world.keys
        first_open = keyed and first(e.delivery_id, "open")
        if e.kind == OPEN or first_open:
            email[(e.email_id, "opens_total")] += 1
            timeline[(e.email_id, hour, 0)] += 1
            email[(e.email_id, "opens_unique")] += first_open
            if identified:
                details = INFERRED_OPEN if e.kind == CLICK else None
                activities.append((contact, OPENED, e.email_id, None, None, details, consent))
        if e.kind == CLICK:
            email[(e.email_id, "clicks_total")] += 1
            email[(e.email_id, "clicks_identified" if identified else "clicks_anonymous")] += 1
            email[(e.email_id, "clicks_unique")] += keyed and first(e.delivery_id, "click")
            timeline[(e.email_id, hour, 1)] += 1
            link[(e.link_id or 0, "clicks_total")] += 1
            link[(e.link_id or 0, "clicks_unique")] += keyed and first(e.delivery_id, e.link_id)
            if identified:
                activities.append((contact, CLICKED, e.email_id, e.link_id, e.url, None, consent))  # type: ignore[arg-type]
        if identified:
            identified_contacts.add(contact)
    return {
        "email": +email,
        "link": +link,
        "timeline": +timeline,
        "activities": activities,
        "identified": identified_contacts,
    }


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_a_batch_counts_what_the_rules_say(
    scenario: tuple[World, list[TrackedEvent], list[int]],
) -> None:
    world, events, _ = scenario
    got = _summary([Store().run(world, events)])
    expected = _expected(world, events)
    assert got["email"] == expected["email"]
    assert got["link"] == expected["link"]
    assert got["timeline"] == expected["timeline"]
    assert [row[:7] for row in got["activities"]] == expected["activities"]
    assert got["identified"] == expected["identified"]
    # One event row per event, in order, identified exactly when allowed and human.
    assert [(r[0], r[1], r[2], r[4]) for r in got["events"]] == [
        (e.email_id, e.link_id, e.kind, e.automated) for e in events
    ]
    identified = sum(1 for r in got["events"] if r[6])
    assert identified == sum(1 for a in expected["activities"] if a[1] == CLICKED) + sum(
        1 for a in expected["activities"] if a[1] == OPENED and a[5] is None
    )


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_figures_do_not_depend_on_how_events_fall_into_batches(
    scenario: tuple[World, list[TrackedEvent], list[int]],
) -> None:
    world, events, cuts = scenario
    together = _summary([Store().run(world, events)])
    store = Store()
    apart = _summary([store.run(world, batch) for batch in _batches(events, cuts)])
    assert apart == together


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_totals_reconcile(scenario: tuple[World, list[TrackedEvent], list[int]]) -> None:
    world, events, _ = scenario
    figures = _summary([Store().run(world, events)])["email"]
    for email_id in EMAILS:
        mine = [e for e in events if e.email_id == email_id]
        human_clicks = sum(1 for e in mine if e.kind == CLICK and not e.automated)
        assert figures[(email_id, "clicks_total")] == human_clicks
        assert (
            figures[(email_id, "clicks_identified")] + figures[(email_id, "clicks_anonymous")]
            == human_clicks
        )
        assert figures[(email_id, "clicks_unique")] <= figures[(email_id, "opens_unique")]
        assert figures[(email_id, "opens_automated")] + figures[
            (email_id, "clicks_automated")
        ] == sum(1 for e in mine if e.automated)


def test_markers_are_the_recipient_key_never_the_contact() -> None:
    key = b"k" * 16
    event = TrackedEvent(CLICK, 5, 1, 11, "https://example.com/", START)
    markers = markers_of([event, event], {5: key})
    assert markers == [
        (1, MarkerKind.OPENED, 0, key),
        (1, MarkerKind.CLICKED, 0, key),
        (1, MarkerKind.CLICKED_LINK, 11, key),
    ]
    # An automated event, or one whose email's window has closed, needs none.
    assert markers_of([TrackedEvent(CLICK, 5, 1, 11, None, START, automated=True)], {5: key}) == []
    assert markers_of([event], {}) == []
    assert isinstance(event.kind, EventKind) and MarkerKind.OPENED == "o"  # type: ignore[comparison-overlap]
