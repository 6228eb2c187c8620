"""A pass goes on in rounds while events keep coming, and every commit wakes the
dispatcher loop for a new pass; the loop starts its rounds at least ``ROUND_SECONDS``
apart, within a pass and across passes, so that under a steady stream each round
takes the events that arrived meanwhile together."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence

from sqlalchemy.orm import Session

from tidings.events import Event, EventType, Subscriber, dispatch, publish_many
from tidings.events.dispatch import ROUND_SECONDS, Pacer, deliver_pending
from tidings.runtime import Runtime


class Chain:
    """Each of its events it handles publishes the next one, up to ``length``: one
    event a round. Remembers when each of its events came."""

    def __init__(self, name: str, length: int) -> None:
        self.name, self.length = name, length
        self.at: list[float] = []
        self.subscriber = Subscriber(
            name=name, types=frozenset({EventType.CONTACT_CHANGED}), handle=self.handle
        )

    def start(self, runtime: Runtime) -> None:
        with runtime.session() as session:
            publish_many(session, [(EventType.CONTACT_CHANGED, {"chain": self.name, "step": 0})])

    def handle(self, session: Session, events: Sequence[Event]) -> None:
        for event in events:
            if event.data.get("chain") != self.name:
                continue
            self.at.append(time.monotonic())
            step = int(str(event.data["step"])) + 1
            if step < self.length:
                publish_many(
                    session, [(EventType.CONTACT_CHANGED, {"chain": self.name, "step": step})]
                )


def _gaps(at: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(at)]


def test_rounds_start_at_least_round_seconds_apart(runtime: Runtime) -> None:
    quick, spaced = Chain("quick", 4), Chain("spaced", 4)
    quick.start(runtime)
    deliver_pending(runtime, [quick.subscriber])
    assert len(quick.at) == 4  # four rounds, one event each, back to back
    assert min(_gaps(quick.at)) < ROUND_SECONDS
    spaced.start(runtime)
    deliver_pending(runtime, [spaced.subscriber], pace=Pacer(ROUND_SECONDS))
    assert len(spaced.at) == 4
    assert min(_gaps(spaced.at)) >= ROUND_SECONDS * 0.95


def test_under_a_steady_stream_the_loop_takes_events_together(runtime: Runtime) -> None:
    batches: list[int] = []
    subscriber = Subscriber(
        name="stream",
        types=frozenset({EventType.CONTACT_CHANGED}),
        handle=lambda session, events: batches.append(len(events)),
    )
    total = 60
    with dispatch.dispatching(runtime, [subscriber]):
        started = time.monotonic()

        def publish() -> None:
            for i in range(total):  # one commit every 10 ms, each waking the loop
                with runtime.session() as session:
                    publish_many(session, [(EventType.CONTACT_CHANGED, {"contact_id": i})])
                time.sleep(0.01)

        thread = threading.Thread(target=publish)
        thread.start()
        thread.join(30)
        deadline = time.monotonic() + 10
        while sum(batches) < total and time.monotonic() < deadline:
            time.sleep(0.02)
        elapsed = time.monotonic() - started
    assert sum(batches) == total  # each event once
    # Far fewer batches than commits: rounds start ROUND_SECONDS apart at most this often.
    assert len(batches) <= elapsed / ROUND_SECONDS + 2 < total
    assert max(batches) > 1
