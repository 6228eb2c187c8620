"""Run a mailout: render, deliver over a small SMTP pool, resume after a crash.

One worker owns a mailout through a lease it renews; a worker that dies loses the
lease and another (or the restarted one) resumes the pending deliveries. Each
delivery is claimed by the commit that marks it sent (``WHERE status='pending'``)
right before the final dot of its SMTP transaction, so every recipient gets one
message even if two workers race (see ``sending.smtp``). Claims of the pool's
connections that are ready at the same moment share one transaction (group commit);
each message still waits for the commit of its own claim before its dot.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import smtplib
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from tidings.contacts.models import Contact
from tidings.db.base import UTCDateTime, utcnow
from tidings.emails import rendering
from tidings.emails.models import Email, Link
from tidings.runtime import Runtime
from tidings.sending.message import MessageSkeleton, add_pixel
from tidings.sending.models import (
    Delivery,
    DeliveryLinkUrl,
    DeliveryStatus,
    Mailout,
    MailoutStatus,
)
from tidings.sending.smtp import (
    Abandoned,
    PermanentFailure,
    SmtpConnection,
    SmtpTarget,
    TemporaryFailure,
    parse_smtp_url,
)
from tidings.tracking.tokens import click_path, open_path, unsubscribe_path

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
PAGE_SIZE = 500


def smtp_target(runtime: Runtime) -> SmtpTarget:
    """The configured SMTP server, or the embedded catcher's address."""
    url = runtime.settings.smtp_url or runtime.catcher_url()
    return parse_smtp_url(url)


class _NoDelayConnection(SmtpConnection):
    """An SMTP connection with Nagle's algorithm off.

    The body and the final dot are written separately (the claim commits between
    them); with Nagle on, the small dot waits for the ACK of the body's last segment,
    which the server delays by ~40 ms: 47 ms per message instead of 3 ms.
    """

    def _open(self) -> smtplib.SMTP:
        smtp = super()._open()
        sock = smtp.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return smtp


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


class ClaimFailed(RuntimeError):
    """The transaction holding a claim failed; the delivery is not known to be claimed."""


@dataclass(eq=False)
class _Claim:
    delivery_id: int
    destinations: dict[int, str]
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    claimed: bool = False
    error: BaseException | None = None


class _ClaimBatcher:
    """Group commit of claims, shared by the SMTP connections of one pass.

    A sender whose message body is out asks to claim its delivery and waits for the
    commit of the transaction that holds the claim; only then does it send the final
    dot, so every message still has its own committed claim before its dot. Claims
    that arrive while a transaction commits go together into the next one, run by
    one of their senders (each leads one transaction only, so no sender's dot waits
    for others' transactions). One transaction at a time also keeps SQLite's write
    lock from being fought over by the runner's own threads.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._queue: list[_Claim] = []
        self._leading = False
        self._conn: Connection | None = None
        self.transactions = 0
        self.claims = 0

    def claim(self, delivery_id: int, destinations: dict[int, str]) -> bool:
        """Mark the delivery sent (and keep its personalized destinations) if it is
        still pending; True once committed, False if it was not pending. Raises
        ``ClaimFailed`` if the transaction failed."""
        item = _Claim(delivery_id, destinations)
        with self._lock:
            self._queue.append(item)
            if not self._leading:
                self._leading = item.lead = True
        if not item.lead:
            item.done.wait()
        if item.lead:
            self._lead()
        if item.error is not None:
            raise ClaimFailed(f"claim of delivery {delivery_id} failed") from item.error
        return item.claimed

    def _lead(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            self._commit(batch)
        finally:
            with self._lock:
                if self._queue:
                    successor = self._queue[0]
                    successor.lead = True
                    successor.done.set()
                else:
                    self._leading = False
            for item in batch:
                item.done.set()

    def _commit(self, batch: list[_Claim]) -> None:
        try:
            if self._conn is None:
                self._conn = self.engine.connect()
            conn = self._conn
            claimed = set(
                conn.execute(
                    _CLAIM,
                    {"b_ids": [c.delivery_id for c in batch], "b_sent_at": utcnow()},
                ).scalars()
            )
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
            self.close()  # rolls back; the connection may be broken
            for c in batch:
                c.error = exc
            return
        self.transactions += 1
        self.claims += len(claimed)
        for c in batch:
            c.claimed = c.delivery_id in claimed

    def close(self) -> None:
        """Give the connection back."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


