"""Claims: the commit that marks a delivery sent, right before its final dot.

A sender whose message body is out asks to claim its delivery and waits for the
commit of the transaction that holds the claim; only then does it send the final
dot, so every message has its own committed claim before its dot. Claims of the
SMTP connections that are ready at the same moment share one transaction (group
commit), run by one of their senders.

On SQLite one claim transaction runs at a time (one writer; the runner's threads
would only fight over the write lock). On PostgreSQL a claim transaction costs a few
round trips to the server and a WAL flush, and that latency, not the server's work,
bounds a single transaction stream; so up to ``POSTGRESQL_TRANSACTIONS`` run at once,
each on its own connection, and the claim and the kept destinations are one
statement (``BEGIN``, one statement, ``COMMIT``). The claims never overlap (one
delivery is claimed by one sender of this runner), and ``WHERE status='pending'``
still decides a race with another runner. The ``COMMIT`` is sent only once the
statement has answered: a runner killed while its claim waits on a lock leaves an
open transaction that the server rolls back, never a claim without its message.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Select,
    Text,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from tidings.db.base import UTCDateTime, utcnow
from tidings.sending.models import Delivery, DeliveryLinkUrl, DeliveryStatus

log = logging.getLogger(__name__)

POSTGRESQL_TRANSACTIONS = 2

# Built once: executing a prepared construct skips per-message statement building.
_CLAIM = (
    update(Delivery)
    .where(
        Delivery.id.in_(bindparam("b_ids", expanding=True)),
        Delivery.status == DeliveryStatus.PENDING.value,
    )
    .values(
        status=DeliveryStatus.SENT.value,
        sent_at=bindparam("b_sent_at", type_=UTCDateTime()),
        attempts=Delivery.attempts + 1,
        error=None,
    )
    .returning(Delivery.id)
)
_KEEP_DESTINATIONS = insert(DeliveryLinkUrl)


def _claim_and_keep() -> Select[Any]:
    """PostgreSQL: the claim and the kept destinations in one statement (one round
    trip fewer); destinations are kept only for deliveries the claim took."""
    claimed = _CLAIM.cte("claimed")
    rows = (
        func.unnest(
            bindparam("b_d", type_=ARRAY(BigInteger)),
            bindparam("b_l", type_=ARRAY(BigInteger)),
            bindparam("b_u", type_=ARRAY(Text)),
        )
        .table_valued("d", "l", "u")
        .render_derived()
    )
    kept = insert(DeliveryLinkUrl).from_select(
        ["delivery_id", "link_id", "url"],
        select(rows.c.d, rows.c.l, rows.c.u).where(rows.c.d.in_(select(claimed.c.id))),
    )
    return select(claimed.c.id).add_cte(kept.cte("kept"))


_CLAIM_AND_KEEP = _claim_and_keep()


class ClaimFailed(RuntimeError):
    """The transaction holding a claim failed; the delivery is not known to be claimed."""


@dataclass(eq=False)
class _Claim:
    delivery_id: int
    destinations: dict[int, str]
    wake: threading.Event = field(default_factory=threading.Event)  # turn to lead, or done
    done: threading.Event = field(default_factory=threading.Event)  # its transaction ended
    lead: bool = False
    claimed: bool = False
    error: BaseException | None = None


class ClaimBatcher:
    """Group commit of claims, shared by the SMTP connections of one pass.

    Claims that arrive while every transaction slot is busy wait in a queue; a
    sender whose transaction ends hands its slot to the first waiting claim, whose
    sender then commits everything queued by then in one transaction. Each sender
    leads one transaction at most and then only waits for its own claim, so no dot
    waits for more than the transaction holding its claim.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgresql = engine.dialect.name == "postgresql"
        self.slots = POSTGRESQL_TRANSACTIONS if self.postgresql else 1
        self._lock = threading.Lock()
        self._queue: list[_Claim] = []
        self._leading = 0  # slots in use: senders that lead, or are about to
        self._idle: list[Connection] = []
        self.transactions = 0
        self.claims = 0

    def claim(self, delivery_id: int, destinations: dict[int, str]) -> bool:
        """Mark the delivery sent (and keep its personalized destinations) if it is
        still pending; True once committed, False if it was not pending. Raises
        ``ClaimFailed`` if the transaction failed."""
        item = _Claim(delivery_id, destinations)
        with self._lock:
            self._queue.append(item)
            if self._leading < self.slots:
                self._leading += 1
                item.lead = True
        if not item.lead:
            item.wake.wait()
        if item.lead:
            # Another leader may have taken this claim already; then this sender
            # commits what is queued (perhaps nothing) and waits for its own.
            self._lead()
        item.done.wait()
        if item.error is not None:
            raise ClaimFailed(f"claim of delivery {delivery_id} failed") from item.error
        return item.claimed

    def _lead(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
            conn = self._idle.pop() if self._idle else None
        try:
            if batch:
                conn = self._commit(batch, conn)
        finally:
            with self._lock:
                if conn is not None:
                    self._idle.append(conn)
                if self._queue and not self._queue[0].lead:
                    successor = self._queue[0]
                    successor.lead = True
                    successor.wake.set()
                else:
                    # Nothing waits, or the first waiting claim already holds a slot.
                    self._leading -= 1
            for item in batch:
                item.done.set()
                item.wake.set()

    def _commit(self, batch: list[_Claim], conn: Connection | None) -> Connection | None:
        """Run one claim transaction; returns the connection if it is fit for reuse."""
        try:
            if conn is None:
                conn = self.engine.connect()
            ids = [c.delivery_id for c in batch]
            if self.postgresql:
                kept = [(c.delivery_id, k, url) for c in batch for k, url in c.destinations.items()]
                claimed = set(
                    conn.execute(
                        _CLAIM_AND_KEEP,
                        {
                            "b_ids": ids,
                            "b_sent_at": utcnow(),
                            "b_d": [row[0] for row in kept],
                            "b_l": [row[1] for row in kept],
                            "b_u": [row[2] for row in kept],
                        },
                    ).scalars()
                )
            else:
                claimed = set(conn.execute(_CLAIM, {"b_ids": ids, "b_sent_at": utcnow()}).scalars())
                rows = [
                    {"delivery_id": c.delivery_id, "link_id": link_id, "url": url}
                    for c in batch
                    if c.delivery_id in claimed
                    for link_id, url in c.destinations.items()
                ]
                if rows:
                    conn.execute(_KEEP_DESTINATIONS, rows)
            conn.commit()
        except Exception as exc:  # noqa: BLE001 - raised in every sender as ClaimFailed
            log.warning("claim transaction of %d deliveries failed: %s", len(batch), exc)
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()  # rolls back; the connection may be broken
            for c in batch:
                c.error = exc
            return None
        for c in batch:
            c.claimed = c.delivery_id in claimed
        with self._lock:
            self.transactions += 1
            self.claims += len(claimed)
        return conn

    def close(self) -> None:
        """Give the connections back."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                conn.close()
