"""Compiled templates for single messages (automation steps, confirmations).

Compiling an email's templates (Jinja, widgets, the footer) costs more than composing
one message from them, so a batch compiles each email once, and a process keeps the
composers of the emails it sent lately for its next batches (``KEPT``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from tidings.db.base import utcnow
from tidings.sending.compose import Composer, MailoutSpec, Outgoing, Recipient


class Composers:
    """Each email's templates compiled once, on first use: outside the loading
    transaction (on SQLite it holds the write lock). A composer is kept for the
    next batches too (``KEPT``): a stream of automation messages of one email
    compiles its templates once, not once per batch. It is found again only by
    a spec equal in everything but the MIME boundary, so an edited email, sender
    or footer compiles anew."""

    def __init__(self) -> None:
        self._made: dict[int, Composer] = {}
        self._lock = threading.Lock()

    def compose(
        self, spec: MailoutSpec, recipient: Recipient, extra: dict[str, Any] | None
    ) -> Outgoing:
        with self._lock:
            composer = self._made.get(spec.email_id)
            if composer is None:
                composer = self._made[spec.email_id] = kept(spec)
        return composer.compose(recipient, utcnow(), extra=extra)


KEEP = 32  # composers kept between batches, the least recently used dropped first
KEPT: OrderedDict[str, Composer] = OrderedDict()
_LOCK = threading.Lock()


def kept(spec: MailoutSpec) -> Composer:
    """The composer of ``spec``: kept from an earlier batch, or compiled now."""
    key = repr((replace(spec, boundary=""), spec.secret_key))
    with _LOCK:
        composer = KEPT.get(key)
        if composer is not None:
            KEPT.move_to_end(key)
            return composer
    composer = Composer(spec)
    with _LOCK:
        KEPT[key] = composer
        while len(KEPT) > KEEP:
            KEPT.popitem(last=False)
    return composer
