"""Bursts and honeypot hits: rules that need more than one request to decide (B7).

A machine that checks a message's links follows every one of them within a second
or two, the hidden honeypot link included; a person clicks one link, maybe another a
while later. The writer sees every event, so it keeps, per delivery, the human
events of the last ``BURST_SECONDS`` and what each of them counted:

- **burst**: a delivery's clicks reach ``needed(links)`` different links within
  ``BURST_SECONDS`` (three links, or both of a two-link message; a message with a
  single link has no burst, the honeypot covers it);
- **honeypot**: a hit on the honeypot link (automated by its route).

Either way the delivery's human events of the window before it are taken back (their
counters, activities and unique markers, in the batch that sees the trigger) and its
events of the window after it are automated too, with the same reason. Nothing is
held back: an interaction is answered and counted at once, and corrected if a burst
turns up within seconds. Between the first click and the correction a group may have
seen the activity; the correction changes the contact again, so groups follow.

The memory is the writer's own (a deployment with several writer processes decides
per writer); it holds delivery ids and counts only, for seconds.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tidings.db.session import session_scope
from tidings.emails.models import Link
from tidings.tracking.classifier import Reason
from tidings.tracking.events import CLICK, TrackedEvent
from tidings.tracking.rules import Effect

BURST_SECONDS = 5.0
BURST_LINKS = 3
WINDOW = timedelta(seconds=BURST_SECONDS)
LINK_COUNTS_KEPT = 100_000


def needed(links: int) -> int | None:
    """How many different links of a message make a burst; None: no burst possible."""
    if links < 2:
        return None
    return min(links, BURST_LINKS)


@dataclass
class _Delivery:
    """One delivery's recent past, as the writer remembers it."""

    effects: list[Effect] = field(default_factory=list)
    automated_until: datetime | None = None
    reason: str | None = None
    last_seen: datetime | None = None


@dataclass
class BurstPlan:
    """What screening a batch decided, applied to the memory once it commits."""

    events: list[TrackedEvent]
    take_back: list[tuple[Effect, str]] = field(default_factory=list)
    triggers: dict[int, tuple[datetime, str]] = field(default_factory=dict)


