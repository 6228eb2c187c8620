"""Single messages: one email to one contact outside any mailout, and test sends.

A single message (an automation step's email, a form's confirmation) is a delivery
without a mailout: counted in its email's statistics, tracked like any other, and
sent exactly once by the same rule as a mailout (its claim commits before the final
dot). ``send_one`` records it as pending and queues a job after the commit; the job
sends it, and a temporary refusal leaves it pending until its backoff has passed.
The mailout supervisor queues any pending message whose attempt is due, so a job
lost with a crashed worker is sent later all the same.

A test send (``send_test``) is a row of ``test_sends``: rendered as a chosen contact
(or a sample one), subject prefixed ``[Test]``, links straight to their destinations,
no open pixel, and nothing about it is counted or recorded as an interaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tidings.contacts import service as contacts
from tidings.contacts.models import Contact
from tidings.db.base import utcnow
from tidings.db.session import TransactionScoped, after_commit
from tidings.emails import rendering
from tidings.emails import variants as email_variants
from tidings.emails.models import Email, EmailPurpose
from tidings.errors import Invalid, NotFound
from tidings.runtime import Runtime
from tidings.sending import gate, single_pool, variants
from tidings.sending.claims import ClaimBatcher, ClaimFailed
from tidings.sending.compose import Composer, MailoutSpec, Outgoing, Recipient
from tidings.sending.composers import Composers
from tidings.sending.failures import record_failure
from tidings.sending.models import Delivery, DeliveryStatus, TestSend
from tidings.sending.ratelimit import limiter_for
from tidings.sending.smtp import Abandoned, PermanentFailure, SmtpConnection, TemporaryFailure
from tidings.sending.specs import load_spec

log = logging.getLogger(__name__)

SINGLE_JOB = "sending.deliver_single"
SINGLES_JOB = "sending.deliver_singles"
HANDED_KEY = "sending.single_ids"
TEST_JOB = "sending.deliver_test"
MAX_TEST_ADDRESSES = 10
REQUEUE_AFTER = timedelta(seconds=60)  # where a session has no runtime


def _requeue_after(session: Session) -> timedelta:
    """When a queued message not sent by then is queued again by the supervisor."""
    settings = getattr(session.info.get("runtime"), "settings", None)
    return REQUEUE_AFTER if settings is None else timedelta(seconds=settings.single_requeue_seconds)


SINGLE_PURPOSES = (
    EmailPurpose.AUTOMATION.value,
    EmailPurpose.CONFIRMATION.value,
    EmailPurpose.FORM_AUTORESPONDER.value,
)


# Merge fields a single message adds beside ``contact`` (a confirmation link, say),
# computed when the message is composed, so nothing but ids waits in the queue.
ContextProvider = Callable[[Session, Delivery], dict[str, Any]]
CONTEXT_PROVIDERS: dict[str, ContextProvider] = {}


def register_context(purpose: str, provider: ContextProvider) -> None:
    """Give the single messages of emails of ``purpose`` more merge fields: the forms
    domain registers ``confirm_url`` for confirmations this way."""
    CONTEXT_PROVIDERS[purpose] = provider


def _enqueue(session: Session, job: str, **ids: int) -> None:
    runtime = session.info.get("runtime")
    if runtime is not None:
        runtime.queue.enqueue_after_commit(session, job, **ids)


def _send_after_commit(session: Session, delivery_id: int) -> None:
    """Send the message once the transaction commits: every single message of one
    commit goes together, to this process's pool when it runs workers (no queue),
    else as one ``sending.deliver_singles`` job."""
    runtime: Runtime | None = session.info.get("runtime")
    if runtime is None:
        return
    ids = TransactionScoped(session, HANDED_KEY)
    if not ids.has_items():
        ids.hook()
        after_commit(session, lambda: hand_over(runtime, ids.take()))
    ids.add(delivery_id)


def hand_over(runtime: Runtime, delivery_ids: list[int]) -> None:
    """Send these pending single messages soon (after their commit)."""
    if not delivery_ids:
        return
    pool = single_pool.of(runtime)
    if pool.serving:
        pool.submit(delivery_ids, prepare_many)
    else:
        runtime.queue.enqueue(SINGLES_JOB, delivery_ids=delivery_ids)


def deliver_many(runtime: Runtime, delivery_ids: list[int]) -> dict[int, str]:
    """Send these pending single messages over the pool's kept connections and wait;
    each one's status afterwards."""
    batch = single_pool.of(runtime).submit(delivery_ids, prepare_many)
    return batch.wait(timeout=runtime.settings.single_requeue_seconds)


