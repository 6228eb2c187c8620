r"""A condition in words for the group pages, e.g. clicked a link containing “/pricing”
in “October newsletter” in the last 30 days.

Words are data (``Phrase`` of ``Part``\ s, ``Clause`` over items) that templates render
with autoescaping: names and typed values never become markup.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.conditions import parse, references
from tidings.consent.models import Consent
from tidings.emails.models import Email
from tidings.errors import Invalid
from tidings.groups.admin_builder import LEAF_KEYS, is_group
from tidings.groups.models import ContactGroup
from tidings.lists.models import RecipientList


@dataclass(frozen=True)
class Part:
    """A piece of a phrase: plain ``text``, a ``quote`` (a name or a value the user
    typed, shown in quotes) or a ``value`` (a number or yes/no)."""

    kind: str
    text: str


@dataclass(frozen=True)
class Phrase:
    """One condition as words, e.g. clicked a link containing “/pricing”."""

    parts: tuple[Part, ...]


@dataclass(frozen=True)
class Clause:
    """A group as words: ``label`` (all of these, none of these...) over its items."""

    label: str
    items: tuple[Phrase | Clause, ...]


@dataclass(frozen=True)
class Names:
    """Names of the rows a condition points at, to show instead of ids."""

    emails: Mapping[int, str] = field(default_factory=dict)
    lists: Mapping[int, str] = field(default_factory=dict)
    groups: Mapping[int, str] = field(default_factory=dict)
    consents: Mapping[str, str] = field(default_factory=dict)


ACTIVITY_WORDS = {
    "page_visit": ("visited a page", "did not visit a page"),
    "form_submission": ("submitted a form", "did not submit a form"),
    "email_open": ("opened an email", "did not open an email"),
    "email_click": ("clicked a link in an email", "did not click a link in an email"),
    "email_unsubscribe": ("unsubscribed from an email", "did not unsubscribe from an email"),
}
FIELD_WORDS = {
    "eq": ("is", "is not"),
    "ne": ("is not", "is"),
    "contains": ("contains", "does not contain"),
    "starts_with": ("starts with", "does not start with"),
    "gt": ("is more than", "is not more than"),
    "lt": ("is less than", "is not less than"),
    "empty": ("is empty", "is not empty"),
}
COLUMN_WORDS = {"email": "email address", "first_name": "first name", "last_name": "last name"}


def describe(data: Any, names: Names, negate: bool = False) -> Phrase | Clause:
    """Condition JSON as words (a saved, valid condition; anything else is "unknown")."""
    if isinstance(data, dict) and len(data) == 1 and "not" in data:
        return describe(data["not"], names, not negate)
    if is_group(data):
        key = next(iter(data))
        items = data[key]
        if not items:
            matches_all = (key == "all") != negate
            return _phrase("every contact" if matches_all else "no contact (an empty group)")
        if len(items) == 1:  # all / any of one condition: that condition
            return describe(items[0], names, negate)
        label = {
            ("all", False): "all of these",
            ("any", False): "any of these",
            ("all", True): "not all of these",
            ("any", True): "none of these",
        }[key, negate]
        return Clause(label, tuple(describe(item, names) for item in items))
    if isinstance(data, dict) and data.get("type") in LEAF_KEYS:
        return Phrase(tuple(_leaf_words(data, names, negate)))
    return _phrase("does not match an unknown condition" if negate else "an unknown condition")


def _phrase(text: str) -> Phrase:
    return Phrase((Part("text", text),))


def _named(noun: str, key: Any, names: Mapping[Any, str]) -> Part:
    """The quoted name of a row, or e.g. ``email #7 (deleted)``."""
    name = names.get(key)
    return Part("quote", name) if name else Part("text", f"{noun}#{key} (deleted)")


