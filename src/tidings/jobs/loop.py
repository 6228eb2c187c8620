"""One base for Tidings' background threads: start, stop, loop, log.

The scheduler, the mailout supervisor, a mailout's lease keeper, SQLite's checkpoint
thread and the tracking writer thread all run as a ``BackgroundLoop``: a daemon
thread that calls ``tick`` until it is stopped, so they start, stop and report
failures the same way:

- ``start`` is idempotent, and a stopped loop can be started again;
- ``stop`` asks the loop to end, wakes it (``wake``), waits up to ``timeout`` seconds
  and says in the log when the thread did not end in time;
- an exception from ``tick`` is logged with its traceback under the loop's name and
  the loop goes on at its next tick; ``tick`` returns ``False`` to end the loop;
- ``finish`` runs in the thread once the loop has ended, however it ended.

This module imports nothing from Tidings, so every layer (the database one too) may
build on it.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class BackgroundLoop:
    """A daemon thread calling ``tick`` every ``interval`` seconds until stopped.

    With ``interval`` None, ``tick`` runs back to back and waits on a source of its
    own (a queue): ``wake`` must then make it return ``False``, which lets it finish
    what it was handed before the loop ends.
    """

    def __init__(self, name: str, interval: float | None, *, delay_first: bool = False) -> None:
        self.name = name
        self.interval = interval
        self.delay_first = delay_first  # wait one interval before the first tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what a loop does -------------------------------------------------------
    def tick(self) -> bool | None:
        """One round of work; ``False`` ends the loop."""
        raise NotImplementedError

    def finish(self) -> None:
        """Runs in the thread once the loop has ended (nothing by default)."""

    def wake(self) -> None:
        """Called by ``stop`` after ``stopping`` is set, for a ``tick`` that blocks on
        something other than the loop's own wait (nothing by default)."""

    # -- control -----------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        """True once ``stop`` was called."""
        return self._stop.is_set()

    def running(self) -> bool:
        """True while the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread unless it runs."""
        if self.running():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """End the loop and wait up to ``timeout`` seconds for the thread."""
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        self.wake()
        if thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("%s did not stop within %.1f s", self.name, timeout)
        self._thread = None

    def sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` inside ``tick``; True when the loop is being stopped."""
        return self._stop.wait(seconds)

    def _run(self) -> None:
        try:
            if self.delay_first and self.interval is not None and self._stop.wait(self.interval):
                return
            while True:
                try:
                    if self.tick() is False:
                        return
                except Exception:
                    log.exception("%s: a round failed; trying again", self.name)
                if self.interval is not None and self._stop.wait(self.interval):
                    return
        finally:
            try:
                self.finish()
            except Exception:
                log.exception("%s: could not finish cleanly", self.name)
