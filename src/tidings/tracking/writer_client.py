"""The web process's side of the writer process: ``record`` an event, await its commit.

Events recorded during one turn of the event loop leave together as one frame at the
end of that turn. They do not wait for the writer: while it commits a batch, the next
frames gather in its socket, and it reads them all as its next batch the moment the
commit is done. (Holding them back until the previous batch's acknowledgement came
made them wait that round trip as well, and the writer with them: a tenth of every
batch's time on PostgreSQL.) A request is answered only after its event's
acknowledgement arrives; if the writer process is gone, waiting requests fail with
``WriterUnavailable`` (the click endpoint answers 503, nothing claims a stored click)
and the next request starts the writer process again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tidings.consent.policy import TrackingPolicy, load_policy
from tidings.tracking import wire
from tidings.tracking.events import TrackedEvent, TrackingWriter
from tidings.tracking.writer import WriterUnavailable
from tidings.tracking.writer_process import WriterProcess

log = logging.getLogger(__name__)


class _AckProtocol(asyncio.Protocol):
    def __init__(self, client: RemoteWriter) -> None:
        self.client = client
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        try:
            frames = wire.take_frames(self.buffer)
        except wire.FrameError as exc:
            log.error("tracking writer sent a bad frame: %s", exc)
            self.client.disconnect(WriterUnavailable("bad answer from the tracking writer"))
            return
        for payload in frames:
            self.client.acknowledged(payload)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.lost(self)


class RemoteWriter:
    """Stands where ``EventWriter`` stands in the web process, for a writer process."""

    def __init__(
        self,
        process: WriterProcess,
        *,
        policy: TrackingPolicy | None = None,
        on_committed: Callable[[], None] | None = None,
    ) -> None:
        self.process = process
        # Called after each acknowledgement of committed events (the assembly wakes
        # the event dispatcher with it: the batch may have published activities).
        self.on_committed = on_committed
        # The writer process loads the same setting; loading it here too makes a bad
        # value fail when the app is built, not in the child.
        self.policy: TrackingPolicy = policy or load_policy(process.settings.consent_policy)
        self._transport: asyncio.Transport | None = None
        self._protocol: _AckProtocol | None = None
        self._connecting: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._outbox: list[wire.EventTuple] = []
        self._flush_scheduled = False
        self._seq = 0

    def start(self) -> None:
        """Start the writer process (the web process connects on its first event)."""
        self.process.ensure_running()

    def stop(self, timeout: float = 15.0) -> None:
        """Close the connection and stop the writer process once it has written
        everything it was sent."""
        self.disconnect(WriterUnavailable("the server is stopping"))
        self.process.stop(timeout)

    async def record(self, event: TrackedEvent) -> None:
        """Store ``event``; returns once the writer process has committed it."""
        loop = asyncio.get_running_loop()
        if self._transport is None or self._loop is not loop:
            await self._connect(loop)
        self._seq += 1
        seq = self._seq
        waiter: asyncio.Future[None] = loop.create_future()
        self._pending[seq] = waiter
        self._outbox.append(wire.pack_event(seq, event))
        # One frame per loop turn, however many requests recorded an event in it.
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        await waiter

    def _flush(self) -> None:
        self._flush_scheduled = False
        outbox, self._outbox = self._outbox, []
        if not outbox:
            return
        if self._transport is None or self._transport.is_closing():
            error = WriterUnavailable("the tracking writer is not connected")
            for item in outbox:
                self._fail(item[0], error)
            return
        self._transport.write(wire.frame(outbox))

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is not loop:
            # A connection belongs to the event loop that made it (tests and tools
            # may run several loops one after the other).
            self.disconnect(WriterUnavailable("the event loop changed"))
            self._loop = loop
            self._connecting = None
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._transport is not None:
                return
            try:
                if not self.process.alive():
                    await asyncio.to_thread(self.process.ensure_running)
                transport, protocol = await loop.create_unix_connection(
                    lambda: _AckProtocol(self), self.process.socket_path
                )
            except OSError as exc:
                raise WriterUnavailable(f"the tracking writer is not available: {exc}") from exc
            self._transport = transport
            self._protocol = protocol

    def acknowledged(self, payload: Any) -> None:
        """Settle the requests of one acknowledgement frame."""
        committed, failed = payload
        pending = self._pending
        for seq in committed:
            waiter = pending.pop(seq, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        for seq, message in failed:
            self._fail(seq, WriterUnavailable(message))
        if committed and self.on_committed is not None:
            self.on_committed()

    def _fail(self, seq: int, error: Exception) -> None:
        waiter = self._pending.pop(seq, None)
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def lost(self, protocol: _AckProtocol) -> None:
        """The connection closed: everyone still waiting gets an error."""
        if protocol is self._protocol:
            self.disconnect(WriterUnavailable("the tracking writer went away"))

    def disconnect(self, error: Exception) -> None:
        """Drop the connection and fail every waiting request with ``error``."""
        transport, self._transport, self._protocol = self._transport, None, None
        self._outbox = []  # their requests fail below; they are not sent later
        self._flush_scheduled = False
        # A closed event loop (RuntimeError) has nobody left to wake.
        if transport is not None:
            with contextlib.suppress(RuntimeError):
                transport.close()
        pending, self._pending = self._pending, {}
        for waiter in pending.values():
            if not waiter.done():
                with contextlib.suppress(RuntimeError):
                    waiter.set_exception(error)


if TYPE_CHECKING:
    _IS_A_TRACKING_WRITER: type[TrackingWriter] = RemoteWriter
