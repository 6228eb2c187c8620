"""The one batching writer for tracking events, with group commit.

Requests hand their event to the writer and wait for the commit of the batch that
holds it, so an answered click is a stored click. Events that arrive while a batch
commits form the next batch: under load batches grow and commits stay few.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, NamedTuple, Protocol

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from tidings.consent.policy import TrackingPolicy, tracking_policy
from tidings.db.base import utcnow
from tidings.events.publish import mark_published
from tidings.jobs.loop import BackgroundLoop
from tidings.jobs.pressure import BusyGauge, busy_file
from tidings.tracking.apply import BatchOutcome, KnownMarkers, apply_batch
from tidings.tracking.bursts import BurstWatch
from tidings.tracking.events import TrackedEvent, TrackingWriter
from tidings.tracking.windows import CountingWindows

if TYPE_CHECKING:
    from tidings.runtime import Runtime

log = logging.getLogger(__name__)

_STOP = object()
_ATTEMPTS = 4


def _transient(error: BaseException) -> bool:
    """Worth retrying: locked database, deadlock, serialization failure, lost
    connection. Constraint and data errors are not."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, OperationalError | InterfaceError)


class WriterUnavailable(RuntimeError):
    """The event could not be stored; the request must not claim it was."""


class AckChannel(Protocol):
    """Where the writer process acknowledges the events of one web process."""

    def acknowledge(self, seqs: list[int], error: str | None) -> None:
        """Tell the peer that events ``seqs`` committed (``error`` None) or failed."""


class RemoteWaiter(NamedTuple):
    """An event sent by another process, waiting on ``channel`` under number ``seq``."""

    channel: AckChannel
    seq: int


# A request in an event loop waits on an asyncio future, a thread on a concurrent one,
# another process on a channel back to it.
Waiter = asyncio.Future[None] | Future[None] | RemoteWaiter


