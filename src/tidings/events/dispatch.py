"""Delivery: each subscriber's next events, its handler and its cursor move in one
transaction.

A pass takes each subscriber in turn: lock its cursor row (``FOR UPDATE`` on
PostgreSQL, so two dispatchers never hand one event to one subscriber twice; SQLite
has one writer), read the highest outbox id, read up to ``batch_size`` events of its
types after the cursor, call ``handle(session, events)``, move the cursor and commit.
A handler that raises is rolled back, the failure is written on its cursor row and
the subscriber is tried again after a growing delay; the others go on.

Where the pass runs: ``DispatchLoop``, a thread of every process that runs workers,
woken after each commit that published in that process and every
``PERIODIC_SECONDS`` otherwise. A process without the loop (the tracking writer
process, a web process without workers, the CLI) wakes a loop elsewhere with the
``events.dispatch`` job. While the tracking writer marks the machine busy, the loop
holds its passes back (clicks first, ``jobs.pressure``): at most ``MAX_HOLD_BACK``
seconds at a time, then one batch of ``FORCED_BATCH`` events per subscriber.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Engine, Table, delete, func, select, update
from sqlalchemy.orm import Session

from tidings.db.base import utcnow
from tidings.db.session import make_sessionmaker, session_scope
from tidings.db.upsert import insert_for
from tidings.events.listen import Listener
from tidings.events.models import OutboxEvent, SubscriberCursor
from tidings.events.types import Event, EventType, Subscriber
from tidings.jobs.loop import BackgroundLoop
from tidings.jobs.pressure import FORCED_BATCH, HoldBack, busy_file

if TYPE_CHECKING:
    from tidings.runtime import Runtime

log = logging.getLogger(__name__)

PERIODIC_SECONDS = 2.0  # a pass at least this often, for what no wake-up announced
# SQLite has no notifications: the loop looks at the outbox's highest id this often
# (one indexed read without a transaction) and runs a pass when it grew.
PEEK_SECONDS = 0.05
# The loop's rounds (a pass goes on in rounds while events keep coming, and every
# commit wakes it for a new pass) start at least this far apart: under a steady
# stream each round takes the events of a tenth of a second together (one
# transaction per subscriber, one batch of messages) instead of one or two clicks.
ROUND_SECONDS = 0.1
MAX_RETRY_SECONDS = 300.0
_OUTBOX = cast(Table, OutboxEvent.__table__)
_CURSORS = cast(Table, SubscriberCursor.__table__)
KEEP = timedelta(days=1)  # events every subscriber has passed stay this long
ERROR_CHARS = 2000


@dataclass
class _Registry:
    """What one runtime knows of the stream: its subscribers and its loop."""

    subscribers: tuple[Subscriber, ...] | None = None
    loop: DispatchLoop | None = None
    listener: Listener | None = None
    enqueue_wakeups: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)


def _registry(runtime: Runtime) -> _Registry:
    return _Registry()


def registry_of(runtime: Runtime) -> _Registry:
    """The runtime's stream state (one per runtime)."""
    return runtime.shared(_registry)


def use_subscribers(runtime: Runtime, subscribers: Sequence[Subscriber]) -> None:
    """The subscribers this runtime delivers to (the assembly's table)."""
    names = [s.name for s in subscribers]
    if len(set(names)) != len(names):
        raise ValueError(f"subscriber names must be unique: {names}")
    registry_of(runtime).subscribers = tuple(subscribers)


def subscribers_of(runtime: Runtime) -> tuple[Subscriber, ...]:
    """The subscribers given with ``use_subscribers`` (none until then)."""
    return registry_of(runtime).subscribers or ()


def wake(runtime: Runtime) -> None:
    """Something was published and committed: run a pass soon."""
    state = registry_of(runtime)
    loop = state.loop
    if loop is not None and loop.running():
        loop.poke()
        return
    if not state.enqueue_wakeups:
        return
    try:
        runtime.queue.enqueue("events.dispatch")
    except Exception:  # noqa: BLE001 - the periodic pass delivers all the same
        log.warning("could not enqueue events.dispatch; the periodic pass will deliver")


def wake_local(runtime: Runtime) -> None:
    """Wake this process's loop if it runs one (never enqueues)."""
    loop = registry_of(runtime).loop
    if loop is not None:
        loop.poke()


