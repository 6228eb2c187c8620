"""Kept SMTP connections for single messages (automation steps, confirmations).

A process that runs workers hands the single messages of each commit to this pool
right after the commit (no job through the queue): one thread loads and composes
everything handed over since its last pass in one transaction, and a few sender
threads (``CONNECTIONS``), each with a kept SMTP connection (closed after
``IDLE_SECONDS`` without a message), send them. The senders' claims are committed
together (``ClaimBatcher``: the messages whose bodies are out at the same moment
share one claim transaction), and each message's dot still follows the commit of
its own claim, so the exactly-once rule of ``sending.smtp`` holds. Nothing lives
only here: a message handed over stays ``pending`` in the database until claimed,
and the mailout supervisor queues it again if this process dies first.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from tidings.sending.claims import ClaimBatcher
from tidings.sending.smtp import SmtpConnection

if TYPE_CHECKING:
    from tidings.runtime import Runtime

log = logging.getLogger(__name__)

CONNECTIONS = 4  # sender threads (and kept SMTP connections) per process
IDLE_SECONDS = 10.0  # a kept connection without a message this long is closed

# One message ready to go: sends it over the connection, claiming it with the batcher;
# returns the delivery's status afterwards.
Work = Callable[[SmtpConnection, ClaimBatcher], str]
# Loads and composes the messages of these deliveries (one transaction): for each id,
# its ``Work``, or its status when there is nothing to send.
Prepare = Callable[["Runtime", list[int]], dict[int, "Work | str"]]


@dataclass(eq=False)
class Batch:
    """What one hand-over became: each delivery's status once it is done."""

    ids: list[int]
    results: dict[int, str] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def finish(self, delivery_id: int, status: str) -> None:
        with self.lock:
            self.results[delivery_id] = status
            if len(self.results) >= len(set(self.ids)):
                self.done.set()

    def wait(self, timeout: float | None = None) -> dict[int, str]:
        """Each delivery's status (those not done within ``timeout`` are missing)."""
        if not self.ids:
            return {}
        self.done.wait(timeout)
        with self.lock:
            return dict(self.results)


class SinglePool:
    """The process's single-message senders (``of(runtime)``; threads start on use)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.serving = False  # this process runs workers: hand messages over directly
        self._intake: queue.Queue[tuple[list[int], Prepare, Batch] | None] = queue.Queue()
        self._work: queue.Queue[tuple[int, Work, Batch] | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._claims: ClaimBatcher | None = None

    def submit(self, ids: list[int], prepare: Prepare) -> Batch:
        """Send the messages of ``ids`` (prepared by ``prepare``) soon."""
        batch = Batch(list(ids))
        if ids:
            self._start()
            self._intake.put((list(ids), prepare, batch))
        return batch

    def _start(self) -> None:
        with self._lock:
            if self._threads:
                return
            self._claims = ClaimBatcher(self._engine())
            self._threads = [
                threading.Thread(target=self._feed, name="tidings-single-feed", daemon=True)
            ] + [
                threading.Thread(target=self._send, name=f"tidings-single-{n}", daemon=True)
                for n in range(CONNECTIONS)
            ]
            for thread in self._threads:
                thread.start()

    def _engine(self) -> Engine:
        return self.runtime.engine

    def stop(self) -> None:
        """End the threads (after what was handed over) and close the connections."""
        with self._lock:
            threads, self._threads = self._threads, []
            claims, self._claims = self._claims, None
        if not threads:
            return
        self._intake.put(None)
        threads[0].join(30)
        for _ in threads[1:]:
            self._work.put(None)
        for thread in threads[1:]:
            thread.join(30)
        if claims is not None:
            claims.close()

    # -- the threads ------------------------------------------------------------------
    def _feed(self) -> None:
        while True:
            item = self._intake.get()
            if item is None:
                return
            handed = [item]
            # Everything handed over meanwhile goes into the same transaction.
            while True:
                try:
                    more = self._intake.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._intake.put(None)
                    break
                handed.append(more)
            self._prepare(handed)

    def _prepare(self, handed: list[tuple[list[int], Prepare, Batch]]) -> None:
        by_prepare: dict[Prepare, list[tuple[list[int], Batch]]] = {}
        for ids, prepare, batch in handed:
            by_prepare.setdefault(prepare, []).append((ids, batch))
        for prepare, batches in by_prepare.items():
            ids = sorted({i for chunk, _ in batches for i in chunk})
            try:
                ready = prepare(self.runtime, ids)
            except Exception:
                log.exception("could not prepare %d single messages; the supervisor will", len(ids))
                ready = {i: "pending" for i in ids}
            for chunk, batch in batches:
                for delivery_id in chunk:
                    outcome = ready.get(delivery_id, "gone")
                    if isinstance(outcome, str):
                        batch.finish(delivery_id, outcome)
                    else:
                        self._work.put((delivery_id, outcome, batch))

    def _send(self) -> None:
        from tidings.sending.runner import smtp_target

        connection = SmtpConnection(smtp_target(self.runtime))
        try:
            while True:
                try:
                    item = self._work.get(timeout=IDLE_SECONDS)
                except queue.Empty:
                    connection.close()
                    continue
                if item is None:
                    return
                delivery_id, work, batch = item
                claims = self._claims
                status = "pending"
                try:
                    if claims is not None:
                        status = work(connection, claims)
                except Exception:
                    log.exception("single message %s could not be sent", delivery_id)
                batch.finish(delivery_id, status)
        finally:
            connection.close()


def of(runtime: Runtime) -> SinglePool:
    """This process's pool."""
    return runtime.shared(SinglePool)


def serve(runtime: Runtime) -> None:
    """This process runs workers: single messages go to its pool right after their
    commit instead of through the job queue."""
    of(runtime).serving = True


def stop(runtime: Runtime) -> None:
    """Stop handing over and end the pool's threads."""
    pool = of(runtime)
    pool.serving = False
    pool.stop()
