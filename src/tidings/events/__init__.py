"""The event stream: services publish what became true in their transaction (an
outbox row); after the commit, registered subscribers handle it, exactly once each.

See docs/events.md.
"""

from tidings.events.dispatch import drain
from tidings.events.publish import publish, publish_many
from tidings.events.types import Event, EventType, Handler, JsonValue, Subscriber

__all__ = [
    "Event",
    "EventType",
    "Handler",
    "JsonValue",
    "Subscriber",
    "drain",
    "publish",
    "publish_many",
]
