"""View logic of the group editor: condition JSON <-> builder rows, and the selects' choices.

The builder shows a condition as rows: ``all`` / ``any`` group rows and leaf rows, each
naming its parent, so a form (``r3.kind``, ``r3.email_id``...) carries the whole tree
even without JavaScript. ``static/groups.js`` serializes the same rows to JSON in the
browser; ``rows_to_tree`` is its twin here. Both leave checking to the condition
language, so every error names the JSON path of the row at fault.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.activities.models import ActivityType
from tidings.conditions.fields import OPS
from tidings.consent.models import Consent
from tidings.emails.models import Email, Link
from tidings.errors import Invalid
from tidings.groups.models import ContactGroup
from tidings.lists.models import RecipientList
from tidings.values import parse_id

ROOT = "condition"
RAW = "json"
CUSTOM = "custom"
MAX_ROWS = 500
GROUP_KINDS = ("all", "any")
INTS = frozenset({"email_id", "list_id", "group_id", "within_days", "min_count"})
LEAF_KEYS: dict[str, tuple[str, ...]] = {
    "field": ("field", "op", "value"),
    "consent": ("code_name",),
    "in_list": ("list_id",),
    "in_group": ("group_id",),
    "clicked_email": ("email_id", "url_contains", "within_days", "min_count"),
    "opened_email": ("email_id", "within_days", "min_count"),
    "received_email": ("email_id",),
    "activity": ("activity_type", "value_contains", "within_days", "min_count"),
}
KIND_LABELS = (
    ("field", "Contact field"),
    ("consent", "Consent agreed"),
    ("in_list", "In recipient list"),
    ("in_group", "In contact group"),
    ("clicked_email", "Clicked email"),
    ("opened_email", "Opened email"),
    ("received_email", "Was sent email"),
    ("activity", "Other activity"),
)
OP_LABELS = (
    ("eq", "is"),
    ("ne", "is not"),
    ("contains", "contains"),
    ("starts_with", "starts with"),
    ("gt", "is more than"),
    ("lt", "is less than"),
    ("empty", "is empty"),
)
BUILT_IN_ACTIVITIES = tuple(item.value for item in ActivityType)
INT_TEXT = re.compile(r"-?\d{1,30}")
NUMBER_TEXT = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
ROW_KEY = re.compile(r"r(\d{1,5})\.([a-z_]{1,20})")


@dataclass
class Row:
    """One builder row: a group (``all``/``any``), a leaf kind, or raw ``json``.

    ``values`` holds the inputs as the form shows them (text); ``path`` is where the
    row's node stands in the condition JSON, so an error path can point at the row.
    """

    index: int
    parent: int | None
    kind: str
    negate: bool = False
    values: dict[str, str] = field(default_factory=dict)
    path: str = ROOT
    depth: int = 0
    children: list[Row] = field(default_factory=list)

    @property
    def is_group(self) -> bool:
        """Whether the row holds other rows."""
        return self.kind in GROUP_KINDS


BLANK_LEAF = Row(index=-1, parent=None, kind="clicked_email")
BLANK_GROUP = Row(index=-1, parent=None, kind="all")


# Condition JSON -> rows


def tree_to_rows(data: Any) -> list[Row]:
    """The rows showing condition JSON ``data``, in document order (``rows[0]`` is the
    root group). Never fails: a node the builder has no inputs for becomes a raw JSON
    row, and a root that is not a group is shown inside an ``all`` group."""
    rows: list[Row] = []
    if not is_group(_unwrap_not(data)[1]):
        root = Row(index=0, parent=None, kind="all")
        rows.append(root)
        _add(rows, data, root, ROOT)
        return rows
    _add(rows, data, None, ROOT)
    return rows


def _unwrap_not(node: Any) -> tuple[bool, Any]:
    if isinstance(node, dict) and len(node) == 1 and "not" in node:
        inner = node["not"]
        if not (isinstance(inner, dict) and len(inner) == 1 and "not" in inner):
            return True, inner
    return False, node


def is_group(node: Any) -> bool:
    """Whether ``node`` is an ``all`` or ``any`` node over a list."""
    return (
        isinstance(node, dict)
        and len(node) == 1
        and next(iter(node)) in GROUP_KINDS
        and isinstance(next(iter(node.values())), list)
    )


def _add(rows: list[Row], node: Any, parent: Row | None, path: str) -> None:
    negate, inner = _unwrap_not(node)
    inner_path = f"{path}.not" if negate else path
    row = Row(
        index=len(rows),
        parent=None if parent is None else parent.index,
        kind=RAW,
        negate=negate,
        path=path,
        depth=0 if parent is None else parent.depth + 1,
    )
    rows.append(row)
    if parent is not None:
        parent.children.append(row)
    if is_group(inner):
        row.kind = next(iter(inner))
        for position, child in enumerate(inner[row.kind]):
            _add(rows, child, row, f"{inner_path}.{row.kind}[{position}]")
        return
    values = _leaf_values(inner)
    if values is None:
        row.negate = False
        row.values = {RAW: json.dumps(node, indent=2, ensure_ascii=False)}
    else:
        row.kind, row.values = inner["type"], values


def _leaf_values(node: Any) -> dict[str, str] | None:
    """The inputs showing a leaf, or None when its keys or value types do not fit them
    (such a leaf keeps its exact JSON in a raw row)."""
    if not isinstance(node, dict) or node.get("type") not in LEAF_KEYS:
        return None
    kind = node["type"]
    allowed = LEAF_KEYS[kind]
    if any(key != "type" and key not in allowed for key in node):
        return None
    if kind == "field":
        return _field_values(node)
    values: dict[str, str] = {}
    for key in allowed:
        value = node.get(key)
        if value is None:
            continue
        if key in INTS:
            if isinstance(value, bool) or not isinstance(value, int):
                return None
            values[key] = str(value)
        elif not isinstance(value, str) or not value or value != value.strip():
            return None
        elif key == "activity_type":
            if value in BUILT_IN_ACTIVITIES:
                values[key] = value
            elif value.startswith("custom:") and value[7:] and value[7:] == value[7:].strip():
                values[key], values["custom_name"] = CUSTOM, value[7:]
            else:
                return None
        else:
            values[key] = value
    return values


def _field_values(node: dict[str, Any]) -> dict[str, str] | None:
    name, op, value = node.get("field"), node.get("op"), node.get("value")
    if not isinstance(name, str) or not name or name != name.strip() or op not in OPS:
        return None
    values = {"field": name, "op": str(op), "value": "", "value_type": "text"}
    if op == "empty":
        return values if value is None else None
    if "value" not in node:
        return None
    if value is None:
        values["value_type"] = "number"  # what an unreadable number gives (see _typed)
    elif isinstance(value, bool):
        values["value_type"] = "true" if value else "false"
    elif isinstance(value, str):
        values["value"] = value
    elif isinstance(value, int | float) and math.isfinite(value):
        values["value"], values["value_type"] = json.dumps(value), "number"
    else:
        return None
    return values


# Rows -> condition JSON


def rows_to_tree(rows: Sequence[Row]) -> Any:
    """The condition JSON of builder rows (``rows[0]`` the root group, every other row
    after its parent). Values are passed on as typed, so the condition language reports
    a bad one with its path."""
    if not rows or not rows[0].is_group or rows[0].parent is not None:
        raise Invalid(f"{ROOT}: the builder has no root group; reload the page")
    children: dict[int, list[Row]] = {}
    seen: dict[int, Row] = {}
    for row in rows:
        if row.index in seen:
            raise Invalid(f"{ROOT}: the builder rows are inconsistent; reload the page")
        if row is not rows[0]:
            parent = seen.get(row.parent) if row.parent is not None else None
            if parent is None or not parent.is_group:
                raise Invalid(f"{ROOT}: the builder rows are inconsistent; reload the page")
            children.setdefault(parent.index, []).append(row)
        seen[row.index] = row
    return _node(rows[0], children)


def _node(row: Row, children: Mapping[int, list[Row]]) -> Any:
    if row.is_group:
        items = children.get(row.index, [])
        node: Any = {row.kind: [_node(child, children) for child in items]}
    else:
        node = _leaf(row)
    return {"not": node} if row.negate else node


def _leaf(row: Row) -> Any:
    values = row.values
    if row.kind == RAW:
        text = values.get(RAW, "")
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            return text  # refused by the condition language, naming the row's path
    out: dict[str, Any] = {"type": row.kind}
    if row.kind == "field":
        out["field"] = values.get("field", "").strip()
        out["op"] = values.get("op", "eq")
        if out["op"] != "empty":
            out["value"] = _typed(values.get("value", ""), values.get("value_type", ""))
        return out
    if row.kind == "activity":
        chosen = values.get("activity_type", "")
        custom = values.get("custom_name", "").strip()
        out["activity_type"] = f"custom:{custom}" if chosen == CUSTOM else chosen
    for key in LEAF_KEYS.get(row.kind, ()):
        text = values.get(key, "").strip()
        if key == "activity_type" or not text:
            continue
        out[key] = int(text) if key in INTS and INT_TEXT.fullmatch(text) else text
    return out


def _typed(text: str, value_type: str) -> str | int | float | bool | None:
    """A field value as its type says; a number that is not one gives None, which the
    condition language refuses with the row's path (as groups.js does)."""
    if value_type in ("true", "false"):
        return value_type == "true"
    if value_type != "number":
        return text
    cleaned = text.strip()
    if INT_TEXT.fullmatch(cleaned):
        return int(cleaned)
    if NUMBER_TEXT.fullmatch(cleaned) and math.isfinite(float(cleaned)):
        return float(cleaned)
    return None


