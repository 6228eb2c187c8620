"""Compose a mailout's messages in render processes, ahead of the SMTP connections.

Rendering, signing and building a message is the costliest part of sending it and
holds the runner's GIL; a render process (a fresh interpreter talking pickles over a
socket pair) does that work on another core while the runner's threads talk SMTP
and commit claims. The runner hands out recipients in chunks and reads the composed
messages back in the same order; a few chunks per process are in flight, so memory
stays bounded whatever the size of the mailout.

A render process only composes: it never touches the database or SMTP, so losing
one loses nothing. Its chunks in flight are composed again in the runner's process,
and a new render process takes over (up to ``MAX_RESTARTS`` times per mailout run,
then the runner composes the rest itself); one that answers nothing for
``RECEIVE_TIMEOUT`` seconds counts as dead. A render process exits when the runner
closes its socket, or when the runner dies (its end of the socket closes with it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

from tidings.sending.compose import Composer, MailoutSpec, NotComposed, Outgoing, Recipient

log = logging.getLogger(__name__)

CHUNK = 50  # recipients per request to a render process
AHEAD = 2  # chunks in flight per render process
MAX_RESTARTS = 3
RECEIVE_TIMEOUT = 60.0  # seconds; a chunk takes milliseconds

Composed = Outgoing | NotComposed


def serve(conn: Connection) -> None:
    """A render process: compose the chunks the runner sends until it hangs up."""
    # Ctrl-C reaches the whole process group; the runner decides when this ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Requests are read by a thread of their own, so the runner's writes never wait
    # on this process writing a large result back (both would wait forever).
    requests: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def read() -> None:
        try:
            while True:
                requests.put(conn.recv())
        except (EOFError, OSError):
            requests.put(None)

    try:
        composer = Composer(conn.recv())
        threading.Thread(target=read, name="tidings-render-reader", daemon=True).start()
        conn.send("ready")
        while (request := requests.get()) is not None:
            sent_at, recipients = request
            conn.send(composer.compose_chunk(recipients, sent_at))
    except (EOFError, OSError):
        return  # the runner closed the pipe, or died


class _RenderProcess:
    """One render process and the runner's end of the socket pair to it.

    Started as a fresh interpreter (``python -c``) rather than through
    ``multiprocessing``'s spawn, which would import the runner's ``__main__`` (the
    whole CLI or web app) in every render process.
    """

    def __init__(self, spec: MailoutSpec, *, timeout: float) -> None:
        self.timeout = timeout
        ours, theirs = socket.socketpair()
        try:
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
            self.process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed code
                [sys.executable, "-c", _ENTRY, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env=env,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            # Only the child holds that end now, so its death reads as EOF here.
            theirs.close()
        self.conn = Connection(ours.detach())
        self.alive = True
        self.ready = False
        try:
            self.conn.send(spec)
        except BaseException:
            self.close(timeout=1.0)
            raise

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def request(self, sent_at: datetime, recipients: list[Recipient]) -> None:
        """Send one chunk to compose."""
        self.conn.send((sent_at, recipients))

    def receive(self) -> list[Composed]:
        """The composed chunk that is next in this process's order."""
        if not self.ready:
            if self._recv() != "ready":
                raise EOFError("render process did not start")
            self.ready = True
        result: list[Composed] = self._recv()
        return result

    def _recv(self) -> Any:
        if not self.conn.poll(self.timeout):
            raise TimeoutError(f"no answer in {self.timeout:g} s")
        return self.conn.recv()

    def close(self, timeout: float = 5.0) -> None:
        """Hang up and wait for the process to exit (kill it if it does not)."""
        self.alive = False
        with contextlib.suppress(OSError):
            self.conn.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)


_ENTRY = "import sys; from tidings.sending.renderer import main; main(int(sys.argv[1]))"


def main(fd: int) -> None:
    """Entry point of a render process, given its end of the socket pair."""
    serve(Connection(fd))


@dataclass(eq=False)
class _Job:
    recipients: list[Recipient]
    sent_at: datetime
    worker: _RenderProcess | None


def _chunks(recipients: Iterable[Recipient], size: int) -> Iterator[list[Recipient]]:
    chunk: list[Recipient] = []
    for recipient in recipients:
        chunk.append(recipient)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class RenderPool:
    """Composes messages in ``processes`` render processes (0: in this process)."""

    def __init__(
        self,
        spec: MailoutSpec,
        *,
        processes: int,
        chunk: int = CHUNK,
        timeout: float = RECEIVE_TIMEOUT,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        # Compiled here first: a template error surfaces in the runner, and this
        # process can take over from a render process that dies.
        self.local = Composer(spec)
        self.spec = spec
        self.chunk = max(1, chunk)
        self.timeout = timeout
        self.clock = clock
        self.restarts = 0
        self.recomposed = 0  # messages composed again here after a render process died
        self._workers: list[_RenderProcess] = []
        self._turn = 0
        for _ in range(processes):
            self._start()

    def _start(self) -> None:
        try:
            self._workers.append(_RenderProcess(self.spec, timeout=self.timeout))
        except Exception:
            log.exception("could not start a render process; composing in the runner")

    @property
    def pids(self) -> list[int]:
        """Process ids of the live render processes."""
        return [w.pid for w in self._workers if w.alive]

    def compose(self, recipients: Iterable[Recipient]) -> Generator[Composed, None, None]:
        """The messages of ``recipients``, in order, composed a few chunks ahead."""
        jobs: deque[_Job] = deque()
        try:
            for chunk in _chunks(recipients, self.chunk):
                jobs.append(self._submit(chunk))
                while len(jobs) > AHEAD * max(1, len(self._workers)):
                    yield from self._collect(jobs.popleft())
            while jobs:
                yield from self._collect(jobs.popleft())
        finally:
            # Stopped early (lease lost, say): read what is still in flight, so the
            # next ``compose`` of this pool gets its own chunks back.
            for job in jobs:
                self._discard(job)

    def _discard(self, job: _Job) -> None:
        worker = job.worker
        if worker is not None and worker.alive:
            try:
                worker.receive()
            except (EOFError, OSError) as exc:
                self._lost(worker, exc)

    def _next_worker(self) -> _RenderProcess | None:
        alive = [w for w in self._workers if w.alive]
        if not alive:
            return None
        self._turn = (self._turn + 1) % len(alive)
        return alive[self._turn]

    def _submit(self, recipients: list[Recipient]) -> _Job:
        job = _Job(recipients, self.clock(), self._next_worker())
        if job.worker is not None:
            try:
                job.worker.request(job.sent_at, recipients)
            except (OSError, ValueError) as exc:
                self._lost(job.worker, exc)
        return job

    def _collect(self, job: _Job) -> list[Composed]:
        worker = job.worker
        if worker is not None and worker.alive:
            try:
                return worker.receive()
            except (EOFError, OSError) as exc:
                self._lost(worker, exc)
        if worker is not None:
            self.recomposed += len(job.recipients)
        return self.local.compose_chunk(job.recipients, job.sent_at)

    def _lost(self, worker: _RenderProcess, exc: BaseException) -> None:
        """A render process died: its chunks are composed here; start another."""
        if not worker.alive:
            return
        log.warning(
            "render process %s ended (%s: %s); its messages are composed again",
            worker.pid,
            type(exc).__name__,
            exc,
        )
        worker.close(timeout=1.0)
        self._workers.remove(worker)
        if self.restarts < MAX_RESTARTS:
            self.restarts += 1
            self._start()

    def close(self) -> None:
        """Stop the render processes."""
        for worker in self._workers:
            worker.close()
        self._workers.clear()

    def __enter__(self) -> RenderPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
