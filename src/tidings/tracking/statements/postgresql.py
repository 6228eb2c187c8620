"""A tracking batch's statements on PostgreSQL: fixed texts over array parameters,
planned once per connection, in two pipelined round trips.

Each array travels as one text literal (``db.pg_arrays``): psycopg adapts a list
element by element, which cost the writer more than a third of its time. One row per
event goes in through ``unnest``, not one statement per row, which cost PostgreSQL an
executor start and end each, and psycopg a message each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from tidings.db import pg_arrays
from tidings.events import EventType
from tidings.events.listen import NOTIFY
from tidings.events.publish import LOCK_OUTBOX
from tidings.tracking.markers import Marker
from tidings.tracking.rules import EMAIL_COUNTERS, LINK_COUNTERS, Tally
from tidings.tracking.statements import BatchInputs
from tidings.tracking.statements import tables as t

# Only our own table and column names are formatted into these statements; every
# value is a parameter.
GROUPS_EXIST = f"SELECT 1 FROM {t.GROUPS} LIMIT 1"  # noqa: S608
CONTACTS = (
    f"SELECT id, contact_id FROM {t.DELIVERIES} "  # noqa: S608
    "WHERE id = ANY(%s::bigint[]) AND contact_id IS NOT NULL"
)
MARKERS = (
    f"INSERT INTO {t.MARKERS} ({t.MARKER_COLUMNS}) "  # noqa: S608
    "SELECT * FROM unnest(%s::bigint[], %s::varchar[], %s::bigint[], %s::bytea[]) "
    f"ON CONFLICT DO NOTHING RETURNING {t.MARKER_COLUMNS}"
)
EVENTS = (
    f"INSERT INTO {t.EVENTS} ({t.EVENT_COLUMNS}) SELECT * FROM unnest(%s::bigint[], "  # noqa: S608
    "%s::bigint[], %s::varchar[], %s::timestamptz[], %s::boolean[], %s::varchar[], "
    "%s::boolean[])"
)
# The activities and their ``activity.created`` events in one statement, last before
# the COMMIT and after the outbox lock (``events.publish``): outbox ids in commit order.
ACTIVITIES = (
    f"WITH a AS (INSERT INTO {t.ACTIVITIES} ({t.ACTIVITY_COLUMNS}) SELECT c, t, e, l, v, "  # noqa: S608
    "d::json, k, o FROM unnest(%s::bigint[], %s::varchar[], %s::bigint[], %s::bigint[], "
    "%s::text[], %s::text[], %s::bigint[], %s::timestamptz[]) AS u(c, t, e, l, v, d, k, o) "
    "RETURNING id, contact_id, type, email_id, link_id, value, occurred_at) "
    f"INSERT INTO {t.OUTBOX} (type, occurred_at, data) SELECT "
    f"'{EventType.ACTIVITY_CREATED.value}', now(), json_build_object('contact_id', "
    "contact_id, 'activity_id', id, 'type', type, 'value', value, 'email_id', email_id, "
    "'link_id', link_id, 'url', CASE WHEN type IN ('email_click', 'page_visit') THEN value "
    "END, 'occurred_at', to_char(occurred_at AT TIME ZONE 'UTC', "
    '\'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"\')) FROM a ORDER BY id'
)
EMAIL_STATS = (
    f"UPDATE {t.EMAIL_STATS} SET "  # noqa: S608
    + ", ".join(f"{c} = {c} + %s" for c in EMAIL_COUNTERS)
    + " WHERE email_id = %s"
)
# Every link of the batch in two statements instead of one each. The first locks the
# rows in link order, so two writers never wait for each other in opposite orders.
LINK_STATS_LOCK = (
    f"SELECT 1 FROM {t.LINK_STATS} WHERE link_id = ANY(%s::bigint[]) "  # noqa: S608
    "ORDER BY link_id FOR UPDATE"
)
LINK_STATS = (
    f"UPDATE {t.LINK_STATS} SET "  # noqa: S608
    + ", ".join(f"{c} = {t.LINK_STATS}.{c} + d.{c}" for c in LINK_COUNTERS)
    + " FROM unnest(%s::bigint[], "
    + ", ".join(["%s::integer[]"] * len(LINK_COUNTERS))
    + f") AS d(link_id, {', '.join(LINK_COUNTERS)}) WHERE {t.LINK_STATS}.link_id = d.link_id"
)
TIMELINE = (
    f"INSERT INTO {t.TIMELINE} (email_id, bucket, opens, clicks) VALUES (%s, %s, %s, %s) "  # noqa: S608
    f"ON CONFLICT (email_id, bucket) DO UPDATE SET opens = {t.TIMELINE}.opens + "
    f"excluded.opens, clicks = {t.TIMELINE}.clicks + excluded.clicks"
)
REASONS = (
    f"INSERT INTO {t.REASONS} (email_id, kind, reason, count) VALUES (%s, %s, %s, %s) "  # noqa: S608
    f"ON CONFLICT (email_id, kind, reason) DO UPDATE SET count = {t.REASONS}.count + "
    "excluded.count"
)
# A burst's corrections (rare): one row each, found by what it holds.
RECLASSIFY = (
    f"UPDATE {t.EVENTS} SET automated = true, automated_reason = %s, identified = false "  # noqa: S608
    f"WHERE id = (SELECT id FROM {t.EVENTS} WHERE email_id = %s "
    "AND link_id IS NOT DISTINCT FROM %s::bigint AND type = %s AND occurred_at = %s "
    "AND NOT automated LIMIT 1)"
)
CHANGED = (
    f"INSERT INTO {t.OUTBOX} (type, occurred_at, data) SELECT "  # noqa: S608
    f"'{EventType.CONTACT_CHANGED.value}', now(), json_build_object('contact_id', c) "
    "FROM unnest(%s::bigint[]) AS u(c)"
)
REMOVE_ACTIVITY = (
    f"DELETE FROM {t.ACTIVITIES} WHERE id = (SELECT id FROM {t.ACTIVITIES} "  # noqa: S608
    "WHERE contact_id = %s AND type = %s AND email_id = %s "
    "AND link_id IS NOT DISTINCT FROM %s::bigint AND occurred_at = %s LIMIT 1)"
)
REMOVE_MARKER = (
    f"DELETE FROM {t.MARKERS} WHERE email_id = %s AND kind = %s AND link_id = %s "  # noqa: S608
    "AND recipient_key = %s"
)

_Encoder = Callable[[Sequence[Any]], str]
EVENT_ARRAYS: tuple[_Encoder, ...] = (
    pg_arrays.ints,
    pg_arrays.ints,
    pg_arrays.texts,
    pg_arrays.times,
    pg_arrays.bools,
    pg_arrays.texts,
    pg_arrays.bools,
)
ACTIVITY_ARRAYS: tuple[_Encoder, ...] = (
    pg_arrays.ints,
    pg_arrays.texts,
    pg_arrays.ints,
    pg_arrays.ints,
    pg_arrays.texts,
    pg_arrays.texts,
    pg_arrays.ints,
    pg_arrays.times,
)


def _arrays(rows: Sequence[tuple[Any, ...]], encoders: tuple[_Encoder, ...]) -> list[str]:
    """One array literal per column of ``rows``."""
    columns = zip(*rows, strict=True)
    return [encode(column) for encode, column in zip(encoders, columns, strict=True)]


class PostgresStatements:
    """``BatchStatements`` for PostgreSQL."""

    dialect = "postgresql"

    def time(self, at: datetime) -> datetime | str:
        """Timestamps go in as they are (timestamptz)."""
        return at

    def read(self, cur: Any, delivery_ids: list[int], markers: list[Marker]) -> BatchInputs:
        """Contacts, fresh markers and whether groups exist in one round trip, the
        transaction's BEGIN included."""
        connection = cur.connection
        markers_cur, groups_cur = connection.cursor(), connection.cursor()
        with connection.pipeline():
            groups_cur.execute(GROUPS_EXIST)
            cur.execute(CONTACTS, (pg_arrays.ints(delivery_ids),))
            if markers:
                emails, kinds, links, keys = zip(*markers, strict=True)
                markers_cur.execute(
                    MARKERS,
                    (
                        pg_arrays.ints(emails),
                        pg_arrays.texts(kinds),
                        pg_arrays.ints(links),
                        pg_arrays.byteas(keys),
                    ),
                )
        groups_exist = groups_cur.fetchone() is not None
        contacts = dict(cur.fetchall())
        fresh: set[Marker] = set()
        if markers:
            fresh = {(row[0], row[1], row[2], bytes(row[3])) for row in markers_cur.fetchall()}
        markers_cur.close()
        groups_cur.close()
        return contacts, fresh, groups_exist

    def write(self, cur: Any, tally: Tally, *, commit: bool) -> None:
        """Every write in one pipeline (they need no answers), with ``commit`` the
        COMMIT too: one round trip."""
        with cur.connection.pipeline():
            cur.execute(EVENTS, _arrays(tally.events, EVENT_ARRAYS))
            # Sorted, so concurrent writers take row locks in one order.
            cur.executemany(
                EMAIL_STATS,
                [
                    (*(deltas.get(name, 0) for name in EMAIL_COUNTERS), email_id)
                    for email_id, deltas in sorted(tally.email_deltas.items())
                ],
            )
            if tally.link_deltas:
                link_rows = [
                    (*(deltas.get(name, 0) for name in LINK_COUNTERS), link_id)
                    for link_id, deltas in sorted(tally.link_deltas.items())
                ]
                *counters, ids = zip(*link_rows, strict=True)
                link_ids = pg_arrays.ints(ids)
                cur.execute(LINK_STATS_LOCK, (link_ids,))
                cur.execute(LINK_STATS, [link_ids, *map(pg_arrays.ints, counters)])
            buckets = [
                (email_id, bucket, opens, clicks)
                for (email_id, bucket), (opens, clicks) in sorted(tally.timeline.items())
                if opens or clicks
            ]
            if buckets:
                cur.executemany(TIMELINE, buckets)
            if tally.reasons:
                cur.executemany(REASONS, [(*k, n) for k, n in sorted(tally.reasons.items())])
            if tally.reclassified:
                cur.executemany(
                    RECLASSIFY,
                    [(r, e, link, kind, at) for e, link, kind, at, r in tally.reclassified],
                )
            if tally.removed_activities:
                cur.executemany(
                    REMOVE_ACTIVITY,
                    [(r[0], r[1], r[2], r[3], r[7]) for r in tally.removed_activities],
                )
            if tally.removed_markers:
                cur.executemany(REMOVE_MARKER, tally.removed_markers)
            taken_back = sorted({row[0] for row in tally.removed_activities if row[0] is not None})
            if tally.activities or taken_back:
                # Last: nothing may wait for a row lock while the outbox lock is held
                # (an activity's key-share lock on its contact cannot: a contact is
                # deleted only by a transaction holding the outbox lock already).
                cur.execute(LOCK_OUTBOX)
            if tally.activities:
                cur.execute(ACTIVITIES, _arrays(tally.activities, ACTIVITY_ARRAYS))
            if taken_back:
                # A burst took activities back: the contacts' groups follow.
                cur.execute(CHANGED, (pg_arrays.ints(taken_back),))
            if tally.activities or taken_back:
                # Wakes the dispatchers of every process when this commits.
                cur.execute(NOTIFY)
            if commit:
                # A statement, not ``connection.commit()``, which would sync the
                # pipeline on its own: this way the writes, the COMMIT and its answer
                # make one round trip.
                cur.execute("COMMIT")