# -- one pass -------------------------------------------------------------------


class HandlerFailed(RuntimeError):
    """A subscriber's handler raised (``drain`` re-raises it)."""


SessionFactory = Callable[[], Any]


def _sessions_of(target: Runtime | Engine) -> Callable[[], Any]:
    if isinstance(target, Engine):
        factory = make_sessionmaker(target)
        return lambda: session_scope(factory)
    return target.session


def _ensure_cursors(open_session: SessionFactory, subscribers: Sequence[Subscriber]) -> None:
    with open_session() as session:
        have = set(session.scalars(select(SubscriberCursor.name)))
        missing = [s.name for s in subscribers if s.name not in have]
        if missing:
            statement = insert_for(session, SubscriberCursor).values(
                [
                    {"name": name, "position": 0, "failures": 0, "updated_at": utcnow()}
                    for name in missing
                ]
            )
            session.execute(statement.on_conflict_do_nothing())


def deliver_one(
    open_session: SessionFactory,
    subscriber: Subscriber,
    *,
    raise_errors: bool = False,
    limit: int | None = None,
) -> tuple[int, bool]:
    """One batch (of at most ``limit`` events, if given) to ``subscriber``: (events
    handled, whether more may be pending)."""
    try:
        with open_session() as session:
            return _deliver(session, subscriber, limit)
    except Exception as exc:
        log.exception("event subscriber %s failed; retrying later", subscriber.name)
        _record_failure(open_session, subscriber, exc)
        if raise_errors:
            raise HandlerFailed(f"subscriber {subscriber.name} failed: {exc!r}") from exc
        return 0, False


def _deliver(session: Session, subscriber: Subscriber, limit: int | None) -> tuple[int, bool]:
    now = utcnow()
    size = subscriber.batch_size if limit is None else max(1, min(limit, subscriber.batch_size))
    # Core statements on the tables: a pass runs several of these a second, and the
    # ORM's update would first look for matching objects among everything the
    # handler loaded into the session.
    cursor = session.execute(
        select(_CURSORS.c.position, _CURSORS.c.retry_at)
        .where(_CURSORS.c.name == subscriber.name)
        .with_for_update()
    ).first()
    if cursor is None:
        return 0, False
    if cursor.retry_at is not None and cursor.retry_at > now:
        return 0, False
    top = session.scalar(select(func.max(_OUTBOX.c.id)))
    if top is None or top <= cursor.position:
        return 0, False
    rows = session.execute(
        select(_OUTBOX.c.id, _OUTBOX.c.type, _OUTBOX.c.occurred_at, _OUTBOX.c.data)
        .where(
            _OUTBOX.c.id > cursor.position,
            _OUTBOX.c.id <= top,
            _OUTBOX.c.type.in_([str(t) for t in subscriber.types]),
        )
        .order_by(_OUTBOX.c.id)
        .limit(size)
    ).all()
    events = [Event(id=r[0], type=EventType(r[1]), occurred_at=r[2], data=r[3]) for r in rows]
    full = len(events) == size
    position = events[-1].id if full else top
    if events:
        subscriber.handle(session, events)
    session.execute(
        update(_CURSORS)
        .where(_CURSORS.c.name == subscriber.name)
        .values(position=position, failures=0, last_error=None, retry_at=None, updated_at=now)
    )
    return len(events), full


def _record_failure(open_session: SessionFactory, subscriber: Subscriber, exc: Exception) -> None:
    try:
        with open_session() as session:
            cursor = session.get(SubscriberCursor, subscriber.name, with_for_update=True)
            if cursor is None:
                return
            cursor.failures += 1
            delay = min(2.0 ** (cursor.failures - 1), MAX_RETRY_SECONDS)
            cursor.retry_at = utcnow() + timedelta(seconds=delay)
            cursor.last_error = f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]
            cursor.updated_at = utcnow()
    except Exception:
        log.exception("could not record the failure of subscriber %s", subscriber.name)