@dataclass(frozen=True)
class Recipient:
    """One pending delivery and what its message needs about the contact."""

    delivery_id: int
    contact: dict[str, Any]


class _Prepared:
    """What every message of one mailout shares."""

    def __init__(self, runtime: Runtime, session: Session, email: Email) -> None:
        link_rows = session.execute(
            select(Link.position, Link.id, Link.url, Link.personalized).where(
                Link.email_id == email.id
            )
        ).all()
        self.link_ids = {position: link_id for position, link_id, _, _ in link_rows}
        self.link_urls = {position: url for position, _, url, _ in link_rows}
        self.compiled = rendering.compile_email(
            subject=email.subject,
            prepared_html=email.prepared_html,
            plain_text=email.plain_text,
            positions=self.link_ids,
        )
        self.skeleton = MessageSkeleton(
            sender_name=email.sender_name, sender_address=email.sender_address
        )
        self.sender = email.sender_address
        self.email_id = email.id
        self.base_url = runtime.base_url
        self.signer = runtime.signer


class MailoutRunner:
    """Sends one mailout to completion, or until its lease is lost."""

    def __init__(self, runtime: Runtime, *, connections: int | None = None) -> None:
        self.runtime = runtime
        self.connections = connections or runtime.settings.smtp_connections
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease = timedelta(seconds=runtime.settings.mailout_lease_seconds)
        self._lost = threading.Event()
        self.claim_transactions = 0
        self.claims = 0

    # -- lease -------------------------------------------------------------------
    def _acquire(self, mailout_id: int) -> bool:
        now = utcnow()
        with self.runtime.session() as session:
            result = session.execute(
                update(Mailout)
                .where(
                    Mailout.id == mailout_id,
                    Mailout.status.in_([MailoutStatus.QUEUED.value, MailoutStatus.SENDING.value]),
                    or_(
                        Mailout.lease_owner.is_(None),
                        Mailout.lease_expires_at < now,
                        Mailout.lease_owner == self.owner,
                    ),
                )
                .values(
                    lease_owner=self.owner,
                    lease_expires_at=now + self.lease,
                    status=MailoutStatus.SENDING.value,
                    started_at=func.coalesce(Mailout.started_at, now),
                )
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def _renew(self, mailout_id: int) -> bool:
        with self.runtime.session() as session:
            result = session.execute(
                update(Mailout)
                .where(Mailout.id == mailout_id, Mailout.lease_owner == self.owner)
                .values(lease_expires_at=utcnow() + self.lease)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def _keep_lease(self, mailout_id: int, done: threading.Event) -> None:
        interval = self.lease.total_seconds() / 3
        while not done.wait(interval):
            try:
                if not self._renew(mailout_id):
                    log.warning("lost the lease on mailout %s", mailout_id)
                    self._lost.set()
                    return
            except Exception:
                log.exception("could not renew lease on mailout %s", mailout_id)

    # -- run ---------------------------------------------------------------------
    def run(self, mailout_id: int) -> str:
        """Send what is pending; returns "finished", "busy" (owned elsewhere) or "lost"."""
        if not self._acquire(mailout_id):
            return "busy"
        done = threading.Event()
        keeper = threading.Thread(target=self._keep_lease, args=(mailout_id, done), daemon=True)
        keeper.start()
        try:
            with self.runtime.session() as session:
                mailout = session.get(Mailout, mailout_id)
                assert mailout is not None
                email = session.get(Email, mailout.email_id)
                assert email is not None
                prepared = _Prepared(self.runtime, session, email)
            for attempt in range(MAX_ATTEMPTS + 1):
                if attempt:
                    time.sleep(min(2.0 * attempt, 10.0))
                self._pass(mailout_id, prepared)
                if self._lost.is_set():
                    return "lost"
                if not self._pending_left(mailout_id):
                    break
            # Stop renewing first: a renewal after the finish would find no lease
            # and report it lost.
            done.set()
            keeper.join(5)
            return "finished" if self._finish(mailout_id) else "lost"
        finally:
            done.set()
            keeper.join(5)

    def _pending_left(self, mailout_id: int) -> int:
        with self.runtime.session() as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(
                        Delivery.mailout_id == mailout_id,
                        Delivery.status == DeliveryStatus.PENDING.value,
                    )
                )
                or 0
            )

    def _finish(self, mailout_id: int) -> bool:
        """Mark the mailout finished and give up on what is still pending, only while
        this runner owns it (False otherwise: another worker may be sending those)."""
        now = utcnow()
        with self.runtime.session() as session:
            # The mailout row first: on PostgreSQL its lock keeps another worker from
            # taking the lease until this commits; SQLite's write lock does the same.
            owned = session.execute(
                update(Mailout)
                .where(Mailout.id == mailout_id, Mailout.lease_owner == self.owner)
                .values(
                    status=MailoutStatus.FINISHED.value,
                    finished_at=now,
                    lease_owner=None,
                    lease_expires_at=None,
                )
            )
            if not owned.rowcount:  # type: ignore[attr-defined]
                log.warning("mailout %s changed owner before it could finish", mailout_id)
                return False
            session.execute(
                update(Delivery)
                .where(
                    Delivery.mailout_id == mailout_id,
                    Delivery.status == DeliveryStatus.PENDING.value,
                )
                .values(
                    status=DeliveryStatus.FAILED.value,
                    error="gave up after repeated temporary failures",
                )
            )
        return True

    def _pages(self, mailout_id: int) -> Any:
        last_id = 0
        while not self._lost.is_set():
            with self.runtime.session() as session:
                rows = session.execute(
                    select(
                        Delivery.id,
                        Contact.id,
                        Contact.email,
                        Contact.first_name,
                        Contact.last_name,
                        Contact.fields,
                    )
                    .select_from(Delivery)
                    .outerjoin(Contact, Contact.id == Delivery.contact_id)
                    .where(
                        Delivery.mailout_id == mailout_id,
                        Delivery.status == DeliveryStatus.PENDING.value,
                        Delivery.id > last_id,
                    )
                    .order_by(Delivery.id)
                    .limit(PAGE_SIZE)
                ).all()
                erased = [row[0] for row in rows if row[1] is None]
                if erased:
                    session.execute(
                        update(Delivery)
                        .where(Delivery.id.in_(erased))
                        .values(status=DeliveryStatus.SKIPPED.value, error="contact erased")
                    )
            if not rows:
                return
            last_id = rows[-1][0]
            yield [
                Recipient(
                    delivery_id=row[0],
                    contact=rendering.contact_view(
                        contact_id=row[1],
                        email=row[2],
                        first_name=row[3],
                        last_name=row[4],
                        fields=row[5],
                    ),
                )
                for row in rows
                if row[1] is not None
            ]

    def _pass(self, mailout_id: int, prepared: _Prepared) -> None:
        work: queue.Queue[Recipient | None] = queue.Queue(maxsize=self.connections * 8)
        target = smtp_target(self.runtime)
        claimer = _ClaimBatcher(self.runtime.engine)
        threads = [
            threading.Thread(
                target=self._sender,
                args=(work, prepared, target, claimer),
                daemon=True,
                name=f"tidings-smtp-{i}",
            )
            for i in range(self.connections)
        ]
        for thread in threads:
            thread.start()
        rate = self.runtime.settings.send_rate_per_second
        interval = 1.0 / rate if rate > 0 else 0.0
        next_at = time.monotonic()
        try:
            for page in self._pages(mailout_id):
                for recipient in page:
                    if self._lost.is_set():
                        break
                    if interval:
                        next_at = max(next_at + interval, time.monotonic())
                        time.sleep(max(0.0, next_at - time.monotonic()))
                    work.put(recipient)
        finally:
            for _ in threads:
                work.put(None)
            for thread in threads:
                thread.join()
            claimer.close()
            self.claim_transactions += claimer.transactions
            self.claims += claimer.claims

    def _sender(
        self,
        work: queue.Queue[Recipient | None],
        prepared: _Prepared,
        target: SmtpTarget,
        claimer: _ClaimBatcher,
    ) -> None:
        connection = _NoDelayConnection(target)
        try:
            while (recipient := work.get()) is not None:
                if self._lost.is_set():
                    continue
                try:
                    self._deliver(connection, claimer, prepared, recipient)
                except Exception:
                    log.exception("delivery %s failed", recipient.delivery_id)
        finally:
            connection.close()

    def _deliver(
        self,
        connection: SmtpConnection,
        claimer: _ClaimBatcher,
        prepared: _Prepared,
        recipient: Recipient,
    ) -> None:
        delivery_id = recipient.delivery_id
        personalized: dict[int, str] = {}
        tracked: dict[tuple[int, str], str | None] = {}
        base = prepared.base_url
        signer = prepared.signer

        def tracked_url(position: int, destination: str) -> str | None:
            # Asked once for the HTML part and once for the text part: sign once.
            key = (position, destination)
            if key in tracked:
                return tracked[key]
            link_id = prepared.link_ids.get(position)
            url = None
            if link_id is not None:
                if destination != prepared.link_urls[position]:
                    personalized[link_id] = destination
                url = base + click_path(signer, delivery_id, link_id)
            tracked[key] = url
            return url

        message = rendering.render(prepared.compiled, recipient.contact, tracked_url)
        html = add_pixel(message.html, base + open_path(signer, delivery_id, prepared.email_id))
        data = prepared.skeleton.build(
            to_address=recipient.contact["email"],
            to_name=" ".join(
                p for p in (recipient.contact["first_name"], recipient.contact["last_name"]) if p
            )
            or None,
            subject=message.subject,
            text=message.text,
            html=html,
            sent_at=utcnow(),
            message_id=prepared.skeleton.message_id(delivery_id),
            unsubscribe_url=base + unsubscribe_path(signer, delivery_id),
        )

        def commit() -> bool:
            # Called between the body and the final dot: the dot goes out right after
            # the COMMIT of the claim. A process killed between the two is the one
            # window left (well under a millisecond) where a message marked sent is
            # not sent; the other order would send it twice.
            try:
                return claimer.claim(delivery_id, personalized)
            except Exception:
                # Not known to be claimed: abandon the message (the connection is
                # dropped, so the server discards it); it stays pending, or, if the
                # COMMIT did land, it counts as sent without a message.
                log.exception("could not claim delivery %s; not sending it", delivery_id)
                return False

        try:
            connection.send(
                sender=prepared.sender,
                recipient=recipient.contact["email"],
                data=data,
                commit=commit,
            )
        except Abandoned:
            return
        except TemporaryFailure as exc:
            self._record_failure(
                delivery_id, str(exc), permanent=False, after_commit=exc.after_commit
            )
        except PermanentFailure as exc:
            self._record_failure(
                delivery_id, str(exc), permanent=True, after_commit=exc.after_commit
            )

    def _record_failure(
        self, delivery_id: int, error: str, *, permanent: bool, after_commit: bool
    ) -> None:
        with self.runtime.session() as session:
            delivery = session.get(Delivery, delivery_id)
            if delivery is None:
                return
            if after_commit:
                session.execute(delete_link_urls(delivery_id))
            else:
                delivery.attempts += 1
            give_up = permanent or delivery.attempts >= MAX_ATTEMPTS
            delivery.status = (DeliveryStatus.FAILED if give_up else DeliveryStatus.PENDING).value
            delivery.sent_at = None
            delivery.error = error[:1000]


def delete_link_urls(delivery_id: int) -> Any:
    """Statement removing a delivery's personalized destinations."""
    return delete(DeliveryLinkUrl).where(DeliveryLinkUrl.delivery_id == delivery_id)
