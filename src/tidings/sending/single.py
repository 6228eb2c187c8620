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
from tidings.emails import rendering
from tidings.emails import variants as email_variants
from tidings.emails.models import Email, EmailPurpose
from tidings.errors import Invalid, NotFound
from tidings.runtime import Runtime
from tidings.sending import gate, variants
from tidings.sending.claims import ClaimBatcher
from tidings.sending.compose import Composer, Outgoing, Recipient
from tidings.sending.failures import record_failure
from tidings.sending.models import Delivery, DeliveryStatus, TestSend
from tidings.sending.ratelimit import limiter_for
from tidings.sending.smtp import Abandoned, PermanentFailure, SmtpConnection, TemporaryFailure
from tidings.sending.specs import load_spec

log = logging.getLogger(__name__)

SINGLE_JOB = "sending.deliver_single"
TEST_JOB = "sending.deliver_test"
MAX_TEST_ADDRESSES = 10
# A queued message not sent by then is queued again by the supervisor.
REQUEUE_AFTER = timedelta(seconds=60)
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
        next_attempt_at=utcnow() + REQUEUE_AFTER,
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
        _enqueue(session, SINGLE_JOB, delivery_id=delivery.id)
    return delivery


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
            next_attempt_at=utcnow() + REQUEUE_AFTER,
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


def _transmit(runtime: Runtime, outgoing: Outgoing, sender: str, claim: Callable[[], bool]) -> None:
    limiter_for(runtime.settings).wait(sender)
    connection = SmtpConnection(_smtp_target(runtime))
    try:
        connection.send(
            sender=outgoing.mail_from,
            recipient=outgoing.address,
            data=outgoing.data,
            commit=claim,
            wire_ready=True,
        )
    finally:
        connection.close()


def deliver_single(runtime: Runtime, delivery_id: int) -> str:
    """Send one pending single message; its status afterwards."""
    with runtime.session() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None or delivery.status != DeliveryStatus.PENDING.value:
            return delivery.status if delivery is not None else "gone"
        contact = session.get(Contact, delivery.contact_id) if delivery.contact_id else None
        if contact is None:
            delivery.status = DeliveryStatus.SKIPPED.value
            delivery.error = "contact erased"
            return delivery.status
        email = session.get(Email, delivery.email_id)
        assert email is not None
        spec = load_spec(session, email, runtime=runtime)
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
        # Not queued again by the supervisor while this job sends it.
        delivery.next_attempt_at = utcnow() + REQUEUE_AFTER
    return _send(
        runtime,
        lambda: Composer(spec).compose(
            Recipient(delivery_id, view, chosen or None), utcnow(), extra=extra
        ),
        spec.sender_address,
        claim=lambda out: ClaimBatcher(runtime.engine).claim(delivery_id, out.personalized),
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
    )


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
        row.next_attempt_at = utcnow() + REQUEUE_AFTER
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
) -> str:
    """Compose, send, record; the status afterwards ("pending" again after a
    temporary failure, "already sent" when another worker had claimed it)."""
    try:
        outgoing = compose()
    except Exception as exc:  # noqa: BLE001 - a template error for this contact
        return failed(f"{type(exc).__name__}: {exc}", False, False, False)
    try:
        _transmit(runtime, outgoing, sender, lambda: claim(outgoing))
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
                update(model).where(model.id.in_(ids)).values(next_attempt_at=now + REQUEUE_AFTER)
            )
            for row_id in ids:
                runtime.queue.enqueue_after_commit(session, job, **{arg: row_id})
            queued += len(ids)
    return queued
