"""The event a tracking endpoint hands to the writer, and what a writer promises."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from tidings.consent.policy import TrackingPolicy


class EventKind(enum.StrEnum):
    """What a recipient did; stored as the text of ``tracking_events.type``."""

    OPEN = "open"
    CLICK = "click"


OPEN = EventKind.OPEN
CLICK = EventKind.CLICK


@dataclass(frozen=True)
class TrackedEvent:
    """One open or click, as answered to the client; the writer decides the rest."""

    kind: EventKind
    delivery_id: int
    email_id: int
    link_id: int | None
    url: str | None
    occurred_at: datetime
    automated: bool = False
    automated_reason: str | None = None


@runtime_checkable
class TrackingWriter(Protocol):
    """Where endpoints hand their events: the writer thread of this process
    (``writer.EventWriter``) or the client of a writer process
    (``writer_client.RemoteWriter``)."""

    @property
    def policy(self) -> TrackingPolicy:
        """The consent policy the writer applies (B1), for endpoints that decide too."""
        ...

    def start(self) -> None:
        """Get ready to record (idempotent)."""
        ...

    def stop(self, timeout: float = ...) -> None:
        """Write what was handed over, then stop."""
        ...

    async def record(self, event: TrackedEvent) -> None:
        """Store ``event``; returns once it is committed, raises ``WriterUnavailable``
        when it could not be."""
        ...