class BurstWatch:
    """The writer's short memory of each delivery's human events."""

    def __init__(self, sessions: sessionmaker[Session] | None = None) -> None:
        self._sessions = sessions
        self._deliveries: OrderedDict[int, _Delivery] = OrderedDict()
        self._links: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._deliveries)

    def prepare(self, events: Iterable[TrackedEvent]) -> None:
        """Know how many links each clicked email has (read once per email, in a
        transaction of its own, before the batch's)."""
        missing = {
            e.email_id
            for e in events
            if e.kind == CLICK and not e.automated and e.email_id not in self._links
        }
        if not missing or self._sessions is None:
            return
        if len(self._links) > LINK_COUNTS_KEPT:
            self._links.clear()
        with session_scope(self._sessions) as session:
            counts = dict(
                session.execute(
                    select(Link.email_id, func.count())
                    .where(Link.email_id.in_(missing))
                    .group_by(Link.email_id)
                ).all()
            )
        for email_id in missing:
            self._links[email_id] = int(counts.get(email_id, 0))

    def set_link_count(self, email_id: int, links: int) -> None:
        """Tell the watch how many links an email has (tests, and the writer's
        ``prepare``)."""
        self._links[email_id] = links

    def screen(self, events: Sequence[TrackedEvent]) -> BurstPlan:
        """The batch's events with those of bursts and honeypot hits automated, and
        the earlier human events to take back. Changes no memory (``settle`` does)."""
        plan = BurstPlan(events=list(events))
        out = plan.events
        pending: dict[int, list[int]] = {}  # delivery -> indexes of its human events here
        taken: set[int] = set()  # ids of remembered effects already taken back
        for index, e in enumerate(events):
            delivery_id = e.delivery_id
            memory = self._deliveries.get(delivery_id)
            trigger = plan.triggers.get(delivery_id)
            if trigger is None and memory is not None and memory.automated_until is not None:
                assert memory.reason is not None
                trigger = (memory.automated_until, memory.reason)
            if e.automated:
                if e.automated_reason == Reason.HONEYPOT.value:
                    self._trigger(plan, e, index, Reason.HONEYPOT.value, pending, taken)
                continue
            if trigger is not None and e.occurred_at <= trigger[0]:
                out[index] = replace(e, automated=True, automated_reason=trigger[1])
                plan.triggers[delivery_id] = (e.occurred_at + WINDOW, trigger[1])
                continue
            pending.setdefault(delivery_id, []).append(index)
            if e.kind != CLICK:
                continue
            need = needed(self._links.get(e.email_id, 0))
            if need is None:
                continue
            since = e.occurred_at - WINDOW
            links = {
                out[i].link_id
                for i in pending[delivery_id]
                if out[i].kind == CLICK and out[i].occurred_at >= since
            }
            if memory is not None:
                links.update(
                    f.link_id
                    for f in memory.effects
                    if f.kind == CLICK and f.occurred_at >= since and id(f) not in taken
                )
            if len(links) >= need:
                self._trigger(plan, e, index, Reason.BURST.value, pending, taken)
        return plan

    def _trigger(
        self,
        plan: BurstPlan,
        e: TrackedEvent,
        index: int,
        reason: str,
        pending: dict[int, list[int]],
        taken: set[int],
    ) -> None:
        out = plan.events
        delivery_id = e.delivery_id
        since = e.occurred_at - WINDOW
        if not out[index].automated:
            out[index] = replace(e, automated=True, automated_reason=reason)
        for i in pending.pop(delivery_id, []):
            if out[i].occurred_at >= since and not out[i].automated:
                out[i] = replace(out[i], automated=True, automated_reason=reason)
        memory = self._deliveries.get(delivery_id)
        if memory is not None:
            for effect in memory.effects:
                if effect.occurred_at >= since and id(effect) not in taken:
                    taken.add(id(effect))
                    plan.take_back.append((effect, reason))
        plan.triggers[delivery_id] = (e.occurred_at + WINDOW, reason)

    def settle(self, plan: BurstPlan, effects: Sequence[Effect | None], now: datetime) -> None:
        """Remember the committed batch: its human events' effects, the triggers, and
        forget what was taken back and what is older than the window."""
        deliveries = self._deliveries
        gone = {id(effect) for effect, _ in plan.take_back}
        touched: set[int] = set()
        for effect, _ in plan.take_back:
            touched.add(effect.delivery_id)
        for delivery_id in touched:
            memory = deliveries.get(delivery_id)
            if memory is not None:
                memory.effects = [f for f in memory.effects if id(f) not in gone]
        for delivery_id, (until, reason) in plan.triggers.items():
            memory = deliveries.get(delivery_id) or _Delivery()
            memory.automated_until, memory.reason = until, reason
            memory.last_seen = until
            deliveries[delivery_id] = memory
            deliveries.move_to_end(delivery_id)
        for maybe in effects:
            if maybe is None:
                continue
            effect = maybe
            memory = deliveries.get(effect.delivery_id)
            if memory is None:
                memory = deliveries[effect.delivery_id] = _Delivery()
            if memory.effects and memory.effects[0].occurred_at < effect.occurred_at - WINDOW:
                horizon = effect.occurred_at - WINDOW
                memory.effects = [f for f in memory.effects if f.occurred_at >= horizon]
            memory.effects.append(effect)
            if memory.last_seen is None or effect.occurred_at > memory.last_seen:
                memory.last_seen = effect.occurred_at
            deliveries.move_to_end(effect.delivery_id)
        self._forget(now)

    def _forget(self, now: datetime) -> None:
        """Drop deliveries not seen for a window, oldest first (the order of the
        dict is the order they were last touched)."""
        deliveries = self._deliveries
        horizon = now - WINDOW
        while deliveries:
            delivery_id, memory = next(iter(deliveries.items()))
            if memory.last_seen is not None and memory.last_seen >= horizon:
                break
            del deliveries[delivery_id]