def send_one(
    *,
    session: Session,
    email_id: int,
    contact_id: int | None = None,
    address: str | None = None,
    idempotency_key: str | None = None,
) -> Delivery:
    """Send ``email`` to one contact (by id, or by ``address``), once.

    For emails of purpose automation, confirmation or form autoresponder. The message
    is a delivery without a mailout, sent by a job after this transaction commits.
    With ``idempotency_key`` (at most 200 characters, e.g. ``automation:7:step:3:
    contact:42:run:9``) a second call with the same key sends nothing and returns the
    first delivery. An address that may not be mailed (``sending.gate``) gives a
    ``skipped`` delivery whose ``error`` says why.
    """
    if idempotency_key is not None:
        if not idempotency_key or len(idempotency_key) > 200:
            raise Invalid("idempotency_key: 1 to 200 characters")
        existing = session.scalars(
            select(Delivery).where(Delivery.idempotency_key == idempotency_key)
        ).first()
        if existing is not None:
            return existing
    email = session.get(Email, email_id)
    if email is None:
        raise NotFound(f"email {email_id} not found")
    if email.purpose not in SINGLE_PURPOSES:
        raise Invalid(
            f"email {email_id} is a {email.purpose} email; single messages are for "
            "automation, confirmation and form autoresponder emails"
        )
    contact = _contact(session, contact_id, address)
    refused = gate.refusal(session, address=contact.email, contact=contact, purpose=email.purpose)
    delivery = Delivery(
        mailout_id=None,
        email_id=email.id,
        contact_id=contact.id,
        status=(DeliveryStatus.SKIPPED if refused else DeliveryStatus.PENDING).value,
        error=refused,
        attempts=0,
        next_attempt_at=utcnow() + _requeue_after(session),
        idempotency_key=idempotency_key,
    )
    try:
        with session.begin_nested():
            session.add(delivery)
    except IntegrityError:
        # The same key committed meanwhile by another caller: that one is the send.
        existing = session.scalars(
            select(Delivery).where(Delivery.idempotency_key == idempotency_key)
        ).first()
        if existing is None:
            raise
        return existing
    if not refused:
        _send_after_commit(session, delivery.id)
    return delivery


def send_many(
    *, session: Session, email_id: int, recipients: list[tuple[int, str]]
) -> list[Delivery]:
    """``send_one`` to several contacts at once, each ``(contact_id, idempotency_key)``:
    one query for the keys, one for the contacts, one for suppressions and one insert
    (an automation step taken by many contacts in one transaction). Raises what
    ``send_one`` raises, for the whole batch (the caller's savepoint drops it all)."""
    email = session.get(Email, email_id)
    if email is None:
        raise NotFound(f"email {email_id} not found")
    if email.purpose not in SINGLE_PURPOSES:
        raise Invalid(f"email {email_id} is a {email.purpose} email, not for single messages")
    keys = [key for _, key in recipients]
    if any(not key or len(key) > 200 for key in keys) or len(set(keys)) != len(keys):
        raise Invalid("idempotency keys: 1 to 200 characters, one per message")
    existing = {
        d.idempotency_key: d
        for d in session.scalars(select(Delivery).where(Delivery.idempotency_key.in_(keys)))
    }
    wanted = [(cid, key) for cid, key in recipients if key not in existing]
    ids = sorted({cid for cid, _ in wanted})
    found = {c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_(ids)))}
    if len(found) != len(ids):
        raise NotFound(f"contacts not found: {sorted(set(ids) - set(found))[:10]}")
    refused = gate.refusals(session, list(found.values()), purpose=email.purpose)
    due = utcnow() + _requeue_after(session)
    made = {
        key: Delivery(
            mailout_id=None,
            email_id=email.id,
            contact_id=cid,
            status=(DeliveryStatus.SKIPPED if refused[cid] else DeliveryStatus.PENDING).value,
            error=refused[cid],
            attempts=0,
            next_attempt_at=due,
            idempotency_key=key,
        )
        for cid, key in wanted
    }
    session.add_all(made.values())
    session.flush()
    for delivery in made.values():
        if delivery.status == DeliveryStatus.PENDING.value:
            _send_after_commit(session, delivery.id)
    return [existing.get(key) or made[key] for _, key in recipients]


