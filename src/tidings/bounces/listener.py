"""The inbound SMTP listener for returned mail (``TIDINGS_BOUNCE_SMTP``).

It is the final destination of ``bounces+<token>@<bounce domain>`` and nothing
else: a recipient whose token does not verify is refused at RCPT (550), so the
listener never takes mail it cannot attribute and never relays. A message larger
than ``TIDINGS_BOUNCE_MAX_BYTES`` is refused (552) while it is sent. Each accepted
message is read and applied in one transaction of its own; if that transaction
fails the sender is told to try again later (451), so no accepted report is lost.
Nothing of the message is kept but the facts it yields.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller

from tidings.bounces import parse, service
from tidings.db.base import utcnow
from tidings.errors import Invalid
from tidings.runtime import Runtime
from tidings.sending import verp
from tidings.sending.models import Delivery

log = logging.getLogger(__name__)

MAX_RECIPIENTS = 100


def parse_listen_address(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:2525`` for IPv6) as a pair; ``Invalid`` otherwise."""
    host, colon, port = value.strip().rpartition(":")
    host = host.strip("[]")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise Invalid(f"TIDINGS_BOUNCE_SMTP must look like host:port, not {value!r}")
    return host, int(port)


class BounceHandler:
    """aiosmtpd handler: RCPT checks the token, DATA reads and applies the message."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.paths = verp.for_runtime(runtime)
        self.accepted = 0  # messages stored, for tests and logs

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.paths.read_address(address) is None:
            return "550 5.1.1 No such mailbox here"
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        ids = [self.paths.read_address(a) for a in envelope.rcpt_tos]
        deliveries = sorted({i for i in ids if i is not None})
        try:
            await asyncio.to_thread(self.store, bytes(raw), deliveries)
        except Exception:
            log.exception("could not store returned mail; the sender will retry")
            return "451 4.3.0 Could not store the message, try again later"
        return "250 2.0.0 Accepted"

    def store(self, raw: bytes, deliveries: list[int]) -> None:
        """Read ``raw`` and apply it to each delivery, in one transaction."""
        verdict = parse.read(raw)
        at = utcnow()
        log.info(
            "returned mail for deliveries %s: %s (%s)", deliveries, verdict.outcome, verdict.source
        )
        if verdict.acts:
            with self.runtime.session() as session:
                for delivery_id in deliveries:
                    if session.get(Delivery, delivery_id) is None:
                        continue  # signed by us, but the delivery is gone
                    service.apply_verdict(
                        session=session, delivery_id=delivery_id, verdict=verdict, at=at
                    )
        self.accepted += 1


class BounceListener:
    """The listener on its own thread (aiosmtpd's controller)."""

    def __init__(self, runtime: Runtime, *, host: str, port: int) -> None:
        self.runtime = runtime
        self.host = host
        self.port = port
        self.handler = BounceHandler(runtime)
        name = runtime.settings.bounce_domain or "localhost"
        self.controller = Controller(
            self.handler,
            hostname=host,
            port=port,
            server_hostname=name,
            ident="Tidings bounce listener",
            data_size_limit=runtime.settings.bounce_max_bytes,
            timeout=60,
        )

    def start(self) -> None:
        """Start listening."""
        self.controller.start()
        log.info("bounce listener on %s:%s", self.host, self.port)

    def stop(self) -> None:
        """Stop listening."""
        self.controller.stop()


def start_from_settings(runtime: Runtime) -> BounceListener | None:
    """Start the listener when ``TIDINGS_BOUNCE_SMTP`` is set; None when it is not."""
    value = runtime.settings.bounce_smtp
    if not value:
        return None
    host, port = parse_listen_address(value)
    listener = BounceListener(runtime, host=host, port=port)
    listener.start()
    return listener
