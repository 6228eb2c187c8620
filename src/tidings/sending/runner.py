"""Run a mailout: render, deliver over a small SMTP pool, resume after a crash.

One worker owns a mailout through a lease it renews; a worker that dies loses the
lease and another (or the restarted one) resumes the pending deliveries. Each
delivery is claimed by the commit that marks it sent (``WHERE status='pending'``)
right before the final dot of its SMTP transaction, so every recipient gets one
message even if two workers race (see ``sending.smtp``).
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from tidings.contacts.models import Contact
from tidings.db.base import utcnow
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
            self._finish(mailout_id)
            return "finished"
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

    def _finish(self, mailout_id: int) -> None:
        now = utcnow()
        with self.runtime.session() as session:
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
            session.execute(
                update(Mailout)
                .where(Mailout.id == mailout_id, Mailout.lease_owner == self.owner)
                .values(
                    status=MailoutStatus.FINISHED.value,
                    finished_at=now,
                    lease_owner=None,
                    lease_expires_at=None,
                )
            )

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
        threads = [
            threading.Thread(
                target=self._sender,
                args=(work, prepared, target),
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

    def _sender(
        self, work: queue.Queue[Recipient | None], prepared: _Prepared, target: SmtpTarget
    ) -> None:
        connection = SmtpConnection(target)
        try:
            while (recipient := work.get()) is not None:
                if self._lost.is_set():
                    continue
                try:
                    self._deliver(connection, prepared, recipient)
                except Exception:
                    log.exception("delivery %s failed", recipient.delivery_id)
        finally:
            connection.close()

    def _deliver(
        self, connection: SmtpConnection, prepared: _Prepared, recipient: Recipient
    ) -> None:
        delivery_id = recipient.delivery_id
        personalized: dict[int, str] = {}
        base = prepared.base_url
        signer = prepared.signer

        def tracked_url(position: int, destination: str) -> str | None:
            link_id = prepared.link_ids.get(position)
            if link_id is None:
                return None
            if destination != prepared.link_urls[position]:
                personalized[link_id] = destination
            return base + click_path(signer, delivery_id, link_id)

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
            with self.runtime.session() as session:
                result = session.execute(
                    update(Delivery)
                    .where(
                        Delivery.id == delivery_id, Delivery.status == DeliveryStatus.PENDING.value
                    )
                    .values(
                        status=DeliveryStatus.SENT.value,
                        sent_at=utcnow(),
                        attempts=Delivery.attempts + 1,
                        error=None,
                    )
                )
                if not result.rowcount:  # type: ignore[attr-defined]
                    return False
                if personalized:
                    session.execute(
                        insert(DeliveryLinkUrl),
                        [
                            {"delivery_id": delivery_id, "link_id": link_id, "url": url}
                            for link_id, url in personalized.items()
                        ],
                    )
            return True

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
    from sqlalchemy import delete

    return delete(DeliveryLinkUrl).where(DeliveryLinkUrl.delivery_id == delivery_id)


def resumable_mailouts(runtime: Runtime) -> list[int]:
    """Mailouts waiting to run or whose owner stopped renewing its lease."""
    now = utcnow()
    with runtime.session() as session:
        return list(
            session.scalars(
                select(Mailout.id)
                .where(
                    Mailout.status.in_([MailoutStatus.QUEUED.value, MailoutStatus.SENDING.value]),
                    or_(Mailout.lease_expires_at.is_(None), Mailout.lease_expires_at < now),
                )
                .order_by(Mailout.id)
            )
        )


class MailoutSupervisor:
    """Background thread that resumes mailouts nobody is sending (crash recovery)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._running: set[int] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start scanning every ``mailout_recovery_interval`` seconds."""
        self._thread = threading.Thread(target=self._loop, name="tidings-mailouts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop scanning (running mailouts finish their current message)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _loop(self) -> None:
        interval = self.runtime.settings.mailout_recovery_interval
        while not self._stop.is_set():
            try:
                for mailout_id in resumable_mailouts(self.runtime):
                    self.launch(mailout_id)
            except Exception:
                log.exception("mailout recovery scan failed")
            self._stop.wait(interval)

    def launch(self, mailout_id: int) -> None:
        """Run a mailout in its own thread unless this process already runs it."""
        with self._lock:
            if mailout_id in self._running:
                return
            self._running.add(mailout_id)

        def target() -> None:
            try:
                MailoutRunner(self.runtime).run(mailout_id)
            except Exception:
                log.exception("mailout %s stopped with an error", mailout_id)
            finally:
                with self._lock:
                    self._running.discard(mailout_id)

        threading.Thread(target=target, name=f"tidings-mailout-{mailout_id}", daemon=True).start()