def rows_from_form(items: Iterable[tuple[str, str]]) -> list[Row]:
    """Builder rows from posted form fields ``r<i>.<key>``, in the order the page
    shows them (a group's fields come before its rows')."""
    found: dict[int, Row] = {}
    for key, value in items:
        match = ROW_KEY.fullmatch(key)
        if match is None:
            continue
        index, name = int(match[1]), match[2]
        row = found.get(index)
        if row is None:
            if len(found) >= MAX_ROWS:
                raise Invalid(f"{ROOT}: at most {MAX_ROWS} conditions")
            row = found[index] = Row(index=index, parent=None, kind="")
        if name == "parent":
            row.parent = int(value) if value.isdigit() and len(value) < 6 else None
        elif name == "kind":
            row.kind = value
        elif name == "not":
            row.negate = value == "1"
        else:
            row.values[name] = value
    return list(found.values())


def fits_builder(data: Any, *, max_depth: int = 80) -> bool:
    """Whether the builder can draw ``data``: at most ``MAX_ROWS`` objects, nested at most
    ``max_depth`` objects and lists deep (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    objects = 0
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return False
        if isinstance(node, dict):
            objects += 1
            if objects > MAX_ROWS:
                return False
            stack.extend((value, depth + 1) for value in node.values())
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)
    return True


def error_row(rows: Sequence[Row], detail: str) -> int | None:
    """The index of the row an error message (``path: message``) is about: the row
    with the longest path that starts the error's path."""
    path = detail.partition(": ")[0]
    best: Row | None = None
    for row in rows:
        about = path == row.path or path.startswith((f"{row.path}.", f"{row.path}["))
        if about and (best is None or len(row.path) > len(best.path)):
            best = row
    return None if best is None else best.index


