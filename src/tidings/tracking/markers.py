"""Unique markers: what makes unique counts exact without storing who it was (B1, B2).

A marker is ``(email id, kind, link id, recipient key)``: the recipient key is a keyed
hash of the delivery, never a contact id, address or anything sent by the client.
"""

from __future__ import annotations

import enum


class MarkerKind(enum.StrEnum):
    """What a marker says was seen before; stored as ``unique_markers.kind``."""

    OPENED = "o"  # the email was opened (a pixel, or a click that implies one)
    CLICKED = "c"  # a link of the email was clicked
    CLICKED_LINK = "l"  # this link position was clicked


# (email_id, kind, link_id or 0, recipient key)
Marker = tuple[int, str, int, bytes]


class KnownMarkers:
    """Unique markers a writer knows to exist, so it does not insert them again.

    A marker, once committed, stays while its email's counting window is open (the
    only time it is asked for), so a marker seen committed is still there: inserting
    it again would only find the conflict, which cost PostgreSQL an index probe and a
    speculative insertion per row. A recipient's open and click markers come back
    with each of their later interactions; those are the ones this spares. Only
    committed markers are added (``add_committed``), never those of a batch that
    rolled back.

    Bounded by two generations of ``limit`` markers each: when the current one is
    full it becomes the previous one and the oldest are forgotten (at most about
    25 MB for the default). Another writer process has its own; a marker it does not
    know is inserted and found to exist, as before.
    """

    def __init__(self, limit: int = 50_000) -> None:
        self.limit = limit
        self._current: set[Marker] = set()
        self._previous: set[Marker] = set()

    def __contains__(self, marker: Marker) -> bool:
        return marker in self._current or marker in self._previous

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)

    def discard(self, markers: list[Marker]) -> None:
        """Forget ``markers``: deleted (a burst took back what they counted)."""
        for marker in markers:
            self._current.discard(marker)
            self._previous.discard(marker)

    def add_committed(self, markers: list[Marker]) -> None:
        """Remember ``markers``, all of them committed."""
        self._current.update(markers)
        if len(self._current) > self.limit:
            self._previous, self._current = self._current, set()
