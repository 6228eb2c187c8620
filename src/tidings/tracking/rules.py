"""The counting rules of a batch of tracked events, apart from any database (B1, B2, B6).

Pure functions over plain data: from the events, the contact of each delivery, the
consent policy's answers and the unique markers found new, to the rows a batch
writes and the counters it moves. ``apply`` asks the database for those inputs and
hands the result to the statements of its dialect.

- Every event is one ``tracking_events`` row; automated ones count only in the
  ``*_automated`` counters and never become activities or unique counts (B7).
- A human interaction becomes a contact activity only if its (contact, email) is
  allowed by the policy (B1); otherwise it is counted as anonymous.
- Unique counts come from markers keyed by a recipient key (``keys``): a marker new
  to the database is a first. A delivery without a key (its email's counting window
  has closed) counts in the totals only: no unique and no inferred open.
- A click whose recipient has no recorded open counts one open (B6), logged as an
  open activity marked ``inferred_from_click`` where the click is identified.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tidings.activities.models import ActivityType
from tidings.stats.models import COUNTER_FIELDS
from tidings.tracking.events import CLICK, OPEN, TrackedEvent
from tidings.tracking.markers import Marker, MarkerKind

Subject = tuple[int, int]  # (contact_id, email_id)
# (email_id, link_id, kind, occurred_at, automated, automated_reason, identified)
EventRow = tuple[int, int | None, str, Any, bool, str | None, bool]
# (contact_id, type, email_id, link_id, value, details, consent_id, occurred_at)
ActivityRow = tuple[int | None, str, int, int | None, str | None, str | None, int | None, Any]

OPENED = ActivityType.EMAIL_OPEN.value
CLICKED = ActivityType.EMAIL_CLICK.value
INFERRED_OPEN = json.dumps({"inferred_from_click": True})
# The email counters tracking moves (unsubscribes and complaints are counted elsewhere).
EMAIL_COUNTERS = tuple(name for name in COUNTER_FIELDS if name.startswith(("opens_", "clicks_")))
LINK_COUNTERS = ("clicks_total", "clicks_unique", "clicks_automated")

_O, _C, _L = MarkerKind.OPENED, MarkerKind.CLICKED, MarkerKind.CLICKED_LINK


@dataclass(slots=True)
class Effect:
    """What one human event counted, so that a burst seen seconds later can take it
    back (``take_back``)."""

    delivery_id: int
    email_id: int
    link_id: int | None
    kind: str
    occurred_at: datetime
    at: Any  # as the store wrote it
    contact_id: int | None  # set when identified
    opened: bool  # counted in opens_total
    first_open: bool
    unique_click: bool
    unique_link: bool
    activities: list[ActivityRow]
    markers: list[Marker]


# (email_id, kind, reason) -> count
ReasonKey = tuple[int, str, str]
# (email_id, link_id, type, occurred_at as stored, reason)
Reclassified = tuple[int, int | None, str, Any, str]


@dataclass
class Tally:
    """What one batch writes: rows to insert and counters to add."""

    events: list[EventRow] = field(default_factory=list)
    activities: list[ActivityRow] = field(default_factory=list)
    email_deltas: dict[int, dict[str, int]] = field(default_factory=dict)
    link_deltas: dict[int, dict[str, int]] = field(default_factory=dict)
    # (email_id, hour) -> [opens, clicks]
    timeline: dict[tuple[int, datetime], list[int]] = field(default_factory=dict)
    identified_contacts: set[int] = field(default_factory=set)
    reasons: dict[ReasonKey, int] = field(default_factory=dict)
    # one per event, None for automated ones
    effects: list[Effect | None] = field(default_factory=list)
    # taken back by a burst: rows to mark automated, activities and markers to delete
    reclassified: list[Reclassified] = field(default_factory=list)
    removed_activities: list[ActivityRow] = field(default_factory=list)
    removed_markers: list[Marker] = field(default_factory=list)


def markers_of(events: Iterable[TrackedEvent], keys: Mapping[int, bytes]) -> list[Marker]:
    """Every marker the human events with a recipient key need, once each, in order."""
    wanted: list[Marker] = []
    seen: set[Marker] = set()
    for e in events:
        if e.automated:
            continue
        key = keys.get(e.delivery_id)
        if key is None:
            continue
        email_id = e.email_id
        for marker in _markers_for(e, email_id, key):
            if marker not in seen:
                seen.add(marker)
                wanted.append(marker)
    return wanted


def _markers_for(e: TrackedEvent, email_id: int, key: bytes) -> list[Marker]:
    markers: list[Marker] = [(email_id, _O, 0, key)]
    if e.kind == CLICK:
        markers.append((email_id, _C, 0, key))
        if e.link_id is not None:
            markers.append((email_id, _L, e.link_id, key))
    return markers


def subjects_of(events: Iterable[TrackedEvent], contacts: Mapping[int, int]) -> set[Subject]:
    """The (contact, email) pairs of the human events whose delivery has a contact:
    what the consent policy is asked about."""
    return {
        (cid, e.email_id)
        for e in events
        if not e.automated and (cid := contacts.get(e.delivery_id)) is not None
    }


def tally(
    events: Sequence[TrackedEvent],
    *,
    keys: Mapping[int, bytes],
    contacts: Mapping[int, int],
    allowed: Mapping[Subject, int | None],
    fresh: set[Marker],
    time: Callable[[datetime], Any],
    take_back: Sequence[tuple[Effect, str]] = (),
) -> Tally:
    """The rows and counter deltas of ``events``, in order.

    ``keys``: recipient key per delivery (none: no unique counts); ``contacts``:
    contact per delivery (none: erased); ``allowed``: the policy's consent id per
    allowed (contact, email); ``fresh``: the markers of this batch that were not
    recorded before, consumed as events claim them; ``time``: an event time as the
    store writes it; ``take_back``: earlier human events a burst or honeypot hit has
    shown to be automated, with the reason.
    """
    result = Tally()
    email_deltas: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    link_deltas: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    timeline = result.timeline
    event_rows = result.events
    activity_rows = result.activities
    identified_contacts = result.identified_contacts
    reasons: dict[ReasonKey, int] = defaultdict(int)
    effects = result.effects

    for e in events:
        email_id = e.email_id
        contact_id = contacts.get(e.delivery_id)
        consent_id = allowed.get((contact_id, email_id)) if contact_id is not None else None
        identified = (
            not e.automated and contact_id is not None and (contact_id, email_id) in allowed
        )
        at = time(e.occurred_at)
        event_rows.append(
            (email_id, e.link_id, e.kind, at, e.automated, e.automated_reason, identified)
        )
        stats = email_deltas[email_id]
        if e.automated:
            stats["opens_automated" if e.kind == OPEN else "clicks_automated"] += 1
            if e.kind == CLICK and e.link_id is not None:
                link_deltas[e.link_id]["clicks_automated"] += 1
            reasons[(email_id, e.kind, e.automated_reason or "")] += 1
            effects.append(None)
            continue
        key = keys.get(e.delivery_id)
        first_open = unique_click = unique_link = False
        first_activity = len(activity_rows)
        markers: list[Marker] = []
        if key is not None:
            open_marker: Marker = (email_id, _O, 0, key)
            first_open = open_marker in fresh
            if first_open:
                fresh.discard(open_marker)
                markers.append(open_marker)
        hour = (email_id, e.occurred_at.replace(minute=0, second=0, microsecond=0))
        bucket = timeline.get(hour)
        if bucket is None:
            bucket = timeline[hour] = [0, 0]
        if e.kind == OPEN or first_open:
            # A click with no recorded open counts one open (B6).
            stats["opens_total"] += 1
            bucket[0] += 1
            if first_open:
                stats["opens_unique"] += 1
            if identified:
                details = INFERRED_OPEN if e.kind == CLICK else None
                activity_rows.append(
                    (contact_id, OPENED, email_id, None, None, details, consent_id, at)
                )
        if e.kind == CLICK:
            stats["clicks_total"] += 1
            stats["clicks_identified" if identified else "clicks_anonymous"] += 1
            bucket[1] += 1
            if key is not None:
                click_marker: Marker = (email_id, _C, 0, key)
                if click_marker in fresh:
                    fresh.discard(click_marker)
                    stats["clicks_unique"] += 1
                    unique_click = True
                    markers.append(click_marker)
            if e.link_id is not None:
                link_delta = link_deltas[e.link_id]
                link_delta["clicks_total"] += 1
                if key is not None:
                    link_marker: Marker = (email_id, _L, e.link_id, key)
                    if link_marker in fresh:
                        fresh.discard(link_marker)
                        link_delta["clicks_unique"] += 1
                        unique_link = True
                        markers.append(link_marker)
            if identified:
                activity_rows.append(
                    (contact_id, CLICKED, email_id, e.link_id, e.url, None, consent_id, at)
                )
        if identified and contact_id is not None:
            identified_contacts.add(contact_id)
        effects.append(
            Effect(
                e.delivery_id, email_id, e.link_id, e.kind, e.occurred_at, at,
                contact_id if identified else None, e.kind == OPEN or first_open,
                first_open, unique_click, unique_link, activity_rows[first_activity:], markers,
            )
        )  # fmt: skip

    for effect, reason in take_back:
        _take_back(result, effect, reason, email_deltas, link_deltas, reasons)
    result.reasons = reasons
    result.email_deltas = email_deltas
    result.link_deltas = link_deltas
    return result


def _take_back(
    result: Tally,
    f: Effect,
    reason: str,
    email_deltas: dict[int, dict[str, int]],
    link_deltas: dict[int, dict[str, int]],
    reasons: dict[ReasonKey, int],
) -> None:
    """Undo what the human event ``f`` counted and count it as automated instead."""
    stats = email_deltas[f.email_id]
    hour = (f.email_id, f.occurred_at.replace(minute=0, second=0, microsecond=0))
    bucket = result.timeline.setdefault(hour, [0, 0])
    if f.opened:
        stats["opens_total"] -= 1
        bucket[0] -= 1
    if f.first_open:
        stats["opens_unique"] -= 1
    if f.kind == CLICK:
        stats["clicks_total"] -= 1
        stats["clicks_identified" if f.contact_id is not None else "clicks_anonymous"] -= 1
        stats["clicks_automated"] += 1
        bucket[1] -= 1
        if f.unique_click:
            stats["clicks_unique"] -= 1
        if f.link_id is not None:
            link_delta = link_deltas[f.link_id]
            link_delta["clicks_total"] -= 1
            link_delta["clicks_automated"] += 1
            if f.unique_link:
                link_delta["clicks_unique"] -= 1
    else:
        stats["opens_automated"] += 1
    reasons[(f.email_id, f.kind, reason)] += 1
    result.reclassified.append((f.email_id, f.link_id, f.kind, f.at, reason))
    result.removed_activities.extend(f.activities)
    result.removed_markers.extend(f.markers)
    if f.contact_id is not None:
        result.identified_contacts.add(f.contact_id)
