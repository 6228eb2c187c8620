"""Which variant of each widget a contact gets: the first whose condition holds, else
the default (SPEC B12).

For one contact (a single message, a test send, a preview, a website visitor) the
conditions are evaluated with the Python back end of the condition language over one
load of the contact's facts; a mailout chooses for all its recipients at once with the
SQL back end (``sending.variants``). Both back ends agree (a property-based test
proves it), so a contact gets the same variant either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tidings.conditions import (
    KINDS,
    Names,
    Node,
    describe,
    evaluate,
    load_facts,
    merge_needs,
    needs,
    parse,
    plain,
    references,
)
from tidings.db.base import utcnow
from tidings.errors import Invalid


def conditions(widgets: Mapping[str, Mapping[str, Any]]) -> dict[str, list[Node]]:
    """The parsed variant conditions of each widget that has variants, by key."""
    parsed: dict[str, list[Node]] = {}
    for key in sorted(widgets):
        variants = widgets[key].get("variants") or []
        if variants:
            parsed[key] = [parse(v["condition"], f"widgets.{key}") for v in variants]
    return parsed


def choose(
    session: Session,
    widgets: Mapping[str, Mapping[str, Any]],
    contact_id: int | None,
    *,
    now: datetime | None = None,
) -> dict[str, int]:
    """The variant index per widget key for one contact (keys left out get the
    default); a contact that does not exist (or None, the sample) gets defaults."""
    if contact_id is None:
        return {}
    return choose_each(session, widgets, [contact_id], now=now).get(contact_id, {})


def choose_each(
    session: Session,
    widgets: Mapping[str, Mapping[str, Any]],
    contact_ids: Iterable[int],
    *,
    now: datetime | None = None,
) -> dict[int, dict[str, int]]:
    """``choose`` for a few contacts at once (website visitors answered together),
    over one load of their facts; contacts that do not exist are left out."""
    parsed = conditions(widgets)
    ids = sorted(set(contact_ids))
    if not parsed or not ids:
        return {}
    every = [node for nodes in parsed.values() for node in nodes]
    facts = load_facts(session, ids, needs=merge_needs(*(needs(n) for n in every)))
    moment = now or utcnow()
    chosen: dict[int, dict[str, int]] = {}
    for contact_id, found in facts.items():
        picked = chosen[contact_id] = {}
        for key, nodes in parsed.items():
            for index, node in enumerate(nodes):
                if evaluate(node, found, moment):
                    picked[key] = index
                    break
    return chosen


@dataclass(frozen=True)
class Explained:
    """One widget's choice for a contact, in words for the preview."""

    key: str
    variant: int | None  # None: the default
    reason: str


def load_names(session: Session, nodes: list[Node]) -> Names:
    """Names of the emails, lists, consents and groups the conditions point at."""
    keys: dict[str, set[Any]] = {}
    for node in nodes:
        for ref in references(node):
            keys.setdefault(ref.target, set()).add(ref.key)
    targets = KINDS.targets
    found = {name: wanted for name, wanted in keys.items() if name in targets}
    return Names({name: targets[name].names(session, wanted) for name, wanted in found.items()})


def explain(
    session: Session,
    widgets: Mapping[str, Mapping[str, Any]],
    chosen: Mapping[str, int],
) -> list[Explained]:
    """Why each widget with variants shows what it shows (the condition in words)."""
    try:
        parsed = conditions(widgets)
    except Invalid:
        return []
    names = load_names(session, [n for nodes in parsed.values() for n in nodes])
    result: list[Explained] = []
    for key, nodes in parsed.items():
        index = chosen.get(key)
        if index is not None and 0 <= index < len(nodes):
            words = plain(describe(widgets[key]["variants"][index]["condition"], names))
            reason = f"variant {index + 1} of {len(nodes)}: the contact matches {words}"
        else:
            reason = f"the default: the contact matches none of the {len(nodes)} variants"
            index = None
        result.append(Explained(key, index, reason))
    return result