def _leaf_words(data: dict[str, Any], names: Names, negate: bool) -> list[Part]:
    kind = data["type"]
    pick = 1 if negate else 0
    if kind == "field":
        return _field_words(data, pick)
    if kind == "consent":
        code = str(data.get("code_name"))
        consent = Part("quote", names.consents.get(code) or code)
        return [Part("text", ("has agreed to ", "has not agreed to ")[pick]), consent]
    if kind == "in_list":
        start = ("is subscribed to the list ", "is not subscribed to the list ")[pick]
        return [Part("text", start), _named("", data.get("list_id"), names.lists)]
    if kind == "in_group":
        start = ("is in the group ", "is not in the group ")[pick]
        return [Part("text", start), _named("", data.get("group_id"), names.groups)]
    email = data.get("email_id")
    if kind == "received_email":
        start = ("was sent ", "was not sent ")[pick]
        return [Part("text", start), _named("email ", email, names.emails)]
    parts: list[Part] = []
    if kind == "clicked_email":
        parts.append(Part("text", ("clicked a link", "did not click a link")[pick]))
        if data.get("url_contains"):
            parts += [Part("text", " containing "), Part("quote", str(data["url_contains"]))]
        parts.append(Part("text", " in "))
        parts.append(_named("email ", email, names.emails) if email else Part("text", "any email"))
    elif kind == "opened_email":
        parts.append(Part("text", ("opened ", "did not open ")[pick]))
        parts.append(_named("email ", email, names.emails) if email else Part("text", "any email"))
    else:
        activity = str(data.get("activity_type"))
        if activity in ACTIVITY_WORDS:
            parts.append(Part("text", ACTIVITY_WORDS[activity][pick]))
        else:
            start = ("had the activity ", "did not have the activity ")[pick]
            parts += [Part("text", start), Part("quote", activity.removeprefix("custom:"))]
        if data.get("value_contains"):
            what = " with a value containing "
            if activity == "page_visit":
                what = " whose URL contains "
            parts += [Part("text", what), Part("quote", str(data["value_contains"]))]
    days, times = data.get("within_days"), data.get("min_count")
    if days:
        parts.append(Part("text", " in the last day" if days == 1 else f" in the last {days} days"))
    if times and times > 1:
        parts.append(Part("text", f" at least {times} times"))
    return parts


def _field_words(data: dict[str, Any], pick: int) -> list[Part]:
    name = str(data.get("field"))
    op = str(data.get("op"))
    if name in COLUMN_WORDS:
        parts = [Part("text", COLUMN_WORDS[name])]
    else:
        parts = [Part("text", "the field "), Part("quote", name)]
    parts.append(Part("text", f" {FIELD_WORDS.get(op, (op, 'not ' + op))[pick]}"))
    if op == "empty":
        return parts
    value = data.get("value")
    if isinstance(value, bool):
        return [*parts, Part("text", " "), Part("value", "true" if value else "false")]
    if isinstance(value, str):
        return [*parts, Part("text", " "), Part("quote", value)]
    return [*parts, Part("text", " "), Part("value", json.dumps(value))]


def plain(words: Phrase | Clause) -> str:
    """Words as one line of text, e.g. for a table cell."""
    if isinstance(words, Phrase):
        return "".join(f"“{p.text}”" if p.kind == "quote" else p.text for p in words.parts)
    return f"{words.label}: " + "; ".join(
        f"({plain(item)})" if isinstance(item, Clause) else plain(item) for item in words.items
    )


def load_names(session: Session, conditions: list[dict[str, Any]]) -> Names:
    """Names of everything saved conditions point at."""
    keys: dict[str, set[Any]] = {"email": set(), "list": set(), "group": set(), "consent": set()}
    for condition in conditions:
        try:
            found = references(parse(condition))
        except Invalid:  # shown as an unknown condition, never a failed page
            continue
        for ref in found:
            keys.setdefault(ref.target, set()).add(ref.key)

    def by_id(model: Any, target: str) -> dict[Any, str]:
        if not keys[target]:
            return {}
        rows = session.execute(select(model.id, model.name).where(model.id.in_(keys[target])))
        return {key: name for key, name in rows}

    consents: dict[str, str] = {}
    if keys["consent"]:
        query = select(Consent.code_name, Consent.display_name)
        consents = dict(session.execute(query.where(Consent.code_name.in_(keys["consent"]))).all())
    return Names(
        emails=by_id(Email, "email"),
        lists=by_id(RecipientList, "list"),
        groups=by_id(ContactGroup, "group"),
        consents=consents,
    )
