"""Apply a batch of tracked events in one transaction (B1, B2, B6).

The counting rules are ``tracking.rules`` (pure); the statements are those of the
database's dialect (``tracking.statements``); the consent decision is the policy's.
This module runs them in order on the batch's connection: read the contacts and
insert the markers, ask the policy, tally, write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tidings.consent.policy import TrackingPolicy
from tidings.tracking import rules, statements
from tidings.tracking.events import TrackedEvent
from tidings.tracking.markers import KnownMarkers, Marker
from tidings.tracking.windows import CountingWindows

__all__ = ["BatchOutcome", "KnownMarkers", "apply_batch"]


@dataclass
class BatchOutcome:
    """What a batch changed, for after-commit work (groups, webhooks)."""

    identified_contacts: set[int] = field(default_factory=set)
    activities: int = 0
    groups_exist: bool = False  # asked in the batch's first round trip
    markers: list[Marker] = field(default_factory=list)  # all exist once committed
    effects: list[rules.Effect | None] = field(default_factory=list)  # one per event
    removed_markers: list[Marker] = field(default_factory=list)  # deleted by a burst


def apply_batch(
    session: Session,
    events: Sequence[TrackedEvent],
    *,
    windows: CountingWindows,
    policy: TrackingPolicy,
    commit: bool = False,
    known: KnownMarkers | None = None,
    take_back: Sequence[tuple[rules.Effect, str]] = (),
) -> BatchOutcome:
    """Record ``events``; the caller commits the session.

    ``take_back``: earlier human events found automated (``bursts``), undone in the
    same transaction.

    ``windows`` must know the window of every email of the batch's human events
    (``CountingWindows.prepare``, before the session's transaction began): the marker
    keys come from there.

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
            conn, session, events, windows=windows, policy=policy, commit=commit, known=known,
            take_back=take_back,
        )  # fmt: skip
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
    windows: CountingWindows,
    policy: TrackingPolicy,
    commit: bool,
    known: KnownMarkers | None,
    take_back: Sequence[tuple[rules.Effect, str]],
) -> BatchOutcome:
    sql = statements.for_dialect(conn.dialect.name)
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    keys = windows.recipient_keys(events)
    wanted = rules.markers_of(events, keys)
    outcome = BatchOutcome(markers=wanted)
    if known is not None:
        wanted = [marker for marker in wanted if marker not in known]
    delivery_ids = sorted({e.delivery_id for e in events})
    contacts, fresh, outcome.groups_exist = sql.read(cur, delivery_ids, wanted)
    allowed = policy.allowed(
        session, rules.subjects_of(events, contacts), max(e.occurred_at for e in events)
    )
    tally = rules.tally(
        events, keys=keys, contacts=contacts, allowed=allowed, fresh=fresh, time=sql.time,
        take_back=take_back,
    )  # fmt: skip
    sql.write(cur, tally, commit=commit)
    outcome.identified_contacts = tally.identified_contacts
    outcome.activities = len(tally.activities) + len(tally.removed_activities)
    outcome.effects = tally.effects
    outcome.removed_markers = tally.removed_markers
    cur.close()
    return outcome
