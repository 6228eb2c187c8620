"""Group commit of claims: concurrent senders each get the truth about their own
claim, on both databases (B15)."""

from __future__ import annotations

import random
import threading

import pytest
from sqlalchemy import func, select, update

from tests.support import world
from tidings.emails.models import Link
from tidings.runtime import Runtime
from tidings.sending.claims import POSTGRESQL_TRANSACTIONS, ClaimBatcher, ClaimFailed
from tidings.sending.models import Delivery, DeliveryLinkUrl
from tidings.sending.service import start_mailout

SENDERS = 12


def _deliveries(runtime: Runtime, count: int) -> tuple[list[int], int]:
    with runtime.session() as session:
        w = world.build(session, consenting=0, anonymous=count)
        mailout_id = start_mailout(session=session, email_id=w.email_id).id
        ids = list(
            session.scalars(
                select(Delivery.id).where(Delivery.mailout_id == mailout_id).order_by(Delivery.id)
            )
        )
        link_id = session.scalars(select(Link.id).where(Link.email_id == w.email_id)).first()
        assert link_id is not None
    return ids, link_id


def test_concurrent_claims_each_learn_their_own_outcome(runtime: Runtime) -> None:
    ids, link_id = _deliveries(runtime, 240)
    already_sent = set(ids[::10])
    with runtime.session() as session:
        session.execute(update(Delivery).where(Delivery.id.in_(already_sent)).values(status="sent"))
    # Two runners racing over the same deliveries, each with its own batcher and
    # senders: every delivery is claimed once by each.
    batchers = [ClaimBatcher(runtime.engine), ClaimBatcher(runtime.engine)]
    postgresql = batchers[0].postgresql
    assert batchers[0].slots == (POSTGRESQL_TRANSACTIONS if postgresql else 1)
    work = [list(ids) for _ in batchers]
    for seed, order in enumerate(work):
        random.Random(seed).shuffle(order)
    outcomes: dict[int, list[bool]] = {i: [] for i in ids}
    lock = threading.Lock()
    start = threading.Barrier(SENDERS)

    def sender(index: int) -> None:
        start.wait()
        for delivery_id in work[index % 2][index // 2 :: SENDERS // 2]:
            claimed = batchers[index % 2].claim(
                delivery_id, {link_id: f"https://example.com/{delivery_id}"}
            )
            with lock:
                outcomes[delivery_id].append(claimed)

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for batcher in batchers:
        batcher.close()

    assert not any(thread.is_alive() for thread in threads)
    for delivery_id, got in outcomes.items():
        expected = [False, False] if delivery_id in already_sent else [False, True]
        assert sorted(got) == expected, delivery_id
    assert sum(b.claims for b in batchers) == len(ids) - len(already_sent)
    # Some claims shared a transaction (2 * len(ids) claims were asked for).
    assert sum(b.transactions for b in batchers) < 2 * len(ids)
    with runtime.session() as session:
        statuses = dict(
            session.execute(
                select(Delivery.status, func.count())
                .where(Delivery.id.in_(ids))
                .group_by(Delivery.status)
            ).all()
        )
        kept = dict(session.execute(select(DeliveryLinkUrl.delivery_id, DeliveryLinkUrl.url)).all())
    assert statuses == {"sent": len(ids)}
    # Destinations are kept for the claims that took a delivery, once each.
    assert kept == {i: f"https://example.com/{i}" for i in ids if i not in already_sent}


def test_failed_claim_transaction_raises_and_the_next_one_works(runtime: Runtime) -> None:
    ids, link_id = _deliveries(runtime, 3)
    batcher = ClaimBatcher(runtime.engine)
    try:
        # A destination for a link that does not exist: the transaction fails.
        with pytest.raises(ClaimFailed):
            batcher.claim(ids[0], {link_id + 1000: "https://example.com/x"})
        assert batcher.claim(ids[0], {link_id: "https://example.com/a"}) is True
        assert batcher.claim(ids[1], {}) is True
        assert batcher.claim(ids[0], {}) is False
    finally:
        batcher.close()
    with runtime.session() as session:
        sent = set(session.scalars(select(Delivery.id).where(Delivery.status == "sent")))
        kept = dict(session.execute(select(DeliveryLinkUrl.delivery_id, DeliveryLinkUrl.url)).all())
    assert sent == {ids[0], ids[1]}
    assert kept == {ids[0]: "https://example.com/a"}
