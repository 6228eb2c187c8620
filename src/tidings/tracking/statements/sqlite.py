"""A tracking batch's statements on SQLite: multi-row inserts, ``executemany`` per table."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tidings.activities.service import event_data
from tidings.db.base import driver_time
from tidings.events import EventType
from tidings.tracking.markers import Marker
from tidings.tracking.rules import EMAIL_COUNTERS, LINK_COUNTERS, Tally
from tidings.tracking.statements import BatchInputs
from tidings.tracking.statements import tables as t

MARKER_CHUNK = 2000  # rows per statement; 4 parameters each stays under every limit
ACTIVITY_CHUNK = 1000  # 8 parameters each

# Only placeholders and our own table and column names are formatted into these
# statements; every value is a parameter.
GROUPS_EXIST = f"SELECT 1 FROM {t.GROUPS} LIMIT 1"  # noqa: S608
EVENTS = f"INSERT INTO {t.EVENTS} ({t.EVENT_COLUMNS}) VALUES ({', '.join(['?'] * 7)})"  # noqa: S608
ACTIVITY_VALUES = "(" + ", ".join(["?"] * 8) + ")"
# Each new activity comes back whole, so its ``activity.created`` event needs no
# order: SQLite does not promise RETURNING rows in the order of the VALUES.
ACTIVITY_RETURNING = "id, contact_id, type, email_id, link_id, value, occurred_at"
OUTBOX = f"INSERT INTO {t.OUTBOX} (type, occurred_at, data) VALUES (?, ?, ?)"  # noqa: S608
EMAIL_STATS = (
    f"UPDATE {t.EMAIL_STATS} SET "  # noqa: S608
    + ", ".join(f"{c} = {c} + ?" for c in EMAIL_COUNTERS)
    + " WHERE email_id = ?"
)
LINK_STATS = (
    f"UPDATE {t.LINK_STATS} SET "  # noqa: S608
    + ", ".join(f"{c} = {c} + ?" for c in LINK_COUNTERS)
    + " WHERE link_id = ?"
)
TIMELINE = (
    f"INSERT INTO {t.TIMELINE} (email_id, bucket, opens, clicks) VALUES (?, ?, ?, ?) "  # noqa: S608
    f"ON CONFLICT (email_id, bucket) DO UPDATE SET opens = {t.TIMELINE}.opens + "
    f"excluded.opens, clicks = {t.TIMELINE}.clicks + excluded.clicks"
)


def _in_list(count: int) -> str:
    return "(" + ", ".join(["?"] * count) + ")"


class SqliteStatements:
    """``BatchStatements`` for SQLite."""

    dialect = "sqlite"

    def time(self, at: datetime) -> datetime | str:
        """The naive UTC text SQLAlchemy writes for a ``UTCDateTime``."""
        return driver_time("sqlite", at)

    def read(self, cur: Any, delivery_ids: list[int], markers: list[Marker]) -> BatchInputs:
        """Contacts, fresh markers and whether groups exist, one statement after another."""
        cur.execute(GROUPS_EXIST)
        groups_exist = cur.fetchone() is not None
        statement = (
            f"SELECT id, contact_id FROM {t.DELIVERIES} "  # noqa: S608
            f"WHERE id IN {_in_list(len(delivery_ids))} AND contact_id IS NOT NULL"
        )
        cur.execute(statement, tuple(delivery_ids))
        contacts = dict(cur.fetchall())
        rows: list[Any] = []
        for start in range(0, len(markers), MARKER_CHUNK):
            chunk = markers[start : start + MARKER_CHUNK]
            values = ", ".join(["(?, ?, ?, ?)"] * len(chunk))
            statement = (
                f"INSERT INTO {t.MARKERS} ({t.MARKER_COLUMNS}) "  # noqa: S608
                f"VALUES {values} ON CONFLICT DO NOTHING RETURNING {t.MARKER_COLUMNS}"
            )
            cur.execute(statement, tuple(value for marker in chunk for value in marker))
            rows += cur.fetchall()
        fresh = {(row[0], row[1], row[2], bytes(row[3])) for row in rows}
        return contacts, fresh, groups_exist

    def write(self, cur: Any, tally: Tally, *, commit: bool) -> None:
        """One prepared statement per table, run per row; the session commits."""
        cur.executemany(EVENTS, tally.events)
        if tally.activities:
            self._activities(cur, tally.activities)
        # Sorted, so concurrent writers take row locks in one order.
        cur.executemany(
            EMAIL_STATS,
            [
                (*(deltas.get(name, 0) for name in EMAIL_COUNTERS), email_id)
                for email_id, deltas in sorted(tally.email_deltas.items())
            ],
        )
        if tally.link_deltas:
            cur.executemany(
                LINK_STATS,
                [
                    (*(deltas.get(name, 0) for name in LINK_COUNTERS), link_id)
                    for link_id, deltas in sorted(tally.link_deltas.items())
                ],
            )
        buckets = [
            (email_id, self.time(bucket), opens, clicks)
            for (email_id, bucket), (opens, clicks) in sorted(tally.timeline.items())
            if opens or clicks
        ]
        if buckets:
            cur.executemany(TIMELINE, buckets)

    def _activities(self, cur: Any, rows: list[Any]) -> None:
        """Insert the activities and their ``activity.created`` events."""
        created: list[Any] = []
        for start in range(0, len(rows), ACTIVITY_CHUNK):
            chunk = rows[start : start + ACTIVITY_CHUNK]
            statement = (
                f"INSERT INTO {t.ACTIVITIES} ({t.ACTIVITY_COLUMNS}) "  # noqa: S608
                f"VALUES {', '.join([ACTIVITY_VALUES] * len(chunk))} "
                f"RETURNING {ACTIVITY_RETURNING}"
            )
            cur.execute(statement, tuple(value for row in chunk for value in row))
            created += cur.fetchall()
        created.sort()
        now = self.time(datetime.now(UTC))
        outbox = []
        for activity_id, contact_id, kind, email_id, link_id, value, occurred in created:
            at = datetime.fromisoformat(occurred).replace(tzinfo=UTC)
            data = event_data(
                activity_id=activity_id,
                contact_id=contact_id,
                type=kind,
                value=value,
                email_id=email_id,
                link_id=link_id,
                occurred_at=at,
            )
            outbox.append((EventType.ACTIVITY_CREATED.value, now, json.dumps(data)))
        cur.executemany(OUTBOX, outbox)
