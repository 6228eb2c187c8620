"""Link destinations, cached in front of the database.

A link's URL never changes once its email has been sent, so entries never go stale;
a bounded LRU keeps memory flat.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tidings.emails.models import Link
from tidings.sending.models import Delivery, DeliveryLinkUrl


@dataclass(frozen=True)
class CachedLink:
    """What the click endpoint needs about a link."""

    link_id: int
    email_id: int
    url: str
    personalized: bool


class LinkCache:
    """Thread-safe LRU of link id -> destination."""

    def __init__(self, sessions: sessionmaker[Session], *, capacity: int = 100_000) -> None:
        self._sessions = sessions
        self._capacity = capacity
        self._items: OrderedDict[int, CachedLink] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, link_id: int) -> CachedLink | None:
        """The cached link, without touching the database."""
        with self._lock:
            item = self._items.get(link_id)
            if item is not None:
                self._items.move_to_end(link_id)
            return item

    def put(self, item: CachedLink) -> None:
        """Remember a link."""
        with self._lock:
            self._items[item.link_id] = item
            self._items.move_to_end(item.link_id)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)

    def load(self, link_id: int) -> CachedLink | None:
        """The link from the cache or the database (blocking: call from a thread)."""
        item = self.peek(link_id)
        if item is not None:
            return item
        with self._sessions() as session:
            row = session.execute(
                select(Link.id, Link.email_id, Link.url, Link.personalized).where(
                    Link.id == link_id
                )
            ).one_or_none()
        if row is None:
            return None
        item = CachedLink(link_id=row[0], email_id=row[1], url=row[2], personalized=row[3])
        self.put(item)
        return item

    def delivery_destination(self, delivery_id: int, link: CachedLink) -> str | None:
        """The URL this delivery's recipient was sent for the personalized ``link``
        (blocking).

        None when the delivery is unknown or belongs to another email, or when its
        destination is no longer kept: erasure deletes it with the contact, and the
        link's own URL is only the template (``{{ contact.email }}``), never a place
        to send anyone.
        """
        with self._sessions() as session:
            row = session.execute(
                select(Delivery.email_id, DeliveryLinkUrl.url)
                .select_from(Delivery)
                .outerjoin(
                    DeliveryLinkUrl,
                    (DeliveryLinkUrl.delivery_id == Delivery.id)
                    & (DeliveryLinkUrl.link_id == link.link_id),
                )
                .where(Delivery.id == delivery_id)
            ).one_or_none()
        if row is None or row[0] != link.email_id:
            return None
        destination: str | None = row[1]
        return destination

    def clear(self) -> None:
        """Forget everything (tests, and after an email's links are replaced)."""
        with self._lock:
            self._items.clear()