def deliver_pending(
    target: Runtime | Engine,
    subscribers: Sequence[Subscriber],
    *,
    raise_errors: bool = False,
    max_rounds: int = 10_000,
    interrupts: Callable[[], bool] | None = None,
    limit: int | None = None,
    pace: Callable[[], None] | None = None,
) -> int:
    """Deliver until no subscriber has an event it can take now, or until
    ``interrupts`` says so after a round (one batch per subscriber, of at most
    ``limit`` events if given); ``pace`` is called before each round (``Pacer``).
    Events handled."""
    if not subscribers:
        return 0
    open_session = _sessions_of(target)
    _ensure_cursors(open_session, subscribers)
    handled = 0
    active = list(subscribers)
    for _ in range(max_rounds):
        if not active:
            break
        if pace is not None:
            pace()
        still: list[Subscriber] = []
        for subscriber in active:
            count, more = deliver_one(
                open_session, subscriber, raise_errors=raise_errors, limit=limit
            )
            handled += count
            if more:
                still.append(subscriber)
        if interrupts is not None and interrupts():
            break
        # A handler may have published further events: one more round for everyone.
        active = still or (list(subscribers) if _published_since(target, subscribers) else [])
    return handled


def _published_since(target: Runtime | Engine, subscribers: Sequence[Subscriber]) -> bool:
    """Whether the outbox holds an event after some subscriber's cursor."""
    open_session = _sessions_of(target)
    names = [s.name for s in subscribers]
    low = (
        select(func.min(_CURSORS.c.position))
        .where(
            _CURSORS.c.name.in_(names),
            _CURSORS.c.retry_at.is_(None) | (_CURSORS.c.retry_at <= utcnow()),
        )
        .scalar_subquery()
    )
    with open_session() as session:
        return bool(session.scalar(select(func.max(_OUTBOX.c.id) > low)))


def drain(target: Runtime | Engine, subscribers: Sequence[Subscriber] | None = None) -> int:
    """Only for tests: deliver every pending event synchronously to every subscriber
    and return when nothing is pending; a handler's error is raised.

    Subscribers: ``subscribers``, else the runtime's (``use_subscribers``), else the
    assembly's table (``tidings.assembly.subscribers.SUBSCRIBERS``).
    """
    chosen: Sequence[Subscriber] | None = subscribers
    if chosen is None and not isinstance(target, Engine):
        chosen = subscribers_of(target) or None
    if chosen is None:
        import importlib

        # Tests only: the events package does not import the assembly otherwise.
        module = importlib.import_module("tidings.assembly.subscribers")
        chosen = module.SUBSCRIBERS
    assert chosen is not None
    _clear_retries(target, chosen)
    return deliver_pending(target, chosen, raise_errors=True)


def _clear_retries(target: Runtime | Engine, subscribers: Sequence[Subscriber]) -> None:
    with _sessions_of(target)() as session:
        session.execute(
            update(SubscriberCursor)
            .where(SubscriberCursor.name.in_([s.name for s in subscribers]))
            .where(SubscriberCursor.retry_at.is_not(None))
            .values(retry_at=None)
        )


def cleanup(
    target: Runtime | Engine, subscribers: Sequence[Subscriber], *, keep: timedelta = KEEP
) -> int:
    """Delete events every subscriber has passed and older than ``keep``; how many."""
    if not subscribers:
        return 0
    names = [s.name for s in subscribers]
    with _sessions_of(target)() as session:
        positions = dict(
            session.execute(
                select(SubscriberCursor.name, SubscriberCursor.position).where(
                    SubscriberCursor.name.in_(names)
                )
            ).all()
        )
        if set(positions) != set(names):
            return 0  # a subscriber that has never run has passed nothing
        low = min(positions.values())
        result = session.execute(
            delete(OutboxEvent).where(
                OutboxEvent.id <= low, OutboxEvent.occurred_at < utcnow() - keep
            )
        )
        return int(result.rowcount or 0)


# -- the loop ---------------------------------------------------------------------


