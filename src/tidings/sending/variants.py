"""The widget variants of a mailout's recipients, chosen once, set-based.

When a mailout starts, each variant condition of each widget is evaluated ONCE for the
whole mailout with the SQL back end of the condition language: one ``INSERT ...
SELECT`` per variant writes ``delivery_variants`` rows for the mailout's deliveries
whose contact matches and that no earlier variant took, then one more gives every
other delivery the default (``variant`` NULL). The runner reads each page's choices
with its recipients and hands them to the render processes as plain values.

The choice is made with the data as of the start of the send and kept: a mailout that
resumes (a restart, a lost lease) sends the variants chosen before; deliveries added
later get theirs then. Single messages choose for their one contact with the Python
back end (``emails.variants.choose``) and record it the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, insert, literal, null, select
from sqlalchemy.orm import Session

from tidings.conditions import dialect_of, matching_ids
from tidings.db.base import utcnow
from tidings.emails import variants as email_variants
from tidings.sending.models import Delivery, DeliveryVariant


def choose_for_mailout(
    session: Session,
    *,
    mailout_id: int,
    email_id: int,
    widgets: Mapping[str, Mapping[str, Any]],
    now: datetime | None = None,
) -> None:
    """Record the variant of every widget for each of the mailout's deliveries that
    has none yet: one statement per variant and one per widget for the defaults."""
    parsed = email_variants.conditions(widgets)
    if not parsed:
        return
    dialect = dialect_of(session)
    moment = now or utcnow()
    for key, nodes in parsed.items():
        undecided = ~exists().where(
            DeliveryVariant.delivery_id == Delivery.id, DeliveryVariant.widget == key
        )
        base = and_(Delivery.mailout_id == mailout_id, Delivery.contact_id.is_not(None), undecided)
        for index, node in enumerate(nodes):
            matching = matching_ids(node, dialect=dialect, now=moment)
            session.execute(
                insert(DeliveryVariant).from_select(
                    ["delivery_id", "widget", "email_id", "variant"],
                    select(Delivery.id, literal(key), literal(email_id), literal(index)).where(
                        base, Delivery.contact_id.in_(matching)
                    ),
                )
            )
        session.execute(
            insert(DeliveryVariant).from_select(
                ["delivery_id", "widget", "email_id", "variant"],
                select(Delivery.id, literal(key), literal(email_id), null()).where(base),
            )
        )
    session.flush()


def chosen(session: Session, delivery_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """The variants recorded for these deliveries: ``{delivery: {widget: index}}``
    (defaults left out).

    A runner's page is a run of consecutive delivery ids: read as a range of the
    primary key rather than hundreds of bound parameters, unless the ids are spread
    (a retry pass), where the range would read far more rows than asked for.
    """
    if not delivery_ids:
        return {}
    wanted = set(delivery_ids)
    low, high = min(wanted), max(wanted)
    where = (
        DeliveryVariant.delivery_id.between(low, high)
        if high - low < 2 * len(wanted)
        else DeliveryVariant.delivery_id.in_(sorted(wanted))
    )
    result: dict[int, dict[str, int]] = {}
    rows = session.execute(
        select(DeliveryVariant.delivery_id, DeliveryVariant.widget, DeliveryVariant.variant).where(
            where, DeliveryVariant.variant.is_not(None)
        )
    )
    for delivery_id, widget, variant in rows:
        if variant is not None and delivery_id in wanted:
            result.setdefault(delivery_id, {})[widget] = variant
    return result


def choose_for_delivery(
    session: Session,
    *,
    delivery_id: int,
    email_id: int,
    contact_id: int,
    widgets: Mapping[str, Mapping[str, Any]],
) -> dict[str, int]:
    """The variants of one single message: those recorded before (a retry sends the
    same), else chosen now for its contact and recorded."""
    if not email_variants.conditions(widgets):
        return {}
    known = session.scalars(
        select(DeliveryVariant).where(DeliveryVariant.delivery_id == delivery_id)
    ).all()
    if known:
        return {row.widget: row.variant for row in known if row.variant is not None}
    picked = email_variants.choose(session, widgets, contact_id)
    for key in email_variants.conditions(widgets):
        session.add(
            DeliveryVariant(
                delivery_id=delivery_id, widget=key, email_id=email_id, variant=picked.get(key)
            )
        )
    session.flush()
    return picked
