"""Apply a batch of tracked events in one transaction (B1, B2, B6).

For each event: statistics counters for everyone, a contact activity only where the
tracking policy allows it at event time, and unique counts through markers that hold
a keyed hash of the delivery instead of any reference to the contact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from tidings.activities.models import Activity, ActivityType
from tidings.consent.policy import TrackingPolicy
from tidings.db.upsert import insert_for
from tidings.sending.models import Delivery
from tidings.stats.models import EmailStats, LinkStats, TimelineBucket
from tidings.tracking.events import CLICK, OPEN, TrackedEvent
from tidings.tracking.models import TrackingEvent, UniqueMarker
from tidings.tracking.tokens import TokenSigner

Marker = tuple[int, str, int, bytes]

# Core tables: batches write through plain statements, without ORM bookkeeping.
EVENTS = cast(Table, TrackingEvent.__table__)
ACTIVITIES = cast(Table, Activity.__table__)
MARKERS = cast(Table, UniqueMarker.__table__)
EMAIL_STATS = cast(Table, EmailStats.__table__)
LINK_STATS = cast(Table, LinkStats.__table__)
TIMELINE = cast(Table, TimelineBucket.__table__)
DELIVERIES = cast(Table, Delivery.__table__)
LINK_COUNTERS = ("clicks_total", "clicks_unique", "clicks_automated")
_LINK_UPDATE = (
    update(LINK_STATS)
    .where(LINK_STATS.c.link_id == bindparam("b_link_id"))
    .values({name: LINK_STATS.c[name] + bindparam(f"b_{name}") for name in LINK_COUNTERS})
)


@dataclass
class BatchOutcome:
    """What a batch changed, for after-commit work (groups, webhooks)."""

    identified_contacts: set[int] = field(default_factory=set)
    activities: int = 0


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


# The two inserts every event makes go to the driver directly: building thousands
# of bound parameters through SQLAlchemy per batch cost more than the writes.
MARKER_CHUNK = 2000  # rows per statement; 4 parameters each stays under every limit


def _placeholder(conn: Connection) -> str:
    return "?" if conn.dialect.name == "sqlite" else "%s"


def _new_markers(conn: Connection, markers: list[Marker]) -> set[Marker]:
    """Insert the markers not seen before; returns those that were new."""
    fresh: set[Marker] = set()
    mark = _placeholder(conn)
    for start in range(0, len(markers), MARKER_CHUNK):
        chunk = markers[start : start + MARKER_CHUNK]
        values = ", ".join([f"({mark}, {mark}, {mark}, {mark})"] * len(chunk))
        # Only placeholders are formatted into the statement; values are parameters.
        sql = (
            "INSERT INTO unique_markers (email_id, kind, link_id, recipient_key) "  # noqa: S608
            f"VALUES {values} ON CONFLICT DO NOTHING "
            "RETURNING email_id, kind, link_id, recipient_key"
        )
        params = tuple(value for marker in chunk for value in marker)
        for row in conn.exec_driver_sql(sql, params):
            fresh.add((row[0], row[1], row[2], bytes(row[3])))
    return fresh


def _db_time(conn: Connection, at: datetime) -> datetime | str:
    """A UTC datetime as the column stores it (SQLite: naive text, like SQLAlchemy)."""
    if conn.dialect.name != "sqlite":
        return at
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _insert_events(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    mark = _placeholder(conn)
    marks = ", ".join([mark] * 7)
    sql = (
        "INSERT INTO tracking_events (email_id, link_id, type, occurred_at, "  # noqa: S608
        f"automated, automated_reason, identified) VALUES ({marks})"
    )
    conn.exec_driver_sql(sql, rows)


def apply_batch(
    session: Session,
    events: Sequence[TrackedEvent],
    *,
    signer: TokenSigner,
    policy: TrackingPolicy,
) -> BatchOutcome:
    """Record ``events``; the caller commits."""
    outcome = BatchOutcome()
    if not events:
        return outcome
    # Core statements on the session's connection: no ORM bookkeeping per batch.
    conn = session.connection()
    delivery_ids = sorted({e.delivery_id for e in events})
    contacts: dict[int, int | None] = dict(
        conn.execute(
            select(DELIVERIES.c.id, DELIVERIES.c.contact_id).where(
                DELIVERIES.c.id.in_(delivery_ids)
            )
        ).all()
    )
    human = [e for e in events if not e.automated]
    subjects = {
        (cid, e.email_id) for e in human if (cid := contacts.get(e.delivery_id)) is not None
    }
    allowed = policy.allowed(session, subjects, max(e.occurred_at for e in events))

    keys = {d: signer.recipient_key(d) for d in {e.delivery_id for e in human}}
    wanted: list[Marker] = []
    seen_wanted: set[Marker] = set()
    for e in human:
        key = keys[e.delivery_id]
        for marker in _markers_for(e, key):
            if marker not in seen_wanted:
                seen_wanted.add(marker)
                wanted.append(marker)
    fresh = _new_markers(conn, wanted)

    email_deltas: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    link_deltas: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    timeline: dict[tuple[int, datetime], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    event_rows: list[tuple[Any, ...]] = []
    activity_rows: list[dict[str, Any]] = []

    for e in events:
        contact_id = contacts.get(e.delivery_id)
        consent_id = allowed.get((contact_id, e.email_id)) if contact_id is not None else None
        identified = (
            not e.automated and contact_id is not None and (contact_id, e.email_id) in allowed
        )
        event_rows.append(
            (
                e.email_id,
                e.link_id,
                e.kind,
                _db_time(conn, e.occurred_at),
                e.automated,
                e.automated_reason,
                identified,
            )
        )
        stats = email_deltas[e.email_id]
        if e.automated:
            stats["opens_automated" if e.kind == OPEN else "clicks_automated"] += 1
            if e.kind == CLICK and e.link_id is not None:
                link_deltas[e.link_id]["clicks_automated"] += 1
            continue
        key = keys[e.delivery_id]
        open_marker: Marker = (e.email_id, "o", 0, key)
        first_open = open_marker in fresh
        fresh.discard(open_marker)
        bucket = timeline[(e.email_id, _hour(e.occurred_at))]
        if e.kind == OPEN or first_open:
            # A click with no recorded open counts one open (B6).
            stats["opens_total"] += 1
            bucket["opens"] += 1
            if first_open:
                stats["opens_unique"] += 1
            if identified:
                assert contact_id is not None
                activity_rows.append(
                    _activity(
                        contact_id, ActivityType.EMAIL_OPEN, e, consent_id, inferred=e.kind == CLICK
                    )
                )
        if e.kind == CLICK:
            stats["clicks_total"] += 1
            stats["clicks_identified" if identified else "clicks_anonymous"] += 1
            bucket["clicks"] += 1
            click_marker: Marker = (e.email_id, "c", 0, key)
            if click_marker in fresh:
                fresh.discard(click_marker)
                stats["clicks_unique"] += 1
            if e.link_id is not None:
                link_delta = link_deltas[e.link_id]
                link_delta["clicks_total"] += 1
                link_marker: Marker = (e.email_id, "l", e.link_id, key)
                if link_marker in fresh:
                    fresh.discard(link_marker)
                    link_delta["clicks_unique"] += 1
            if identified:
                assert contact_id is not None
                activity_rows.append(_activity(contact_id, ActivityType.EMAIL_CLICK, e, consent_id))
        if identified and contact_id is not None:
            outcome.identified_contacts.add(contact_id)

    _insert_events(conn, event_rows)
    if activity_rows:
        conn.execute(insert(ACTIVITIES), activity_rows)
        outcome.activities = len(activity_rows)
    _add_counters(session, conn, email_deltas, link_deltas, timeline)
    return outcome


def _markers_for(e: TrackedEvent, key: bytes) -> list[Marker]:
    markers: list[Marker] = [(e.email_id, "o", 0, key)]
    if e.kind == CLICK:
        markers.append((e.email_id, "c", 0, key))
        if e.link_id is not None:
            markers.append((e.email_id, "l", e.link_id, key))
    return markers


def _activity(
    contact_id: int,
    kind: ActivityType,
    e: TrackedEvent,
    consent_id: int | None,
    *,
    inferred: bool = False,
) -> dict[str, Any]:
    return {
        "contact_id": contact_id,
        "type": kind.value,
        "email_id": e.email_id,
        "link_id": e.link_id if kind == ActivityType.EMAIL_CLICK else None,
        "value": e.url if kind == ActivityType.EMAIL_CLICK else None,
        "details": {"inferred_from_click": True} if inferred else None,
        "consent_id": consent_id,
        "occurred_at": e.occurred_at,
    }


def _add_counters(
    session: Session,
    conn: Connection,
    email_deltas: dict[int, dict[str, int]],
    link_deltas: dict[int, dict[str, int]],
    timeline: dict[tuple[int, datetime], dict[str, int]],
) -> None:
    for email_id, deltas in sorted(email_deltas.items()):
        values = {name: EMAIL_STATS.c[name] + n for name, n in deltas.items() if n}
        if values:
            conn.execute(
                update(EMAIL_STATS).where(EMAIL_STATS.c.email_id == email_id).values(values)
            )
    link_rows = [
        {"b_link_id": link_id, **{f"b_{name}": deltas.get(name, 0) for name in LINK_COUNTERS}}
        for link_id, deltas in sorted(link_deltas.items())
    ]
    if link_rows:
        # One executemany for every link of the batch.
        conn.execute(_LINK_UPDATE, link_rows)
    rows = [
        {
            "email_id": email_id,
            "bucket": bucket,
            "opens": d.get("opens", 0),
            "clicks": d.get("clicks", 0),
        }
        for (email_id, bucket), d in sorted(timeline.items())
        if d.get("opens", 0) or d.get("clicks", 0)
    ]
    if rows:
        stmt = insert_for(session, TIMELINE)
        stmt = stmt.on_conflict_do_update(
            index_elements=[TIMELINE.c.email_id, TIMELINE.c.bucket],
            set_={
                "opens": TIMELINE.c.opens + stmt.excluded.opens,
                "clicks": TIMELINE.c.clicks + stmt.excluded.clicks,
            },
        )
        conn.execute(stmt, rows)
