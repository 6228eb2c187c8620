"""Counting windows: each email's marker key, kept only while its unique counts move.

SPEC B1: a marker that keeps unique counts exact is keyed per email, with a key that
is destroyed when the email's counting window closes. An email's window opens with its
first send (its first mailout, or its first delivery when it has none) and closes
``TIDINGS_COUNTING_WINDOW_DAYS`` later (30 by default). Until then a recipient's
markers are ``HMAC(email key, delivery id)``; after it, a job (``close_expired``)
destroys the key and deletes the markers, the unique counts are final, and an
interaction still counts in the totals but never as a new unique recipient (nor as an
open inferred from a click, which needs the open marker).

The writer keeps the windows it has seen in memory (``CountingWindows``), so the key
is read once per email and writer, not per click; a window it does not know yet is
read, or created, in a short transaction of its own before the batch's.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from tidings.db.base import utcnow
from tidings.db.session import session_scope
from tidings.db.upsert import insert_for
from tidings.sending.models import Delivery, Mailout
from tidings.tracking.events import TrackedEvent
from tidings.tracking.models import CountingWindow, UniqueMarker

KEY_BYTES = 32
RECIPIENT_KEY_BYTES = 16


@dataclass(frozen=True)
class Window:
    """One email's window as a writer holds it: the key, ready to hash with, while
    the window is open."""

    closes_at: datetime
    keyed: hmac.HMAC | None  # keyed once; each recipient key copies it

    def recipient_key(self, delivery_id: int) -> bytes:
        """The marker key of one delivery of this email (the window must be keyed)."""
        assert self.keyed is not None
        mac = self.keyed.copy()
        mac.update(delivery_id.to_bytes(8, "big"))
        return mac.digest()[:RECIPIENT_KEY_BYTES]


def _window(marker_key: bytes | None, closes_at: datetime) -> Window:
    keyed = hmac.new(marker_key, digestmod=hashlib.sha256) if marker_key is not None else None
    return Window(closes_at=closes_at, keyed=keyed)


class CountingWindows:
    """A writer's windows, by email id; read or created on first use, never per click."""

    def __init__(self, sessions: sessionmaker[Session], days: int) -> None:
        self._sessions = sessions
        self.length = timedelta(days=days)
        self._windows: dict[int, Window] = {}

    def __contains__(self, email_id: int) -> bool:
        return email_id in self._windows

    def prepare(self, events: Iterable[TrackedEvent], now: datetime | None = None) -> None:
        """Know the window of every email ``events`` need a key for, and let go of the
        keys of windows that have closed. Reads and creates unknown windows in a
        transaction of its own: call it before the batch's transaction begins."""
        emails = {e.email_id for e in events if not e.automated}
        if not emails:
            return
        now = now or utcnow()
        missing = []
        windows = self._windows
        for email_id in emails:
            window = windows.get(email_id)
            if window is None:
                missing.append(email_id)
            elif window.keyed is not None and window.closes_at <= now:
                windows[email_id] = Window(closes_at=window.closes_at, keyed=None)
        if missing:
            with session_scope(self._sessions) as session:
                found = open_windows(
                    session=session, email_ids=missing, length=self.length, now=now
                )
            for email_id, (marker_key, closes_at) in found.items():
                live = marker_key if closes_at > now else None
                windows[email_id] = _window(live, closes_at)

    def recipient_keys(self, events: Sequence[TrackedEvent]) -> dict[int, bytes]:
        """The marker key of each delivery of a human event whose email's window was
        open when it happened; deliveries without one count in the totals only."""
        keys: dict[int, bytes] = {}
        windows = self._windows
        for e in events:
            if e.automated or e.delivery_id in keys:
                continue
            window = windows[e.email_id]  # ``prepare`` saw every email
            if window.keyed is not None and e.occurred_at < window.closes_at:
                keys[e.delivery_id] = window.recipient_key(e.delivery_id)
        return keys

    def window(self, email_id: int) -> Window | None:
        """The window of ``email_id`` if this writer knows it."""
        return self._windows.get(email_id)


def first_sends(session: Session, email_ids: Sequence[int]) -> dict[int, datetime]:
    """When each email was first sent: its first mailout's start (or creation), else
    its first delivery's creation; emails never sent are left out."""
    opened: dict[int, datetime] = dict(
        session.execute(
            select(
                Mailout.email_id, func.min(func.coalesce(Mailout.started_at, Mailout.created_at))
            )
            .where(Mailout.email_id.in_(email_ids))
            .group_by(Mailout.email_id)
        ).all()
    )
    rest = [email_id for email_id in email_ids if email_id not in opened]
    if rest:
        opened.update(
            session.execute(
                select(Delivery.email_id, func.min(Delivery.created_at))
                .where(Delivery.email_id.in_(rest))
                .group_by(Delivery.email_id)
            ).all()
        )
    return opened


def open_windows(
    *, session: Session, email_ids: Sequence[int], length: timedelta, now: datetime
) -> dict[int, tuple[bytes | None, datetime]]:
    """(marker key, closing time) of each email's window, creating those that do not
    exist yet: a fresh random key, closing ``length`` after the first send (already
    closed, without key, if that is past). Concurrent writers agree: the first
    insert wins and everyone reads it."""
    read = select(CountingWindow.email_id, CountingWindow.marker_key, CountingWindow.closes_at)
    found = {
        email_id: (key, closes_at)
        for email_id, key, closes_at in session.execute(
            read.where(CountingWindow.email_id.in_(email_ids))
        )
    }
    absent = [email_id for email_id in email_ids if email_id not in found]
    if absent:
        opened = first_sends(session, absent)
        rows = []
        for email_id in absent:
            closes_at = opened.get(email_id, now) + length
            key = secrets.token_bytes(KEY_BYTES) if closes_at > now else None
            rows.append({"email_id": email_id, "marker_key": key, "closes_at": closes_at})
        statement = insert_for(session, CountingWindow).values(rows)
        session.execute(statement.on_conflict_do_nothing(index_elements=["email_id"]))
        for email_id, key, closes_at in session.execute(
            read.where(CountingWindow.email_id.in_(absent))
        ):
            found[email_id] = (key, closes_at)
    return found


def closing_date(*, session: Session, email_id: int, days: int) -> datetime | None:
    """When the email's unique counts are (or became) final; None before its first
    send."""
    stored = session.scalar(
        select(CountingWindow.closes_at).where(CountingWindow.email_id == email_id)
    )
    if stored is not None:
        return stored
    opened = first_sends(session, [email_id]).get(email_id)
    return opened + timedelta(days=days) if opened is not None else None


def close_expired(*, session: Session, now: datetime) -> list[int]:
    """Destroy the marker keys of the windows that have closed, and delete the markers
    of every closed window (also any a writer added while the key was being
    destroyed); the emails whose key went now."""
    due = list(
        session.scalars(
            select(CountingWindow.email_id).where(
                CountingWindow.marker_key.is_not(None), CountingWindow.closes_at <= now
            )
        )
    )
    if due:
        session.execute(
            update(CountingWindow).where(CountingWindow.email_id.in_(due)).values(marker_key=None)
        )
    closed = select(CountingWindow.email_id).where(CountingWindow.marker_key.is_(None))
    session.execute(delete(UniqueMarker).where(UniqueMarker.email_id.in_(closed)))
    session.flush()
    return due
