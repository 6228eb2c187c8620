"""Clicks first: a signal the tracking writer raises while clicks come in faster
than it can comfortably write them, so that background work on the same machine
stands back for a moment.

A person waits for every click's redirect; nobody waits a second for a follow-up
email, a group update or a webhook. The tracking writer marks the data directory's
``tracking-busy`` file (its modification time) after each ``WINDOW`` in which it
wrote more than ``RAISE_RATE`` events a second *and* spent more than ``BUSY_SHARE``
of the window writing. Neither says enough alone. At a few hundred clicks a second
the writer commits one or two at a time and is busy half the time, with room for ten
times as many: the busy share alone would hold automation back at the rates it must
answer within a second. A burst of thousands a second that the writer absorbs in
large batches, mostly idle, needs nothing either. Both together mean the clicks are
queueing behind the writer, which is where background work hurts them most: on SQLite
it takes the same write lock, everywhere it takes processor time and connections.
The machine's idle processor share says little: background work slows the writer
through the write lock and latency long before the processors are full.

A mark holds for ``HOLD`` seconds and is renewed while the burst lasts. The event
dispatcher (and so automation, groups and webhooks, which it feeds) holds each pass
back while the mark is fresh, for at most ``MAX_HOLD_BACK`` seconds, then delivers
one batch of at most ``FORCED_BATCH`` events per subscriber and looks again: under a
burst that never ends the stream still moves, and once the burst is over it
catches up at full speed.

The file is in the data directory, so the signal reaches the processes of one machine
that share it (the embedded mode, a worker beside the server): those compete for the
same cores. A worker on another machine has a data directory of its own and never
stands back. A writer that dies leaves a mark that expires by itself.

This module imports nothing from Tidings, so every layer may use it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

FILE_NAME = "tracking-busy"
WINDOW = 0.25  # seconds over which the writer's rate and busy share are measured
RAISE_RATE = 500.0  # events a second that, with the writer this busy, mark it
BUSY_SHARE = 0.25  # the share of the window spent writing that is "this busy"
HOLD = 1.0  # seconds a mark holds
MAX_HOLD_BACK = 5.0  # seconds background work waits at most, per pass
FORCED_BATCH = 50  # events per subscriber in a pass that waited the longest
POLL = 0.05  # seconds between looks while standing back


def busy_file(data_dir: Path) -> Path:
    """The mark's file in ``data_dir``."""
    return data_dir / FILE_NAME


class BusyGauge:
    """Kept by the tracking writer: counts the events written and the time spent
    writing them, and marks the file when a window says the writer is saturated.
    One thread uses it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._window_start = time.monotonic()
        self._events = 0
        self._busy = 0.0
        self.marks = 0

    def written(self, events: int, seconds: float) -> None:
        """``events`` were just written, in ``seconds``."""
        self._events += events
        self._busy += seconds
        now = time.monotonic()
        elapsed = now - self._window_start
        if elapsed < WINDOW:
            return
        if self._events / elapsed > RAISE_RATE and self._busy / elapsed > BUSY_SHARE:
            self._mark()
        self._window_start, self._events, self._busy = now, 0, 0.0

    def _mark(self) -> None:
        try:
            try:
                os.utime(self.path)
            except FileNotFoundError:
                self.path.touch()
        except OSError:
            return  # a read-only data directory: no signal, nothing else changes
        self.marks += 1


def saturated(path: Path, now: float | None = None) -> bool:
    """Whether the tracking writer marked the machine busy less than ``HOLD`` ago."""
    try:
        marked = path.stat().st_mtime
    except OSError:
        return False
    return (now if now is not None else time.time()) - marked < HOLD


class HoldBack:
    """Kept by a background loop: whether to hold its next pass back, and whether a
    running pass should stop after its current round."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._since: float | None = None
        self.held = 0.0  # seconds held back so far, for the log and the tests
        self.forced = False  # the pass now due waited the longest: a small one

    def now(self) -> bool:
        """True (after a short sleep) while the machine is saturated and this pass has
        waited less than ``MAX_HOLD_BACK``; False when the pass should run."""
        self.forced = False
        if not saturated(self.path):
            self._since = None
            return False
        start = time.monotonic()
        if self._since is None:
            self._since = start
        if start - self._since >= MAX_HOLD_BACK:
            self._since = None
            self.forced = True
            return False
        time.sleep(POLL)
        self.held += time.monotonic() - start
        return True

    def interrupts(self) -> bool:
        """Whether a running pass should stop after the round it just did (the
        machine became saturated meanwhile, or still is after the longest wait)."""
        return saturated(self.path)
