"""The framing between web processes and the writer process.

A frame is a 4-byte big-endian length and a ``marshal`` payload of plain tuples,
lists, numbers and strings. The socket lives in a directory only the Tidings user can
open (mode 0700), so only Tidings processes speak on it.

Web to writer: a list of events, each ``(seq, kind, delivery_id, email_id, link_id,
url, occurred_at_timestamp, automated, automated_reason)``.
Writer to web: ``(committed_seqs, failed)`` with ``failed`` a list of ``(seq, message)``.
"""

from __future__ import annotations

import marshal
import struct
from datetime import UTC, datetime
from typing import Any

from tidings.tracking.events import EventKind, TrackedEvent

_LENGTH = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024

EventTuple = tuple[int, str, int, int, int | None, str | None, float, bool, str | None]
Acks = tuple[list[int], list[tuple[int, str]]]


# marshal takes plain strings only: the kind travels as its value.
_KIND_VALUE: dict[EventKind, str] = {kind: kind.value for kind in EventKind}
_KIND: dict[str, EventKind] = {kind.value: kind for kind in EventKind}


class FrameError(ValueError):
    """The peer sent something that is not a frame of this protocol."""


def frame(payload: Any) -> bytes:
    """One frame holding ``payload``."""
    body = marshal.dumps(payload)
    return _LENGTH.pack(len(body)) + body


def take_frames(buffer: bytearray) -> list[Any]:
    """Every complete frame at the start of ``buffer``, removed from it."""
    payloads: list[Any] = []
    start = 0
    end = len(buffer)
    while end - start >= _LENGTH.size:
        (length,) = _LENGTH.unpack_from(buffer, start)
        if length > MAX_FRAME:
            raise FrameError(f"frame of {length} bytes is too large")
        if end - start - _LENGTH.size < length:
            break
        body_start = start + _LENGTH.size
        try:
            # Only Tidings processes reach the socket (a 0700 directory).
            payloads.append(marshal.loads(buffer[body_start : body_start + length]))  # noqa: S302
        except (EOFError, ValueError, TypeError) as exc:
            raise FrameError(str(exc)) from exc
        start = body_start + length
    if start:
        del buffer[:start]
    return payloads


def pack_event(seq: int, event: TrackedEvent) -> EventTuple:
    """``event`` as the tuple a frame carries."""
    return (
        seq,
        _KIND_VALUE[event.kind],
        event.delivery_id,
        event.email_id,
        event.link_id,
        event.url,
        event.occurred_at.timestamp(),
        event.automated,
        event.automated_reason,
    )


def unpack_event(item: EventTuple) -> tuple[int, TrackedEvent]:
    """The sequence number and the event of one tuple of a frame."""
    seq, kind, delivery_id, email_id, link_id, url, at, automated, reason = item
    event_kind = _KIND.get(kind)
    if event_kind is None:
        raise ValueError(f"unknown event kind {kind!r}")
    event = TrackedEvent(
        kind=event_kind,
        delivery_id=delivery_id,
        email_id=email_id,
        link_id=link_id,
        url=url,
        occurred_at=datetime.fromtimestamp(at, UTC),
        automated=automated,
        automated_reason=reason,
    )
    return seq, event
