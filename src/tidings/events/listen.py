"""PostgreSQL wake-ups: a commit that published wakes every process's dispatcher.

The outbox insert (``publish.insert_now``) runs ``pg_notify`` in its transaction;
PostgreSQL delivers the notification when that transaction commits, and never for
one rolled back. ``Listener`` keeps a connection of its own on ``LISTEN`` and calls
``on_notify`` for each notification, so a dispatcher in another process (``tidings
worker`` beside ``tidings serve --no-workers``, or the tracking writer process's
commits) runs a pass at once instead of at its next periodic look. A lost
connection is opened again after a second; the periodic look covers the gap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from tidings.jobs.loop import BackgroundLoop

log = logging.getLogger(__name__)

CHANNEL = "tidings_events"
NOTIFY = f"SELECT pg_notify('{CHANNEL}', '')"
WAIT_SECONDS = 0.2  # one wait for notifications (then: stopping?), so stop is quick
RECONNECT_SECONDS = 1.0


class Listener(BackgroundLoop):
    """A thread on ``LISTEN tidings_events`` calling ``on_notify`` for each commit."""

    def __init__(self, engine: Engine, on_notify: Callable[[], None]) -> None:
        super().__init__("tidings-events-listen", None)
        self.engine = engine
        self.on_notify = on_notify
        self._conn: Any = None
        self.listening = False

    def _connect(self) -> Any:
        import psycopg

        url = self.engine.url.set(drivername="postgresql")
        conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    def tick(self) -> bool:
        if self.stopping:
            return False
        try:
            if self._conn is None:
                self._conn = self._connect()
                self.listening = True
                self.on_notify()  # whatever committed while nobody listened
            for _ in self._conn.notifies(timeout=WAIT_SECONDS, stop_after=1):
                self.on_notify()
        except Exception as exc:  # noqa: BLE001 - the periodic pass delivers meanwhile
            log.warning("event listener: %s; listening again in %.0f s", exc, RECONNECT_SECONDS)
            self._close()
            self.sleep(RECONNECT_SECONDS)
        return not self.stopping

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        self.listening = False
        if conn is not None:
            try:
                conn.close()
            except Exception:
                log.debug("event listener: closing failed", exc_info=True)

    def finish(self) -> None:
        self._close()