def _contact(session: Session, contact_id: int | None, address: str | None) -> Contact:
    if (contact_id is None) == (address is None):
        raise Invalid("give either contact_id or address")
    if contact_id is not None:
        return contacts.get(session=session, contact_id=contact_id)
    found = contacts.find_by_email(session=session, email=address or "")
    if found is None:
        raise NotFound("no contact has that address")
    return found


def send_test(
    *,
    session: Session,
    email_id: int,
    addresses: list[str],
    contact_id: int | None = None,
) -> list[TestSend]:
    """Queue a test message of ``email`` to each address, rendered as the contact."""
    email = session.get(Email, email_id)
    if email is None:
        raise NotFound(f"email {email_id} not found")
    if not addresses:
        raise Invalid("addresses: give at least one address")
    if len(addresses) > MAX_TEST_ADDRESSES:
        raise Invalid(f"addresses: at most {MAX_TEST_ADDRESSES} per test send")
    clean: list[str] = []
    for raw in addresses:
        try:
            normalized = validate_email(raw.strip(), check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise Invalid(f"addresses: {raw[:320]!r} is not a valid address: {exc}") from None
        if normalized.lower() not in (a.lower() for a in clean):
            clean.append(normalized)
    if contact_id is not None:
        contacts.get(session=session, contact_id=contact_id)
    rows = []
    for address in clean:
        refused = gate.refusal(
            session, address=address, contact=None, purpose=email.purpose, test=True
        )
        row = TestSend(
            email_id=email.id,
            contact_id=contact_id,
            address=address,
            status=(DeliveryStatus.SKIPPED if refused else DeliveryStatus.PENDING).value,
            error=refused,
            attempts=0,
            next_attempt_at=utcnow() + _requeue_after(session),
        )
        session.add(row)
        rows.append(row)
    session.flush()
    for row in rows:
        if row.status == DeliveryStatus.PENDING.value:
            _enqueue(session, TEST_JOB, test_send_id=row.id)
    return rows


# -- the jobs ---------------------------------------------------------------------------


def _smtp_target(runtime: Runtime) -> Any:
    from tidings.sending.runner import smtp_target

    return smtp_target(runtime)


def _transmit(
    runtime: Runtime,
    outgoing: Outgoing,
    sender: str,
    claim: Callable[[], bool],
    connection: SmtpConnection | None = None,
) -> None:
    limiter_for(runtime.settings).wait(sender)
    own = connection is None
    smtp = connection or SmtpConnection(_smtp_target(runtime))
    try:
        smtp.send(
            sender=outgoing.mail_from,
            recipient=outgoing.address,
            data=outgoing.data,
            commit=claim,
            wire_ready=True,
        )
    finally:
        if own:
            smtp.close()


class _Ready:
    """A single message loaded and ready to compose and send."""

    def __init__(
        self, runtime: Runtime, delivery_id: int, compose: Callable[[], Outgoing], sender: str
    ) -> None:
        self.runtime = runtime
        self.delivery_id = delivery_id
        self.compose = compose
        self.sender = sender

    def send(
        self,
        connection: SmtpConnection | None = None,
        claims: ClaimBatcher | None = None,
    ) -> str:
        """Compose, send (over ``connection``, claiming through ``claims``), record."""
        runtime, delivery_id = self.runtime, self.delivery_id
        batcher = claims or ClaimBatcher(runtime.engine)
        return _send(
            runtime,
            self.compose,
            self.sender,
            claim=lambda out: _claim(batcher, delivery_id, out.personalized),
            failed=lambda error, permanent, after, bounced: _with_session(
                runtime,
                lambda s: record_failure(
                    s,
                    delivery_id,
                    error,
                    permanent=permanent,
                    after_commit=after,
                    bounced=bounced,
                    retry_delays=runtime.settings.retry_delays(),
                ),
            ),
            connection=connection,
        )


def _claim(batcher: ClaimBatcher, delivery_id: int, destinations: dict[int, str]) -> bool:
    """The claim before the final dot; a failed claim transaction abandons the message
    (the connection is dropped without the dot, the delivery stays pending)."""
    try:
        return batcher.claim(delivery_id, destinations)
    except ClaimFailed:
        log.exception("could not claim single message %s; not sending it", delivery_id)
        return False


def _load(
    session: Session,
    runtime: Runtime,
    delivery: Delivery | None,
    specs: dict[int, MailoutSpec],
    composers: Composers,
) -> _Ready | str:
    """A pending single message ready to send, or its status when there is nothing
    to send (the caller's transaction records a skip)."""
    if delivery is None or delivery.status != DeliveryStatus.PENDING.value:
        return delivery.status if delivery is not None else "gone"
    delivery_id = delivery.id
    contact = session.get(Contact, delivery.contact_id) if delivery.contact_id else None
    if contact is None:
        delivery.status = DeliveryStatus.SKIPPED.value
        delivery.error = "contact erased"
        return delivery.status
    email = session.get(Email, delivery.email_id)
    assert email is not None
    spec = specs.get(email.id)
    if spec is None:
        spec = specs[email.id] = load_spec(session, email, runtime=runtime)
    view = _view(contact)
    chosen = variants.choose_for_delivery(
        session,
        delivery_id=delivery_id,
        email_id=email.id,
        contact_id=contact.id,
        widgets=email.widgets or {},
    )
    provider = CONTEXT_PROVIDERS.get(email.purpose)
    extra = provider(session, delivery) if provider is not None else None
    # Not queued again by the supervisor while this sends it (a message handed over
    # right after its commit has that much time already: no write).
    after = _requeue_after(session)
    requeue = utcnow() + after
    if delivery.next_attempt_at is None or delivery.next_attempt_at < requeue - after / 2:
        delivery.next_attempt_at = requeue
    return _Ready(
        runtime,
        delivery_id,
        lambda: composers.compose(spec, Recipient(delivery_id, view, chosen or None), extra),
        spec.sender_address,
    )


def deliver_single(runtime: Runtime, delivery_id: int) -> str:
    """Send one pending single message; its status afterwards."""
    with runtime.session() as session:
        ready = _load(session, runtime, session.get(Delivery, delivery_id), {}, Composers())
    if isinstance(ready, str):
        return ready
    return ready.send()


def prepare_many(runtime: Runtime, delivery_ids: list[int]) -> dict[int, single_pool.Work | str]:
    """Load the messages of ``delivery_ids`` in one transaction (the pool's ``Prepare``)."""
    ready: dict[int, single_pool.Work | str] = {}
    specs: dict[int, MailoutSpec] = {}
    composers = Composers()
    with runtime.session() as session:
        rows = session.scalars(select(Delivery).where(Delivery.id.in_(delivery_ids))).all()
        # Their contacts and emails in one query each; held here, so that ``_load``
        # finds them in the session (its identity map holds objects weakly).
        wanted = {d.contact_id for d in rows if d.contact_id is not None}
        held = [
            *session.scalars(select(Contact).where(Contact.id.in_(wanted))),
            *session.scalars(select(Email).where(Email.id.in_({d.email_id for d in rows}))),
        ]
        for delivery in rows:
            try:
                loaded = _load(session, runtime, delivery, specs, composers)
            except Exception:
                log.exception("could not load single message %s", delivery.id)
                loaded = "pending"
            ready[delivery.id] = loaded if isinstance(loaded, str) else loaded.send
        del held
    return ready


def deliver_test(runtime: Runtime, test_send_id: int) -> str:
    """Send one pending test message; its status afterwards."""
    with runtime.session() as session:
        row = session.get(TestSend, test_send_id)
        if row is None or row.status != DeliveryStatus.PENDING.value:
            return row.status if row is not None else "gone"
        email = session.get(Email, row.email_id)
        assert email is not None
        spec = load_spec(session, email, runtime=runtime, test=True)
        contact = session.get(Contact, row.contact_id) if row.contact_id else None
        view = _view(contact) if contact is not None else dict(rendering.SAMPLE_CONTACT)
        chosen = email_variants.choose(
            session, email.widgets or {}, contact.id if contact is not None else None
        )
        address = row.address
        row.next_attempt_at = utcnow() + _requeue_after(session)
    return _send(
        runtime,
        lambda: Composer(spec).compose(
            Recipient(test_send_id, view, chosen or None), utcnow(), to_address=address
        ),
        spec.sender_address,
        claim=lambda _out: _claim_test(runtime, test_send_id),
        failed=lambda error, permanent, after, _bounced: _with_session(
            runtime, lambda s: _test_failed(s, test_send_id, error, permanent, runtime)
        ),
    )


def _send(
    runtime: Runtime,
    compose: Callable[[], Outgoing],
    sender: str,
    *,
    claim: Callable[[Outgoing], bool],
    failed: Callable[[str, bool, bool, bool], str],
    connection: SmtpConnection | None = None,
) -> str:
    """Compose, send, record; the status afterwards ("pending" again after a
    temporary failure, "already sent" when another worker had claimed it)."""
    try:
        outgoing = compose()
    except Exception as exc:  # noqa: BLE001 - a template error for this contact
        return failed(f"{type(exc).__name__}: {exc}", False, False, False)
    try:
        _transmit(runtime, outgoing, sender, lambda: claim(outgoing), connection)
    except Abandoned:
        return "already sent"
    except TemporaryFailure as exc:
        return failed(str(exc), False, exc.after_commit, False)
    except PermanentFailure as exc:
        return failed(str(exc), True, exc.after_commit, exc.recipient_refused)
    return "sent"


def _with_session(runtime: Runtime, work: Callable[[Session], str]) -> str:
    with runtime.session() as session:
        return work(session)


def _claim_test(runtime: Runtime, test_send_id: int) -> bool:
    with runtime.session() as session:
        result = session.execute(
            update(TestSend)
            .where(TestSend.id == test_send_id, TestSend.status == DeliveryStatus.PENDING.value)
            .values(
                status=DeliveryStatus.SENT.value,
                sent_at=utcnow(),
                attempts=TestSend.attempts + 1,
                error=None,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _test_failed(
    session: Session, test_send_id: int, error: str, permanent: bool, runtime: Runtime
) -> str:
    row = session.get(TestSend, test_send_id)
    if row is None:
        return "gone"
    if row.status == DeliveryStatus.PENDING.value:
        row.attempts += 1
    delays = runtime.settings.retry_delays()
    if permanent or row.attempts > len(delays):
        row.status = DeliveryStatus.FAILED.value
    else:
        row.status = DeliveryStatus.PENDING.value
        row.next_attempt_at = utcnow() + timedelta(seconds=delays[row.attempts - 1])
    row.sent_at = None
    row.error = error[:1000]
    return str(row.status)


def _view(contact: Contact) -> dict[str, Any]:
    return rendering.contact_view(
        contact_id=contact.id,
        email=contact.email,
        first_name=contact.first_name,
        last_name=contact.last_name,
        fields=contact.fields,
    )


def queue_due(runtime: Runtime, *, limit: int = 500) -> int:
    """Queue the single messages and test sends whose attempt is due; how many."""
    now = utcnow()
    queued = 0
    with runtime.session() as session:
        for model, job, arg in (
            (Delivery, SINGLE_JOB, "delivery_id"),
            (TestSend, TEST_JOB, "test_send_id"),
        ):
            conditions = [
                model.status == DeliveryStatus.PENDING.value,
                or_(model.next_attempt_at.is_(None), model.next_attempt_at <= now),
            ]
            if model is Delivery:
                conditions.append(Delivery.mailout_id.is_(None))
            ids = list(session.scalars(select(model.id).where(*conditions).limit(limit)))
            if not ids:
                continue
            session.execute(
                update(model)
                .where(model.id.in_(ids))
                .values(next_attempt_at=now + _requeue_after(session))
            )
            if model is Delivery:
                runtime.queue.enqueue_after_commit(session, SINGLES_JOB, delivery_ids=ids)
            else:
                for row_id in ids:
                    runtime.queue.enqueue_after_commit(session, job, **{arg: row_id})
            queued += len(ids)
    return queued