class Pacer:
    """Called before each round: waits until ``seconds`` after the round before it
    started (``ROUND_SECONDS``)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last = -seconds

    def __call__(self) -> None:
        wait = self._last + self.seconds - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last = time.monotonic()


class DispatchLoop(BackgroundLoop):
    """The dispatcher thread of a process that runs workers."""

    def __init__(self, runtime: Runtime, *, period: float = PERIODIC_SECONDS) -> None:
        super().__init__("tidings-events", None)
        self.runtime = runtime
        self.period = period
        # PostgreSQL wakes the loop through LISTEN/NOTIFY (``start_dispatcher``);
        # SQLite looks at the outbox often.
        self.peek = period if runtime.engine.dialect.name == "postgresql" else PEEK_SECONDS
        self._wakeup = threading.Event()
        self._wakeup.set()  # a first pass at start: whatever a restart left behind
        self._seen_top = -1
        self._retries_looked = 0.0
        self.hold_back = HoldBack(busy_file(runtime.settings.resolved_data_dir()))
        self.pacer = Pacer(ROUND_SECONDS)  # across passes: each commit wakes the loop

    def poke(self) -> None:
        """Run a pass now (or right after the current one)."""
        self._wakeup.set()

    def wake(self) -> None:
        self._wakeup.set()

    def tick(self) -> bool:
        woken = self._wakeup.wait(self.peek)
        if self.stopping:
            return False
        self._wakeup.clear()
        subscribers = subscribers_of(self.runtime)
        if not subscribers:
            return True
        if not woken and self._nothing_new():
            return True
        if self.hold_back.now():
            # The tracking writer is saturated: clicks first (``jobs.pressure``).
            self._wakeup.set()  # the pass is still owed
            return True
        # A pass that waited the longest under a burst delivers a little and looks again.
        limit = FORCED_BATCH if self.hold_back.forced else None
        deliver_pending(
            self.runtime,
            subscribers,
            interrupts=self._interrupted,
            limit=limit,
            pace=self.pacer,
        )
        return True

    def _interrupted(self) -> bool:
        if not self.hold_back.interrupts():
            return False
        self._wakeup.set()  # the rest of the pass is still owed
        return True

    def _nothing_new(self) -> bool:
        """A periodic pass is skipped when the outbox has not grown and nobody waits
        to retry (read without a transaction: no write lock on SQLite); the retries
        are looked at every ``period`` seconds."""
        top = _peek_top(self.runtime.engine)
        if top != self._seen_top:
            self._seen_top = top
            return False
        now = time.monotonic()
        if now - self._retries_looked < self.period:
            return True
        self._retries_looked = now
        return not _retry_waiting(self.runtime)


def _peek_top(engine: Engine) -> int:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(f"SELECT max(id) FROM {OutboxEvent.__tablename__}")  # noqa: S608
        row = cur.fetchone()
        cur.close()
        if engine.dialect.name != "sqlite":
            raw.rollback()
        return int(row[0]) if row and row[0] is not None else 0
    finally:
        raw.close()


def _retry_waiting(runtime: Runtime) -> bool:
    raw = runtime.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(
            f"SELECT 1 FROM {SubscriberCursor.__tablename__} WHERE retry_at IS NOT NULL LIMIT 1"  # noqa: S608
        )
        found = cur.fetchone() is not None
        cur.close()
        if runtime.engine.dialect.name != "sqlite":
            raw.rollback()
        return found
    finally:
        raw.close()


@contextmanager
def dispatching(runtime: Runtime, subscribers: Sequence[Subscriber]) -> Iterator[DispatchLoop]:
    """Run a dispatcher thread for ``runtime`` while the block runs."""
    loop = start_dispatcher(runtime, subscribers)
    try:
        yield loop
    finally:
        stop_dispatcher(runtime)


def start_dispatcher(runtime: Runtime, subscribers: Sequence[Subscriber]) -> DispatchLoop:
    """Register ``subscribers`` and start this process's dispatcher thread."""
    use_subscribers(runtime, subscribers)
    state = registry_of(runtime)
    with state.lock:
        if state.loop is None:
            state.loop = DispatchLoop(runtime)
        state.loop.start()
        if runtime.engine.dialect.name == "postgresql" and state.listener is None:
            state.listener = Listener(runtime.engine, state.loop.poke)
            state.listener.start()
        return state.loop


def stop_dispatcher(runtime: Runtime) -> None:
    """Stop this process's dispatcher thread, if it runs."""
    state = registry_of(runtime)
    with state.lock:
        loop, state.loop = state.loop, None
        listener, state.listener = state.listener, None
    if listener is not None:
        listener.stop()
    if loop is not None:
        loop.stop()
