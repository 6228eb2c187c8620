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
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_, select, update

from tidings.contacts.models import Contact
from tidings.db.base import utcnow
from tidings.emails import rendering
from tidings.emails.models import Email
from tidings.events import EventType, publish
from tidings.jobs.loop import BackgroundLoop
from tidings.runtime import Runtime
from tidings.sending import gate, variants
from tidings.sending.claims import ClaimBatcher
from tidings.sending.compose import MailoutSpec, NotComposed, Outgoing, Recipient
from tidings.sending.failures import record_failure
from tidings.sending.models import (
    Delivery,
    DeliveryStatus,
    Mailout,
    MailoutStatus,
)
from tidings.sending.ratelimit import limiter_for
from tidings.sending.renderer import CHUNK, RenderPool
from tidings.sending.smtp import (
    Abandoned,
    PermanentFailure,
    SmtpConnection,
    SmtpTarget,
    TemporaryFailure,
    parse_smtp_url,
)
from tidings.sending.specs import load_spec

log = logging.getLogger(__name__)

PAGE_SIZE = 500
STATUS_POLL = 0.5  # seconds between looks at the mailout's status (pause, cancel)
# Fewer pending messages than this are composed in the runner's process: starting a
# render process would cost more than it saves.
RENDER_PROCESS_FROM = 2 * CHUNK


def smtp_target(runtime: Runtime) -> SmtpTarget:
    """The configured SMTP server, or the embedded catcher's address."""
    url = runtime.settings.smtp_url or runtime.catcher_url()
    return parse_smtp_url(url)


class LeaseKeeper(BackgroundLoop):
    """Watches one mailout for its runner: a pause or a cancel stops the run
    (``stopped_by``), and the lease is renewed every third of its length; sets the
    runner's ``_lost`` and ends when the lease went to another worker."""

    def __init__(self, runner: MailoutRunner, mailout_id: int) -> None:
        self.renew_every = runner.lease.total_seconds() / 3
        super().__init__(
            f"tidings-lease-{mailout_id}", min(STATUS_POLL, self.renew_every), delay_first=True
        )
        self.runner = runner
        self.mailout_id = mailout_id
        self.renew_at = time.monotonic() + self.renew_every

    def tick(self) -> bool:
        """Look once, renew when due; False (the loop ends) when the run must stop."""
        runner = self.runner
        status, owner = runner._status(self.mailout_id)
        if status != MailoutStatus.SENDING.value:
            runner.stopped_by = status
            runner._halt.set()
            return False
        due = time.monotonic() >= self.renew_at
        if owner != runner.owner or (due and not runner._renew(self.mailout_id)):
            log.warning("lost the lease on mailout %s", self.mailout_id)
            runner._lost.set()
            runner._halt.set()
            return False
        if due:
            self.renew_at = time.monotonic() + self.renew_every
        return True


