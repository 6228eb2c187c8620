"""Run a mailout: render, deliver over a small SMTP pool, resume after a crash.

One worker owns a mailout through a lease it renews; a worker that dies loses the
lease and another (or the restarted one) resumes the pending deliveries. Each
delivery is claimed by the commit that marks it sent (``WHERE status='pending'``)
right before the final dot of its SMTP transaction, so every recipient gets one
message even if two workers race (see ``sending.smtp``). Claims of the pool's
connections that are ready at the same moment share one transaction (group commit,
``sending.claims``); each message still waits for the commit of its own claim before
its dot.

Messages are composed (rendered, links signed, MIME built) a few chunks ahead by
render processes (``sending.renderer``), so the runner's own process spends its
time on SMTP and claims; the claim-before-dot order does not change.
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
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from tidings.contacts.models import Contact
from tidings.db.base import utcnow
from tidings.emails import rendering
from tidings.emails.models import Email, Link
from tidings.runtime import Runtime
from tidings.sending.claims import ClaimBatcher
from tidings.sending.compose import MailoutSpec, NotComposed, Outgoing, Recipient
from tidings.sending.models import (
    Delivery,
    DeliveryLinkUrl,
    DeliveryStatus,
    Mailout,
    MailoutStatus,
)
from tidings.sending.renderer import CHUNK, RenderPool
from tidings.sending.smtp import (
    Abandoned,
    PermanentFailure,
    SmtpConnection,
    SmtpTarget,
    TemporaryFailure,
    parse_smtp_url,
)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
PAGE_SIZE = 500
# Fewer pending messages than this are composed in the runner's process: starting a
# render process would cost more than it saves.
RENDER_PROCESS_FROM = 2 * CHUNK


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


def load_spec(session: Session, email: Email, *, base_url: str, secret_key: str) -> MailoutSpec:
    """What every message of a mailout of ``email`` shares."""
    link_rows = session.execute(
        select(Link.position, Link.id, Link.url).where(Link.email_id == email.id)
    ).all()
    return MailoutSpec(
        email_id=email.id,
        subject=email.subject,
        prepared_html=email.prepared_html,
        plain_text=email.plain_text,
        link_ids={position: link_id for position, link_id, _ in link_rows},
        link_urls={position: url for position, _, url in link_rows},
        sender_name=email.sender_name,
        sender_address=email.sender_address,
        base_url=base_url,
        secret_key=secret_key,
        widgets=dict(email.prepared_widgets or {}),
    )


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
        self.passes = 0  # runs over the pending deliveries (more after temporary failures)
        self.render_restarts = 0  # render processes that died and were replaced
        self.recomposed = 0  # messages composed again after a render process died
        self.render_pool: RenderPool | None = None  # while running

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
                spec = load_spec(
                    session,
                    email,
                    base_url=self.runtime.base_url,
                    secret_key=self.runtime.secret_key,
                )
            with self._render_pool(mailout_id, spec) as pool:
                for attempt in range(MAX_ATTEMPTS + 1):
                    if attempt:
                        time.sleep(min(2.0 * attempt, 10.0))
                    self.passes += 1
                    self._pass(mailout_id, pool)
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

    @contextlib.contextmanager
    def _render_pool(self, mailout_id: int, spec: MailoutSpec) -> Iterator[RenderPool]:
        settings = self.runtime.settings
        processes = settings.send_render_processes
        if processes and self._pending_left(mailout_id) < RENDER_PROCESS_FROM:
            processes = 0
        rate = settings.send_rate_per_second
        # Rate-limited: compose about a quarter of a second ahead, so a message's
        # Date is never much older than the moment it goes out.
        chunk = min(CHUNK, max(1, int(rate / 4))) if rate > 0 else CHUNK
        pool = RenderPool(spec, processes=processes, chunk=chunk)
        self.render_pool = pool
        try:
            yield pool
        finally:
            self.render_pool = None
            pool.close()
            self.render_restarts += pool.restarts
            self.recomposed += pool.recomposed

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

    def _recipients(self, mailout_id: int) -> Iterator[Recipient]:
        for page in self._pages(mailout_id):
            yield from page

    def _pass(self, mailout_id: int, pool: RenderPool) -> None:
        work: queue.Queue[Outgoing | None] = queue.Queue(maxsize=self.connections * 8)
        target = smtp_target(self.runtime)
        claimer = ClaimBatcher(self.runtime.engine)
        sender = pool.spec.sender_address
        threads = [
            threading.Thread(
                target=self._sender,
                args=(work, sender, target, claimer),
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
        composed = pool.compose(self._recipients(mailout_id))
        try:
            for message in composed:
                if self._lost.is_set():
                    break
                if isinstance(message, NotComposed):
                    # Left pending: tried again by the next pass, then given up.
                    log.error(
                        "could not compose delivery %s: %s", message.delivery_id, message.error
                    )
                    continue
                if interval:
                    next_at = max(next_at + interval, time.monotonic())
                    time.sleep(max(0.0, next_at - time.monotonic()))
                work.put(message)
        finally:
            composed.close()
            for _ in threads:
                work.put(None)
            for thread in threads:
                thread.join()
            claimer.close()
            self.claim_transactions += claimer.transactions
            self.claims += claimer.claims

    def _sender(
        self,
        work: queue.Queue[Outgoing | None],
        sender: str,
        target: SmtpTarget,
        claimer: ClaimBatcher,
    ) -> None:
        connection = _NoDelayConnection(target)
        try:
            while (message := work.get()) is not None:
                if self._lost.is_set():
                    continue
                try:
                    self._deliver(connection, claimer, sender, message)
                except Exception:
                    log.exception("delivery %s failed", message.delivery_id)
        finally:
            connection.close()

    def _deliver(
        self,
        connection: SmtpConnection,
        claimer: ClaimBatcher,
        sender: str,
        message: Outgoing,
    ) -> None:
        delivery_id = message.delivery_id

        def commit() -> bool:
            # Called between the body and the final dot: the dot goes out right after
            # the COMMIT of the claim. A process killed between the two is the one
            # window left (well under a millisecond) where a message marked sent is
            # not sent; the other order would send it twice.
            try:
                return claimer.claim(delivery_id, message.personalized)
            except Exception:
                # Not known to be claimed: abandon the message (the connection is
                # dropped, so the server discards it); it stays pending, or, if the
                # COMMIT did land, it counts as sent without a message.
                log.exception("could not claim delivery %s; not sending it", delivery_id)
                return False

        try:
            connection.send(
                sender=sender,
                recipient=message.address,
                data=message.data,
                commit=commit,
                wire_ready=True,
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
