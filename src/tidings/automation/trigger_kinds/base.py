"""``TriggerKind``: one entry of the table of triggers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

# The event types (``tidings.events.EventType`` values) triggers listen to.
ACTIVITY_CREATED = "activity.created"
SUBSCRIPTION_CHANGED = "subscription.changed"
GROUP_JOINED = "group.joined"
FORM_SUBMITTED = "form.submitted"

Parse = Callable[[Session, Mapping[str, Any], str], dict[str, Any]]
Matches = Callable[[Mapping[str, Any], str, Mapping[str, Any]], bool]


@dataclass(frozen=True)
class TriggerKind:
    """A trigger: the event types it listens to, how its JSON is checked (``parse``
    gives the normalized JSON or raises ``Invalid`` naming the path) and whether an
    event (its type and data) fires it (``matches``); the event's ``contact_id`` is
    who enters."""

    name: str
    label: str
    event_types: frozenset[str]
    parse: Parse
    matches: Matches


def contact_id(data: Mapping[str, Any]) -> int | None:
    """The contact an event is about, when it names one."""
    value = data.get("contact_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def contains(haystack: object, needle: object) -> bool:
    """Case-insensitive substring test (``None`` needle: anything)."""
    if needle is None:
        return True
    return isinstance(haystack, str) and str(needle).lower() in haystack.lower()
