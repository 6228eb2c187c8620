"""The automation subscriber of the event stream: starts processes from events.

Only events of recorded contact activities (``activity.created`` is published for
consenting contacts' human interactions only), subscriptions that became
``subscribed``, group joins and form submissions reach it, so an anonymous or
automated interaction never starts a process. The first steps run in the
dispatcher's transaction, which also moves the subscriber's cursor: a trigger fires
once per event, and a crash before the commit fires it again with nothing done.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.automation.definition import Definition
from tidings.automation.models import Automation
from tidings.automation.runner import definition_of, start_many
from tidings.automation.trigger_kinds.base import contact_id
from tidings.automation.trigger_kinds.registry import EVENT_TYPES
from tidings.contacts.models import Contact
from tidings.db.base import utcnow
from tidings.events import Event, EventType, Subscriber


def enabled_automations(session: Session) -> list[tuple[Automation, Definition]]:
    """Every enabled automation with its definition, oldest first."""
    automations = session.scalars(
        select(Automation).where(Automation.enabled.is_(True)).order_by(Automation.id)
    )
    return [(automation, definition_of(automation)) for automation in automations]


def handle(session: Session, events: Sequence[Event]) -> None:
    """Start every enabled automation whose trigger an event fires, for its contact:
    the contacts of the whole batch enter each automation together
    (``runner.start_many``), in the order of their events."""
    automations = enabled_automations(session)
    if not automations:
        return
    now = utcnow()
    entering: dict[int, list[int]] = {automation.id: [] for automation, _ in automations}
    for event in events:
        who = contact_id(event.data)
        if who is None:
            continue
        for automation, definition in automations:
            kind = definition.trigger_kind
            if event.type.value not in kind.event_types:
                continue
            if kind.matches(definition.trigger, event.type.value, event.data):
                entering[automation.id].append(who)
    wanted = {who for chosen in entering.values() for who in chosen}
    if not wanted:
        return
    # A contact erased since the event starts nothing.
    present = set(session.scalars(select(Contact.id).where(Contact.id.in_(wanted))))
    for automation, definition in automations:
        chosen = [who for who in entering[automation.id] if who in present]
        if chosen:
            start_many(session, automation, definition, chosen, now)


SUBSCRIBER = Subscriber(
    name="automation.triggers",
    types=frozenset(EventType(value) for value in EVENT_TYPES),
    handle=handle,
)
