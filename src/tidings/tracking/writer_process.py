"""The tracking writer in a process of its own, beside the web server.

``tidings serve`` starts it (``TIDINGS_TRACKING_WRITER=process``, the default): the web
process verifies, looks up and redirects; this process applies the events in batches
with group commit and acknowledges each event once its batch has committed, so the
redirect still goes out only for a stored click. Web work and database work then run
on two cores instead of sharing one interpreter lock, and the database has one writer.

The parent hands its settings over the child's stdin and keeps that pipe open: when
the parent goes away, even killed, the child sees end of file, writes what it has
queued and exits. The socket is in a fresh directory of mode 0700.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import select
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

from sqlalchemy import event

from tidings.config import Settings
from tidings.db.engine import BackgroundCheckpoints
from tidings.gc_tuning import tune_for_serving
from tidings.tracking import wire
from tidings.tracking.events import TrackedEvent
from tidings.tracking.writer import EventWriter, RemoteWaiter, Waiter

log = logging.getLogger(__name__)
READY = b"ready\n"
WRITER_CACHE_KIB = 64 * 1024
_RECV = 256 * 1024


class _Channel:
    """One connected web process: its events in, its acknowledgements out."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def acknowledge(self, seqs: list[int], error: str | None) -> None:
        """Send one acknowledgement frame for ``seqs``."""
        payload: wire.Acks = (seqs, []) if error is None else ([], [(s, error) for s in seqs])
        # If the web process is gone, its requests were answered with an error.
        with contextlib.suppress(OSError):
            self.sock.sendall(wire.frame(payload))

    def receive(self, batch: list[tuple[TrackedEvent, Waiter]]) -> bool:
        """Add what the peer sent to ``batch``; False once it has hung up (or sent
        something that is not a frame)."""
        try:
            data = self.sock.recv(_RECV)
        except OSError:
            return False
        if not data:
            return False
        self.buffer += data
        try:
            for items in wire.take_frames(self.buffer):
                for item in items:
                    seq, event = wire.unpack_event(item)
                    batch.append((event, RemoteWaiter(self, seq)))
        except (wire.FrameError, ValueError, TypeError) as exc:
            log.warning("tracking writer: dropping a peer that sent a bad frame: %s", exc)
            return False
        return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def serve_writer(
    settings: Settings, socket_path: str, ready: IO[bytes], stop: threading.Event
) -> None:
    """Run the writer until ``stop`` is set; writes ``READY`` to ``ready`` once listening.

    One thread does everything: wait for events, read every peer that has sent some,
    apply them as one batch, acknowledge, and read again. Events that arrive while a
    batch commits form the next batch.
    """
    from tidings.runtime import Runtime

    # No ping per checkout: a batch that finds its connection lost invalidates it
    # and is retried on a new one (``apply_batch``, ``EventWriter``).
    runtime = Runtime(settings, pre_ping=False)
    checkpoints = None
    if runtime.is_sqlite:
        # The writer walks randomly-keyed indexes (unique markers, activities by
        # contact): a page cache of 64 MB instead of SQLite's 2 MB spares it reads.
        event.listen(runtime.engine, "connect", _larger_page_cache)
        checkpoints = BackgroundCheckpoints(runtime.engine)
        checkpoints.start()
    if not settings.queue_url:
        # Embedded: the parent wakes its dispatcher on each acknowledgement; a job
        # per batch through the SQLite queue would only add a write.
        from tidings.events.dispatch import registry_of

        registry_of(runtime).enqueue_wakeups = False
    writer = EventWriter(runtime)
    tune_for_serving()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    os.chmod(socket_path, 0o600)
    listener.listen(64)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, None)
    ready.write(READY)
    ready.flush()
    batch: list[tuple[TrackedEvent, Waiter]] = []
    try:
        while not stop.is_set() or batch:
            # Block only when there is nothing to write; wake up now and then to
            # notice ``stop``.
            for key, _ in selector.select(0 if batch else 0.2):
                if key.data is None:
                    conn, _ = listener.accept()
                    selector.register(conn, selectors.EVENT_READ, _Channel(conn))
                    continue
                channel: _Channel = key.data
                if not channel.receive(batch):
                    selector.unregister(channel.sock)
                    channel.close()
            while batch:
                writer.write_batch(batch[: writer.batch_max])
                del batch[: writer.batch_max]
                if checkpoints is not None:
                    checkpoints.between_transactions()
    finally:
        for key in list(selector.get_map().values()):
            if key.data is not None:
                key.data.close()
        selector.close()
        with contextlib.suppress(OSError):
            listener.close()
        if checkpoints is not None:
            checkpoints.stop()
        runtime.close()


def _larger_page_cache(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")


def main() -> None:
    """Entry point of the child: settings, socket path and the parent's import path
    arrive pickled on stdin."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    stdin = sys.stdin.buffer
    # The parent is the only writer of this pipe.
    fields, socket_path, parent_path = pickle.load(stdin)  # noqa: S301
    # What the parent can import, the child can: a consent policy module too.
    sys.path[:] = parent_path
    settings = Settings(**fields)
    stop = threading.Event()

    def parent_gone() -> None:
        stdin.read()  # returns at end of file: the parent closed the pipe or died
        stop.set()

    threading.Thread(target=parent_gone, name="tidings-writer-parent", daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    serve_writer(settings, socket_path, sys.stdout.buffer, stop)


class WriterProcess:
    """The parent's handle on one writer process: start, check, restart, stop."""

    def __init__(self, settings: Settings, *, start_timeout: float = 30.0) -> None:
        self.settings = settings
        self.start_timeout = start_timeout
        self._dir = tempfile.mkdtemp(prefix="tidings-writer-")
        os.chmod(self._dir, 0o700)
        self.socket_path = str(Path(self._dir) / "events.sock")
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._proc.pid if self._proc is not None else None

    def alive(self) -> bool:
        """True while the child runs."""
        return self._proc is not None and self._proc.poll() is None

    def ensure_running(self) -> None:
        """Start the child, or start it again if it has exited; raises ``OSError`` if it
        does not come up."""
        with self._lock:
            if self.alive():
                return
            if self._proc is not None:
                log.warning(
                    "tracking writer process exited (%s); starting it again", self._proc.returncode
                )
                self._close_pipes(self._proc)
            os.makedirs(self._dir, mode=0o700, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.socket_path)
            self._proc = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tidings.tracking.writer_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert proc.stdin is not None and proc.stdout is not None
        fields = self.settings.model_dump()
        pickle.dump((fields, self.socket_path, list(sys.path)), proc.stdin)
        proc.stdin.flush()
        readable, _, _ = select.select([proc.stdout], [], [], self.start_timeout)
        line = proc.stdout.readline() if readable else b""
        if line != READY:
            proc.kill()
            proc.wait()
            self._close_pipes(proc)
            raise OSError("the tracking writer process did not start")
        return proc

    @staticmethod
    def _close_pipes(proc: subprocess.Popen[bytes]) -> None:
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def stop(self, timeout: float = 15.0) -> None:
        """Let the child write what it has queued, then end it; removes the socket."""
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is not None:
                self._close_pipes(proc)  # end of file on its stdin: it stops
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            shutil.rmtree(self._dir, ignore_errors=True)


if __name__ == "__main__":
    main()