def _settle(waiters: list[Waiter], error: BaseException | None) -> None:
    """Wake everyone waiting on a batch: one thread-safe call per event loop and one
    message per remote channel, not one per request."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    by_channel: dict[AckChannel, list[int]] = {}
    for waiter in waiters:
        if isinstance(waiter, RemoteWaiter):
            by_channel.setdefault(waiter.channel, []).append(waiter.seq)
        elif isinstance(waiter, Future):
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(WriterUnavailable(str(error)))
        else:
            by_loop.setdefault(waiter.get_loop(), []).append(waiter)
    for loop, loop_waiters in by_loop.items():
        # A closed loop has nobody left waiting.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle_in_loop, loop_waiters, error)
    for channel, seqs in by_channel.items():
        channel.acknowledge(seqs, None if error is None else str(error) or type(error).__name__)


def _settle_in_loop(waiters: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for waiter in waiters:
        if waiter.done():  # cancelled: the client went away
            continue
        if error is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(WriterUnavailable(str(error)))


class EventWriter(BackgroundLoop):
    """Owns one thread that applies batches of events in single transactions."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        policy: TrackingPolicy | None = None,
        batch_max: int | None = None,
        on_committed: Callable[[BatchOutcome], None] | None = None,
    ) -> None:
        super().__init__("tidings-event-writer", None)
        self.runtime = runtime
        self.policy: TrackingPolicy = policy or tracking_policy(runtime)
        self.batch_max = batch_max or runtime.settings.tracking_batch_max
        self.on_committed = on_committed
        self.known_markers = KnownMarkers()
        self.windows = CountingWindows(runtime.sessions, runtime.settings.counting_window_days)
        self.bursts = BurstWatch(runtime.sessions)
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.batches = 0
        self.events = 0
        # Clicks first: a busy writer asks background work to stand back (``pressure``).
        self.gauge = BusyGauge(busy_file(runtime.settings.resolved_data_dir()))

    def wake(self) -> None:
        """``stop`` ends the thread once it has written what was queued before."""
        self._queue.put(_STOP)

    async def record(self, event: TrackedEvent) -> None:
        """Store ``event``; returns once its batch has committed."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put((event, waiter))
        await waiter

    def submit(self, event: TrackedEvent, waiter: Waiter) -> None:
        """Queue ``event``; ``waiter`` is settled when its batch has committed or failed."""
        self._queue.put((event, waiter))

    def record_blocking(self, event: TrackedEvent, timeout: float = 30.0) -> None:
        """Store ``event`` from a thread; returns once committed."""
        future: Future[None] = Future()
        self._queue.put((event, future))
        future.result(timeout)

    def tick(self) -> bool:
        """Wait for events, write them and whatever queued meanwhile as one batch;
        False once ``stop`` has been reached in the queue."""
        item = self._queue.get()
        if item is _STOP:
            return False
        batch = [item]
        more = True
        while len(batch) < self.batch_max:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is _STOP:
                more = False
                break
            batch.append(nxt)
        self.write_batch(batch)  # type: ignore[arg-type]
        return more

    def write_batch(self, batch: list[tuple[TrackedEvent, Waiter]]) -> None:
        """Apply ``batch`` in one transaction and settle its waiters (the writer
        process calls this from its own loop instead of starting the thread)."""
        start = time.monotonic()
        try:
            self._write(batch)
        finally:
            self.gauge.written(len(batch), time.monotonic() - start)

    def _write(self, batch: list[tuple[TrackedEvent, Waiter]]) -> None:
        outcome, error = self._apply([event for event, _ in batch])
        refused = isinstance(error, DBAPIError) and not _transient(error)
        if refused and len(batch) > 1:
            # One event the database refuses (its email deleted meanwhile, say) must
            # not fail the requests it happened to share a batch with: split and retry.
            middle = len(batch) // 2
            self._write(batch[:middle])
            self._write(batch[middle:])
            return
        if error is None:
            # Counted before the requests wake up, so they can read the figures.
            self.batches += 1
            self.events += len(batch)
        _settle([waiter for _, waiter in batch], error)
        if error is None and self.on_committed is not None and outcome is not None:
            self.on_committed(outcome)

    def _apply(
        self, events: list[TrackedEvent]
    ) -> tuple[BatchOutcome | None, BaseException | None]:
        """Apply and commit ``events``, retrying transient errors; the error if it failed."""
        error: BaseException | None = None
        for attempt in range(_ATTEMPTS):
            try:
                # Unknown windows and link counts are read in a transaction of their
                # own, before the batch's (on SQLite the batch's holds the write lock).
                self.bursts.prepare(events)
                plan = self.bursts.screen(events)
                self.windows.prepare(plan.events)
                with self.runtime.session() as session:
                    outcome = apply_batch(
                        session, plan.events, windows=self.windows, policy=self.policy,
                        commit=True, known=self.known_markers, take_back=plan.take_back,
                    )  # fmt: skip
                    self._after_commit(session, outcome)
                self.known_markers.discard(outcome.removed_markers)
                self.known_markers.add_committed(outcome.markers)
                self.bursts.settle(plan, outcome.effects, utcnow())
                return outcome, None
            except DBAPIError as exc:
                error = exc
                if not _transient(exc):
                    log.warning("tracking batch of %d refused: %s", len(events), exc)
                    return None, exc
                log.warning("tracking batch failed (attempt %d): %s", attempt + 1, exc)
                time.sleep(0.05 * (attempt + 1))
            except Exception as exc:
                log.exception("tracking batch of %d failed", len(events))
                return None, exc
        return None, error

    def _after_commit(self, session: Session, outcome: BatchOutcome) -> None:
        if outcome.activities:
            # The batch wrote its activities' events itself: wake the dispatcher.
            mark_published(session)


if TYPE_CHECKING:
    _IS_A_TRACKING_WRITER: type[TrackingWriter] = EventWriter
