"""View logic of the group editor: condition JSON <-> builder rows, and the selects' choices.

The builder shows a condition as rows: ``all`` / ``any`` group rows and leaf rows, each
naming its parent, so a form (``r3.kind``, ``r3.email_id``...) carries the whole tree
even without JavaScript. A leaf row shows the inputs its kind describes
(``tidings.conditions.KINDS``); ``static/conditions.js`` serializes the same rows to JSON
in the browser with the same descriptions, and ``rows_to_tree`` is its twin here.
Both leave checking to the condition language, so every error names the JSON path of
the row at fault.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from tidings.conditions import KINDS, is_group
from tidings.conditions.builder import VALUE_TYPES, node_of, values_of
from tidings.conditions.targets import email_links
from tidings.errors import Invalid
from tidings.values import parse_id

ROOT = "condition"
RAW = "json"
EMPTY: dict[str, Any] = {"all": []}
MAX_ROWS = 500
MAX_CONDITION_TEXT = 200_000
GROUP_KINDS = ("all", "any")
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
    """The inputs showing a leaf, or None when its kind is unknown or its keys or value
    types do not fit the kind's inputs (such a leaf keeps its exact JSON in a raw row)."""
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        return None
    kind = KINDS.get(node["type"])
    return None if kind is None else values_of(kind.builder, node)


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
    kind = KINDS.get(row.kind)
    if kind is None:
        return {"type": row.kind}  # refused as an unknown type, naming the row's path
    return node_of(kind.name, kind.builder, values)


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
    """What the builder's selects offer: (value, label) pairs by reference target, and
    the tracked links of the emails rows have chosen (by email id, as the form has it)."""

    options: dict[str, list[tuple[str, str]]]
    links: dict[str, list[tuple[str, str]]]


def load_choices(
    session: Session, rows: Iterable[Row], exclude: Mapping[str, Any] | None = None
) -> Choices:
    """Every row of each target the kinds' selects offer (but the key ``exclude`` gives
    for a target: a group cannot use itself); the links of the emails rows show."""
    targets = KINDS.targets
    sources = {part.input.source for part in KINDS.parts() if part.input.source is not None}
    options = {
        name: targets[name].choices(session, (exclude or {}).get(name)) for name in sorted(sources)
    }
    shown: set[str] = set()
    for row in rows:
        kind = KINDS.get(row.kind)
        for item in kind.builder.inputs if kind is not None else ():
            if item.links_of is not None:
                shown.add(row.values.get(item.links_of, ""))
    links = {eid: email_links(session, int(eid)) for eid in shown if parse_id(eid) is not None}
    return Choices(options=options, links=links)


# The builder as a component of any page


def load_json(text: str) -> Any:
    """Condition JSON typed or sent by the builder; ``Invalid`` says where it breaks."""
    if len(text) > MAX_CONDITION_TEXT:
        raise Invalid(f"{ROOT}: at most {MAX_CONDITION_TEXT:,} characters of JSON")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise Invalid(f"{ROOT}: not valid JSON ({exc.msg} at {where})") from None
    except (ValueError, RecursionError):
        raise Invalid(f"{ROOT}: not valid JSON (nested too deeply)") from None


def kinds_json() -> str:
    """The kinds and their inputs as the builder script reads them (``data-kinds``)."""
    return json.dumps(KINDS.builder_json(), ensure_ascii=False)


def pretty(data: Any) -> str:
    """Condition JSON as the Advanced box shows it ("" for what JSON cannot write)."""
    try:
        return json.dumps(data, indent=2, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return ""


@dataclass
class BuilderView:
    """What ``admin/groups/_builder.html`` needs to draw one builder: its rows, the
    selects' choices, the JSON it starts with and the condition language's message
    (``condition...: why``, its row outlined)."""

    rows: list[Row]
    choices: Choices
    text: str
    json_text: str
    condition_error: str = ""
    error_index: int | None = None
    stale: bool = False
    value_types: tuple[tuple[str, str], ...] = VALUE_TYPES

    @property
    def blank_leaf(self) -> Row:
        """The row new conditions are cloned from."""
        return BLANK_LEAF

    @property
    def blank_group(self) -> Row:
        """The row new groups are cloned from."""
        return BLANK_GROUP

    @property
    def root(self) -> Row:
        """The root group row."""
        return self.rows[0]

    @property
    def next_index(self) -> int:
        """The index the next new row gets."""
        return len(self.rows)

    @property
    def kinds(self) -> list[tuple[str, str]]:
        """The kind menu: (kind, label)."""
        return [(name, KINDS[name].builder.label) for name in KINDS]

    @property
    def blocks(self) -> Any:
        """A leaf row's form fields, by piece (``KINDS.blocks``)."""
        return KINDS.blocks()

    @property
    def all_parts(self) -> Any:
        """Every form field of every kind (``KINDS.parts``)."""
        return KINDS.parts()

    @property
    def kinds_json(self) -> str:
        """``kinds_json()``, for the template."""
        return kinds_json()


def condition_builder(
    session: Session,
    data: Any,
    *,
    text: str | None = None,
    error: str = "",
    exclude: Mapping[str, Any] | None = None,
) -> BuilderView:
    """One builder showing condition JSON ``data`` (None: ``text``, JSON the builder
    cannot show, stays in the Advanced box and is what gets posted). ``error`` is the
    condition language's message with a path starting ``condition``; ``exclude`` is
    passed to ``load_choices``."""
    fits = data is not None and fits_builder(data)
    rows = tree_to_rows(data if fits else EMPTY)
    if text is None:
        text = pretty(data) if data is not None else ""
    error_index = error_row(rows, error) if error.startswith(ROOT) and fits else None
    return BuilderView(
        rows=rows,
        choices=load_choices(session, rows, exclude),
        text=json.dumps(data, ensure_ascii=False) if fits else text,
        json_text=pretty(data) if fits else text,
        condition_error=error,
        error_index=error_index,
        stale=not fits,
    )