# Choices of the selects


@dataclass(frozen=True)
class Choices:
    """What the builder's selects offer: (value, label) pairs."""

    emails: list[tuple[str, str]]
    lists: list[tuple[str, str]]
    consents: list[tuple[str, str]]
    groups: list[tuple[str, str]]
    links: dict[str, list[tuple[str, str]]]


def email_links(session: Session, email_id: int) -> list[tuple[str, str]]:
    """An email's link URLs to pick from, each once, labelled with its positions."""
    positions: dict[str, list[int]] = {}
    for position, url in session.execute(
        select(Link.position, Link.url).where(Link.email_id == email_id).order_by(Link.position)
    ):
        positions.setdefault(url, []).append(position)
    return [
        (url, f"#{', #'.join(str(p) for p in found)} · {url}") for url, found in positions.items()
    ]


def load_choices(session: Session, rows: list[Row], exclude_group: int | None) -> Choices:
    """Every email, list, consent and other group; links of the emails rows show."""
    emails = session.execute(select(Email.id, Email.name).order_by(Email.id.desc())).all()
    seen = Counter(name for _, name in emails)
    groups = select(ContactGroup.id, ContactGroup.name).order_by(ContactGroup.name)
    if exclude_group is not None:
        groups = groups.where(ContactGroup.id != exclude_group)
    shown = {row.values.get("email_id", "") for row in rows if row.kind == "clicked_email"}
    return Choices(
        emails=[
            (str(eid), name if seen[name] == 1 else f"{name} (#{eid})") for eid, name in emails
        ],
        lists=[
            (str(lid), name)
            for lid, name in session.execute(
                select(RecipientList.id, RecipientList.name).order_by(RecipientList.name)
            )
        ],
        consents=[
            (code, f"{display} ({code})")
            for code, display in session.execute(
                select(Consent.code_name, Consent.display_name).order_by(Consent.display_name)
            )
        ],
        groups=[(str(gid), name) for gid, name in session.execute(groups)],
        links={eid: email_links(session, int(eid)) for eid in shown if parse_id(eid) is not None},
    )
