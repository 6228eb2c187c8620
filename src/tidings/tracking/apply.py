"""Apply a batch of tracked events in one transaction (B1, B2, B6).

For each event: statistics counters for everyone, a contact activity only where the
tracking policy allows it at event time, and unique counts through markers that hold
a keyed hash of the delivery instead of any reference to the contact.
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tidings.activities.models import Activity, ActivityType
from tidings.consent.policy import TrackingPolicy
from tidings.db import pg_arrays
from tidings.db.base import driver_time
from tidings.groups.models import ContactGroup
from tidings.sending.models import Delivery
from tidings.stats.models import COUNTER_FIELDS, EmailStats, LinkStats, TimelineBucket
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
# The email counters tracking moves (unsubscribes and complaints are counted elsewhere).
EMAIL_COUNTERS = tuple(name for name in COUNTER_FIELDS if name.startswith(("opens_", "clicks_")))
LINK_COUNTERS = ("clicks_total", "clicks_unique", "clicks_automated")
INFERRED_OPEN = json.dumps({"inferred_from_click": True})


class _Statements:
    """The batch's statements as driver SQL, written once per dialect: under load the
    writer runs them hundreds of times a second, and building them through SQLAlchemy
    each time cost more than executing them."""

    def __init__(self, dialect: str) -> None:
        m = "?" if dialect == "sqlite" else "%s"
        self.mark = m
        self.dialect = dialect
        self.sqlite = dialect == "sqlite"
        # PostgreSQL: fixed texts with array parameters, prepared once per connection.
        # Each array is one text literal (``db.pg_arrays``): psycopg adapts a list
        # element by element, which cost the writer more than a third of its time.
        self.contacts_any = (
            f"SELECT id, contact_id FROM {DELIVERIES.name} "  # noqa: S608
            "WHERE id = ANY(%s::bigint[]) AND contact_id IS NOT NULL"
        )
        self.markers_unnest = (
            f"INSERT INTO {MARKERS.name} (email_id, kind, link_id, recipient_key) "  # noqa: S608
            "SELECT * FROM unnest(%s::bigint[], %s::varchar[], %s::bigint[], %s::bytea[]) "
            "ON CONFLICT DO NOTHING RETURNING email_id, kind, link_id, recipient_key"
        )
        # One row per event, as one statement with a column array each: a statement
        # per row cost PostgreSQL an executor start and end each, and psycopg a
        # message each.
        self.events_unnest = (
            f"INSERT INTO {EVENTS.name} (email_id, link_id, type, occurred_at, "  # noqa: S608
            "automated, automated_reason, identified) SELECT * FROM unnest(%s::bigint[], "
            "%s::bigint[], %s::varchar[], %s::timestamptz[], %s::boolean[], %s::varchar[], "
            "%s::boolean[])"
        )
        self.activities_unnest = (
            f"INSERT INTO {ACTIVITIES.name} (contact_id, type, email_id, link_id, value, "  # noqa: S608
            "details, consent_id, occurred_at) SELECT c, t, e, l, v, d::json, k, o FROM "
            "unnest(%s::bigint[], %s::varchar[], %s::bigint[], %s::bigint[], %s::text[], "
            "%s::text[], %s::bigint[], %s::timestamptz[]) AS u(c, t, e, l, v, d, k, o)"
        )
        self.groups_exist = f"SELECT 1 FROM {ContactGroup.__tablename__} LIMIT 1"  # noqa: S608
        # Only placeholders and our own table and column names are formatted into
        # these statements; every value is a parameter.
        self.events = (
            f"INSERT INTO {EVENTS.name} (email_id, link_id, type, occurred_at, "  # noqa: S608
            f"automated, automated_reason, identified) VALUES ({', '.join([m] * 7)})"
        )
        self.activities = (
            f"INSERT INTO {ACTIVITIES.name} (contact_id, type, email_id, link_id, value, "  # noqa: S608
            f"details, consent_id, occurred_at) VALUES ({', '.join([m] * 8)})"
        )
        email_sets = ", ".join(f"{c} = {c} + {m}" for c in EMAIL_COUNTERS)
        self.email_stats = f"UPDATE {EMAIL_STATS.name} SET {email_sets} WHERE email_id = {m}"  # noqa: S608
        link_sets = ", ".join(f"{c} = {c} + {m}" for c in LINK_COUNTERS)
        self.link_stats = f"UPDATE {LINK_STATS.name} SET {link_sets} WHERE link_id = {m}"  # noqa: S608
        # PostgreSQL: every link of the batch in two statements instead of one each.
        # The first locks the rows in link order, as the per-row updates did, so
        # two writers never wait for each other in opposite orders.
        link = LINK_STATS.name
        self.link_stats_lock = (
            f"SELECT 1 FROM {link} WHERE link_id = ANY(%s::bigint[]) "  # noqa: S608
            "ORDER BY link_id FOR UPDATE"
        )
        link_adds = ", ".join(f"{c} = {link}.{c} + d.{c}" for c in LINK_COUNTERS)
        self.link_stats_unnest = (
            f"UPDATE {link} SET {link_adds} FROM unnest(%s::bigint[], "  # noqa: S608
            + ", ".join(["%s::integer[]"] * len(LINK_COUNTERS))
            + f") AS d(link_id, {', '.join(LINK_COUNTERS)}) WHERE {link}.link_id = d.link_id"
        )
        t = TIMELINE.name
        self.timeline = (
            f"INSERT INTO {t} (email_id, bucket, opens, clicks) VALUES ({m}, {m}, {m}, {m}) "  # noqa: S608
            f"ON CONFLICT (email_id, bucket) DO UPDATE SET opens = {t}.opens + excluded.opens, "
            f"clicks = {t}.clicks + excluded.clicks"
        )

    def in_list(self, count: int) -> str:
        """``(?, ?, ...)`` for ``count`` values."""
        return "(" + ", ".join([self.mark] * count) + ")"

    def time(self, at: datetime) -> datetime | str:
        """A UTC datetime as the column stores it."""
        return driver_time(self.dialect, at)


_STATEMENTS = {name: _Statements(name) for name in ("sqlite", "postgresql")}


@dataclass
class BatchOutcome:
    """What a batch changed, for after-commit work (groups, webhooks)."""

    identified_contacts: set[int] = field(default_factory=set)
    activities: int = 0
    groups_exist: bool = False  # asked in the batch's first round trip
    markers: list[Marker] = field(default_factory=list)  # all exist once committed


class KnownMarkers:
    """Unique markers a writer knows to exist, so it does not insert them again.

    A marker, once committed, is never deleted while its email exists (emails are
    never deleted; erasure and retention leave markers, which hold no personal data),
    so a marker seen committed is still there: inserting it again would only find the
    conflict, which cost PostgreSQL an index probe and a speculative insertion per
    row. A recipient's open and click markers come back with each of their later
    interactions; those are the ones this spares. Only committed markers are added
    (``add_committed``), never those of a batch that rolled back.

    Bounded by two generations of ``limit`` markers each: when the current one is
    full it becomes the previous one and the oldest are forgotten (at most about
    25 MB for the default). Another writer process has its own; a marker it does not
    know is inserted and found to exist, as before.
    """

    def __init__(self, limit: int = 50_000) -> None:
        self.limit = limit
        self._current: set[Marker] = set()
        self._previous: set[Marker] = set()

    def __contains__(self, marker: Marker) -> bool:
        return marker in self._current or marker in self._previous

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)

    def add_committed(self, markers: list[Marker]) -> None:
        """Remember ``markers``, all of them committed."""
        self._current.update(markers)
        if len(self._current) > self.limit:
            self._previous, self._current = self._current, set()


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


MARKER_CHUNK = 2000  # rows per statement; 4 parameters each stays under every limit


def _fresh(rows: list[Any]) -> set[Marker]:
    return {(row[0], row[1], row[2], bytes(row[3])) for row in rows}


def _contacts_and_markers(
    cur: Any, sql: _Statements, delivery_ids: list[int], markers: list[Marker]
) -> tuple[dict[int, int], set[Marker], bool]:
    """Contact id per delivery (deliveries whose contact was erased have none), the
    markers not seen before, inserted now, and whether any contact group exists."""
    if not sql.sqlite:
        return _contacts_and_markers_pg(cur, sql, delivery_ids, markers)
    cur.execute(sql.groups_exist)
    groups_exist = cur.fetchone() is not None
    statement = (
        f"SELECT id, contact_id FROM {DELIVERIES.name} "  # noqa: S608
        f"WHERE id IN {sql.in_list(len(delivery_ids))} AND contact_id IS NOT NULL"
    )
    cur.execute(statement, tuple(delivery_ids))
    contacts = dict(cur.fetchall())
    rows: list[Any] = []
    for start in range(0, len(markers), MARKER_CHUNK):
        chunk = markers[start : start + MARKER_CHUNK]
        values = ", ".join(["(?, ?, ?, ?)"] * len(chunk))
        statement = (
            f"INSERT INTO {MARKERS.name} (email_id, kind, link_id, recipient_key) "  # noqa: S608
            f"VALUES {values} ON CONFLICT DO NOTHING "
            "RETURNING email_id, kind, link_id, recipient_key"
        )
        cur.execute(statement, tuple(value for marker in chunk for value in marker))
        rows += cur.fetchall()
    return contacts, _fresh(rows), groups_exist


def _contacts_and_markers_pg(
    cur: Any, sql: _Statements, delivery_ids: list[int], markers: list[Marker]
) -> tuple[dict[int, int], set[Marker], bool]:
    # All in one round trip (the transaction's BEGIN too), as fixed statement texts
    # with array parameters, which PostgreSQL plans once per connection.
    connection = cur.connection
    markers_cur, groups_cur = connection.cursor(), connection.cursor()
    with connection.pipeline():
        groups_cur.execute(sql.groups_exist)
        cur.execute(sql.contacts_any, (pg_arrays.ints(delivery_ids),))
        if markers:
            emails, kinds, links, keys = zip(*markers, strict=True)
            markers_cur.execute(
                sql.markers_unnest,
                (
                    pg_arrays.ints(emails),
                    pg_arrays.texts(kinds),
                    pg_arrays.ints(links),
                    pg_arrays.byteas(keys),
                ),
            )
    groups_exist = groups_cur.fetchone() is not None
    contacts = dict(cur.fetchall())
    fresh = _fresh(markers_cur.fetchall()) if markers else set()
    markers_cur.close()
    groups_cur.close()
    return contacts, fresh, groups_exist


def apply_batch(
    session: Session,
    events: Sequence[TrackedEvent],
    *,
    signer: TokenSigner,
    policy: TrackingPolicy,
    commit: bool = False,
    known: KnownMarkers | None = None,
) -> BatchOutcome:
    """Record ``events``; the caller commits the session.

    Markers in ``known`` are taken as existing and not inserted; the outcome lists
    every marker of the batch, for the caller to add to ``known`` once committed.

    Driver statements on a cursor of the session's own connection (inside its
    transaction): no ORM or Core bookkeeping per statement. With ``commit`` on
    PostgreSQL the transaction's COMMIT goes out with the writes, in their round
    trip; the session's own commit then finds nothing left to do but still runs its
    after-commit hooks. Nothing that can fail may touch the database after that.
    """
    if not events:
        return BatchOutcome()
    conn = session.connection()
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        return _apply(
            conn, session, events, signer=signer, policy=policy, commit=commit, known=known
        )
    except dbapi_error as exc:
        # As SQLAlchemy would have raised it, so the writer tells a refused batch
        # (split and retry) from a transient failure (retry) the same way.
        lost = conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, None)
        if lost:
            conn.invalidate()  # the pool must not hand this connection out again
        raise DBAPIError.instance(None, None, exc, dbapi_error, lost) from exc


def _apply(
    conn: Connection,
    session: Session,
    events: Sequence[TrackedEvent],
    *,
    signer: TokenSigner,
    policy: TrackingPolicy,
    commit: bool,
    known: KnownMarkers | None,
) -> BatchOutcome:
    outcome = BatchOutcome()
    sql = _STATEMENTS[conn.dialect.name]
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    human = [e for e in events if not e.automated]
    keys = {d: signer.recipient_key(d) for d in {e.delivery_id for e in human}}
    wanted: list[Marker] = []
    seen_wanted: set[Marker] = set()
    for e in human:
        key = keys[e.delivery_id]
        for marker in _markers_for(e, key):
            if marker not in seen_wanted:
                seen_wanted.add(marker)
                wanted.append(marker)
    outcome.markers = wanted
    if known is not None:
        wanted = [marker for marker in wanted if marker not in known]
    delivery_ids = sorted({e.delivery_id for e in events})
    contacts, fresh, outcome.groups_exist = _contacts_and_markers(cur, sql, delivery_ids, wanted)
    subjects = {
        (cid, e.email_id) for e in human if (cid := contacts.get(e.delivery_id)) is not None
    }
    allowed = policy.allowed(session, subjects, max(e.occurred_at for e in events))

    email_deltas: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    link_deltas: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    timeline: dict[tuple[int, datetime], list[int]] = {}
    event_rows: list[tuple[Any, ...]] = []
    activity_rows: list[tuple[Any, ...]] = []

    for e in events:
        contact_id = contacts.get(e.delivery_id)
        consent_id = allowed.get((contact_id, e.email_id)) if contact_id is not None else None
        identified = (
            not e.automated and contact_id is not None and (contact_id, e.email_id) in allowed
        )
        at = sql.time(e.occurred_at)
        event_rows.append(
            (e.email_id, e.link_id, e.kind, at, e.automated, e.automated_reason, identified)
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
        hour = (e.email_id, _hour(e.occurred_at))
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
                    (contact_id, OPENED, e.email_id, None, None, details, consent_id, at)
                )
        if e.kind == CLICK:
            stats["clicks_total"] += 1
            stats["clicks_identified" if identified else "clicks_anonymous"] += 1
            bucket[1] += 1
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
                activity_rows.append(
                    (contact_id, CLICKED, e.email_id, e.link_id, e.url, None, consent_id, at)
                )
        if identified and contact_id is not None:
            outcome.identified_contacts.add(contact_id)

    # The writes need no answers: on PostgreSQL they go out in one pipeline, one
    # round trip instead of one per statement.
    pipeline = getattr(cur.connection, "pipeline", None)
    with pipeline() if pipeline is not None else contextlib.nullcontext():
        _insert_rows(cur, sql.events, sql.events_unnest, event_rows, sql.sqlite, EVENT_COLUMNS)
        if activity_rows:
            _insert_rows(
                cur,
                sql.activities,
                sql.activities_unnest,
                activity_rows,
                sql.sqlite,
                ACTIVITY_COLUMNS,
            )
            outcome.activities = len(activity_rows)
        _add_counters(cur, sql, email_deltas, link_deltas, timeline)
        if commit and pipeline is not None:
            # A statement, not ``connection.commit()``, which would sync the
            # pipeline on its own: this way the writes, the COMMIT and its answer
            # make one round trip.
            cur.execute("COMMIT")
    cur.close()
    return outcome


OPENED = ActivityType.EMAIL_OPEN.value
CLICKED = ActivityType.EMAIL_CLICK.value


_Encoder = Callable[[Sequence[Any]], str]
EVENT_COLUMNS: tuple[_Encoder, ...] = (
    pg_arrays.ints,
    pg_arrays.ints,
    pg_arrays.texts,
    pg_arrays.times,
    pg_arrays.bools,
    pg_arrays.texts,
    pg_arrays.bools,
)
ACTIVITY_COLUMNS: tuple[_Encoder, ...] = (
    pg_arrays.ints,
    pg_arrays.texts,
    pg_arrays.ints,
    pg_arrays.ints,
    pg_arrays.texts,
    pg_arrays.texts,
    pg_arrays.ints,
    pg_arrays.times,
)


def _insert_rows(
    cur: Any,
    per_row: str,
    arrays: str,
    rows: list[tuple[Any, ...]],
    sqlite: bool,
    encoders: tuple[_Encoder, ...],
) -> None:
    """SQLite: one prepared statement run per row. PostgreSQL: one statement, one
    array literal per column."""
    if sqlite:
        cur.executemany(per_row, rows)
    else:
        columns = zip(*rows, strict=True)
        cur.execute(
            arrays, [encode(column) for encode, column in zip(encoders, columns, strict=True)]
        )


def _markers_for(e: TrackedEvent, key: bytes) -> list[Marker]:
    markers: list[Marker] = [(e.email_id, "o", 0, key)]
    if e.kind == CLICK:
        markers.append((e.email_id, "c", 0, key))
        if e.link_id is not None:
            markers.append((e.email_id, "l", e.link_id, key))
    return markers


def _add_counters(
    cur: Any,
    sql: _Statements,
    email_deltas: dict[int, dict[str, int]],
    link_deltas: dict[int, dict[str, int]],
    timeline: dict[tuple[int, datetime], list[int]],
) -> None:
    # Sorted, so concurrent writers take row locks in one order.
    email_rows = [
        (*(deltas.get(name, 0) for name in EMAIL_COUNTERS), email_id)
        for email_id, deltas in sorted(email_deltas.items())
    ]
    cur.executemany(sql.email_stats, email_rows)
    link_rows = [
        (*(deltas.get(name, 0) for name in LINK_COUNTERS), link_id)
        for link_id, deltas in sorted(link_deltas.items())
    ]
    if link_rows:
        if sql.sqlite:
            cur.executemany(sql.link_stats, link_rows)
        else:
            *counters, ids = zip(*link_rows, strict=True)
            link_ids = pg_arrays.ints(ids)
            cur.execute(sql.link_stats_lock, (link_ids,))
            cur.execute(sql.link_stats_unnest, [link_ids, *map(pg_arrays.ints, counters)])
    bucket_rows = [
        (email_id, sql.time(bucket), opens, clicks)
        for (email_id, bucket), (opens, clicks) in sorted(timeline.items())
        if opens or clicks
    ]
    if bucket_rows:
        cur.executemany(sql.timeline, bucket_rows)