class MailoutRunner:
    """Sends one mailout to completion, or until its lease is lost."""

    def __init__(self, runtime: Runtime, *, connections: int | None = None) -> None:
        self.runtime = runtime
        self.connections = connections or runtime.settings.smtp_connections
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease = timedelta(seconds=runtime.settings.mailout_lease_seconds)
        self.retry_delays = runtime.settings.retry_delays()
        self.limiter = limiter_for(runtime.settings)
        self._lost = threading.Event()  # another worker owns the mailout now
        self._halt = threading.Event()  # stop sending: lost, paused or cancelled
        self.stopped_by: str | None = None  # "paused" or "cancelled" when they stopped it
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

    def _status(self, mailout_id: int) -> tuple[str, str | None]:
        with self.runtime.session() as session:
            row = session.execute(
                select(Mailout.status, Mailout.lease_owner).where(Mailout.id == mailout_id)
            ).one()
            return str(row[0]), row[1]

    # -- run ---------------------------------------------------------------------
    def run(self, mailout_id: int) -> str:
        """Send what is pending; returns "finished", "busy" (owned elsewhere), "lost",
        or "paused" / "cancelled" when that stopped it."""
        if not self._acquire(mailout_id):
            return "busy"
        keeper = LeaseKeeper(self, mailout_id)
        keeper.start()
        try:
            with self.runtime.session() as session:
                mailout = session.get(Mailout, mailout_id)
                assert mailout is not None
                email = session.get(Email, mailout.email_id)
                assert email is not None
                spec = load_spec(session, email, runtime=self.runtime)
                widgets = dict(email.widgets or {})
            with self._render_pool(mailout_id, spec) as pool:
                # The render processes start up (an interpreter each) while the
                # variants are chosen: neither waits for the other.
                with self.runtime.session() as session:
                    variants.choose_for_mailout(
                        session, mailout_id=mailout_id, email_id=spec.email_id, widgets=widgets
                    )
                # Each pass sends what is due; a temporary failure makes a delivery
                # due again after its backoff, and gives up after the last retry.
                # The bound only guards against deliveries that never change state.
                for _ in range(len(self.retry_delays) + 3):
                    self.passes += 1
                    self._pass(mailout_id, pool)
                    if self._halt.is_set() or not self._wait_for_retries(mailout_id):
                        break
            if self._lost.is_set():
                return "lost"
            # Stop renewing first: a renewal after the finish would find no lease
            # and report it lost.
            keeper.stop(5)
            status, _ = self._status(mailout_id)
            if status in (MailoutStatus.PAUSED.value, MailoutStatus.CANCELLED.value):
                self.stopped_by = status
                self._release(mailout_id)
                return status
            return "finished" if self._finish(mailout_id) else "lost"
        finally:
            keeper.stop(5)

    def _wait_for_retries(self, mailout_id: int) -> bool:
        """Wait until the next pending delivery is due; False when none is left."""
        while not self._halt.is_set():
            with self.runtime.session() as session:
                left, due = session.execute(
                    select(func.count(), func.min(Delivery.next_attempt_at)).where(
                        Delivery.mailout_id == mailout_id,
                        Delivery.status == DeliveryStatus.PENDING.value,
                    )
                ).one()
            if not left:
                return False
            wait = (due - utcnow()).total_seconds() if due is not None else 0.0
            if wait <= 0:
                return True
            self._halt.wait(min(wait, STATUS_POLL))
        return False

    def _release(self, mailout_id: int) -> None:
        """Give the lease back (paused or cancelled: nobody sends it until resumed)."""
        with self.runtime.session() as session:
            session.execute(
                update(Mailout)
                .where(Mailout.id == mailout_id, Mailout.lease_owner == self.owner)
                .values(lease_owner=None, lease_expires_at=None)
            )

    @contextlib.contextmanager
    def _render_pool(self, mailout_id: int, spec: MailoutSpec) -> Iterator[RenderPool]:
        settings = self.runtime.settings
        processes = settings.send_render_processes
        if processes is None:
            processes = 2 if spec.dkim is not None else 1
        if processes and self._pending_left(mailout_id) < RENDER_PROCESS_FROM:
            processes = 0
        rate = self.limiter.rate_for(spec.sender_address)
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
                .where(
                    Mailout.id == mailout_id,
                    Mailout.lease_owner == self.owner,
                    Mailout.status == MailoutStatus.SENDING.value,
                )
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
            email_id = session.scalar(select(Mailout.email_id).where(Mailout.id == mailout_id))
            publish(
                session,
                EventType.MAILOUT_FINISHED,
                {"mailout_id": mailout_id, "email_id": email_id},
            )
            session.execute(
                update(Delivery)
                .where(
                    Delivery.mailout_id == mailout_id,
                    Delivery.status == DeliveryStatus.PENDING.value,
                )
                .values(
                    status=DeliveryStatus.FAILED.value,
                    error=func.coalesce(Delivery.error, "gave up after repeated failures"),
                )
            )
        return True

    def _pages(self, mailout_id: int, spec_widgets: bool = False) -> Any:
        last_id = 0
        while not self._halt.is_set():
            now = utcnow()
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
                        or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
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
                # Suppressed since the snapshot, or known only by the address's hash.
                blocked = gate.skip_suppressed(
                    session, [(r[0], r[2]) for r in rows if r[1] is not None]
                )
                # Refused since the mailout started (an opt-out).
                refused = set(
                    session.scalars(
                        select(Contact.id).where(
                            Contact.id.in_([row[1] for row in rows if row[1] is not None]),
                            ~gate.mailable(),
                        )
                    )
                )
                if refused:
                    session.execute(
                        update(Delivery)
                        .where(
                            Delivery.id.in_([row[0] for row in rows if row[1] in refused]),
                            Delivery.status == DeliveryStatus.PENDING.value,
                        )
                        .values(status=DeliveryStatus.SKIPPED.value, error="not to be mailed")
                    )
                picked = variants.chosen(session, [row[0] for row in rows]) if spec_widgets else {}
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
                    variants=picked.get(row[0]),
                )
                for row in rows
                if row[1] is not None and row[0] not in blocked and row[1] not in refused
            ]

    def _recipients(self, mailout_id: int, spec_widgets: bool = False) -> Iterator[Recipient]:
        for page in self._pages(mailout_id, spec_widgets):
            yield from page

    def _pass(self, mailout_id: int, pool: RenderPool) -> None:
        work: queue.Queue[Outgoing | None] = queue.Queue(maxsize=self.connections * 8)
        target = smtp_target(self.runtime)
        claimer = ClaimBatcher(self.runtime.engine)
        sender = pool.spec.sender_address
        threads = [
            threading.Thread(
                target=self._sender,
                args=(work, target, claimer),
                daemon=True,
                name=f"tidings-smtp-{i}",
            )
            for i in range(self.connections)
        ]
        for thread in threads:
            thread.start()
        limiter = self.limiter
        with_variants = any(w.get("variants") for w in pool.spec.widgets.values())
        composed = pool.compose(self._recipients(mailout_id, with_variants))
        try:
            for message in composed:
                if self._halt.is_set():
                    break
                if isinstance(message, NotComposed):
                    # A template limit or error fails it at once; anything else is tried
                    # again after a backoff, like a temporary refusal, then given up.
                    log.error(
                        "could not compose delivery %s: %s", message.delivery_id, message.error
                    )
                    self._record_failure(
                        message.delivery_id,
                        message.error,
                        permanent=message.permanent,
                        after_commit=False,
                    )
                    continue
                limiter.wait(sender)
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
        target: SmtpTarget,
        claimer: ClaimBatcher,
    ) -> None:
        connection = SmtpConnection(target)
        try:
            while (message := work.get()) is not None:
                if self._halt.is_set():
                    continue
                try:
                    self._deliver(connection, claimer, message)
                except Exception:
                    log.exception("delivery %s failed", message.delivery_id)
        finally:
            connection.close()

    def _deliver(
        self,
        connection: SmtpConnection,
        claimer: ClaimBatcher,
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
                sender=message.mail_from,
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
                delivery_id,
                str(exc),
                permanent=True,
                after_commit=exc.after_commit,
                bounced=exc.recipient_refused,
            )

    def _record_failure(
        self,
        delivery_id: int,
        error: str,
        *,
        permanent: bool,
        after_commit: bool,
        bounced: bool = False,
    ) -> None:
        with self.runtime.session() as session:
            record_failure(
                session,
                delivery_id,
                error,
                permanent=permanent,
                after_commit=after_commit,
                bounced=bounced,
                retry_delays=self.retry_delays,
            )
