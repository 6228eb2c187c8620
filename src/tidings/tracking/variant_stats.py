"""Statistics per widget variant: recipients, unique opens and clickers, and clicks
per link of each variant.

Recipients are exact from ``delivery_variants`` (each delivery's recorded choice).
A variant's links are link positions of their own, so their clicks are the link
counters. Unique opens and clickers per variant are counted from the unique markers
while the email's counting window is open: the marker of a delivery is a keyed hash
of it, so the markers of each variant's deliveries are looked up with the window's
key. When the window closes the key and markers are destroyed (B1), and these two
figures are no longer available (shown as not known); the others stay.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tidings.emails import links as link_markup
from tidings.emails.models import Email
from tidings.sending.models import SENT_STATE_VALUES, Delivery, DeliveryVariant
from tidings.stats.schemas import LinkFigures
from tidings.tracking.markers import MarkerKind
from tidings.tracking.models import CountingWindow, UniqueMarker
from tidings.tracking.windows import RECIPIENT_KEY_BYTES

CHUNK = 500


@dataclass
class VariantFigures:
    """One variant (``index`` None: the default) of one widget."""

    index: int | None
    recipients: int = 0
    opens_unique: int | None = None
    clickers: int | None = None
    clicks_total: int = 0
    links: list[LinkFigures] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``Default`` or ``Variant N``."""
        return "Default" if self.index is None else f"Variant {self.index + 1}"


@dataclass
class WidgetFigures:
    """A widget with variants and the figures of each."""

    key: str
    variants: list[VariantFigures]


def _positions(email: Email) -> dict[tuple[str, int | None], range]:
    """The link positions of each widget part, numbered as ``widgets.prepare`` does."""
    _, found = link_markup.prepare(email.html)
    next_position = len(found) + 1
    spans: dict[tuple[str, int | None], range] = {}
    widgets: dict[str, Any] = email.widgets or {}
    for key in sorted(widgets):
        parts = [(None, widgets[key]["html"])] + [
            (i, v["html"]) for i, v in enumerate(widgets[key].get("variants") or [])
        ]
        for index, html in parts:
            _, more = link_markup.prepare(html, first_position=next_position)
            spans[key, index] = range(next_position, next_position + len(more))
            next_position += len(more)
    return spans


def _marked(
    session: Session, email_id: int, key: bytes, deliveries: Sequence[int]
) -> dict[str, int]:
    keyed = hmac.new(key, digestmod=hashlib.sha256)
    counts = {MarkerKind.OPENED.value: 0, MarkerKind.CLICKED.value: 0}
    for start in range(0, len(deliveries), CHUNK):
        hashes = []
        for delivery_id in deliveries[start : start + CHUNK]:
            mac = keyed.copy()
            mac.update(delivery_id.to_bytes(8, "big"))
            hashes.append(mac.digest()[:RECIPIENT_KEY_BYTES])
        rows = session.execute(
            select(UniqueMarker.kind, func.count())
            .where(
                UniqueMarker.email_id == email_id,
                UniqueMarker.kind.in_(list(counts)),
                UniqueMarker.recipient_key.in_(hashes),
            )
            .group_by(UniqueMarker.kind)
        )
        for kind, count in rows:
            counts[kind] += count
    return counts


def variant_statistics(
    session: Session, email: Email, links: Sequence[LinkFigures]
) -> list[WidgetFigures]:
    """Per widget with variants, per variant: recipients, opens, clickers, links."""
    widgets: dict[str, Any] = email.widgets or {}
    with_variants = sorted(k for k, w in widgets.items() if w.get("variants"))
    if not with_variants:
        return []
    spans = _positions(email)
    window = session.get(CountingWindow, email.id)
    marker_key = window.marker_key if window is not None else None
    rows = session.execute(
        select(DeliveryVariant.widget, DeliveryVariant.variant, DeliveryVariant.delivery_id)
        .join(Delivery, Delivery.id == DeliveryVariant.delivery_id)
        .where(DeliveryVariant.email_id == email.id, Delivery.status.in_(SENT_STATE_VALUES))
    ).all()
    by_part: dict[tuple[str, int | None], list[int]] = {}
    for widget, variant, delivery_id in rows:
        by_part.setdefault((widget, variant), []).append(delivery_id)
    result = []
    for key in with_variants:
        figures = []
        indexes: list[int | None] = [None, *range(len(widgets[key]["variants"]))]
        for index in indexes:
            deliveries = by_part.get((key, index), [])
            span = spans.get((key, index), range(0))
            own = [link for link in links if link.position in span]
            item = VariantFigures(
                index=index,
                recipients=len(deliveries),
                clicks_total=sum(link.clicks_total for link in own),
                links=own,
            )
            if marker_key is not None:
                marked = _marked(session, email.id, marker_key, deliveries)
                item.opens_unique = marked[MarkerKind.OPENED.value]
                item.clickers = marked[MarkerKind.CLICKED.value]
            figures.append(item)
        result.append(WidgetFigures(key, figures))
    return result
