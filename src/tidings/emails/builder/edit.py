"""Changes to a builder document: add, change, remove and move widgets.

Each function takes a normalized document and returns a changed copy (normalize it
again before storing). Containers are named ``section:<name>`` or
``column:<columns key>:<index>``; ``Invalid`` names what is wrong.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from tidings.emails.builder.document import TYPES, keys, new_key
from tidings.errors import Invalid, NotFound

PLACEHOLDER_IMAGE = "/static/builder/placeholder.jpg"


def defaults(kind: str, *, base_url: str, taken: set[str]) -> dict[str, Any]:
    """A new widget of ``kind`` with content that shows what to do with it."""
    key = new_key(kind, taken)
    if kind == "text":
        return {"key": key, "type": kind, "html": "<p>Write your text here.</p>"}
    if kind == "image":
        src = base_url.rstrip("/") + PLACEHOLDER_IMAGE
        return {"key": key, "type": kind, "src": src, "alt": "Describe the picture"}
    if kind == "button":
        return {"key": key, "type": kind, "label": "Read more", "url": "https://example.com/"}
    if kind == "divider":
        return {"key": key, "type": kind}
    if kind == "html":
        return {"key": key, "type": kind, "html": "<p>Your HTML here.</p>"}
    if kind == "columns":
        columns = []
        for index in range(2):
            inner = new_key("text", taken | {key})
            taken = taken | {inner}
            text = {"key": inner, "type": "text", "html": f"<p>Column {index + 1}</p>"}
            columns.append([text])
        return {"key": key, "type": kind, "columns": columns}
    raise Invalid(f"type: must be one of {', '.join(TYPES)}")


def container(document: dict[str, Any], ref: str) -> list[dict[str, Any]]:
    """The widget list a container reference names."""
    kind, _, rest = ref.partition(":")
    if kind == "section":
        for section in document["sections"]:
            if section["name"] == rest:
                widgets: list[dict[str, Any]] = section["widgets"]
                return widgets
    elif kind == "column":
        key, _, index = rest.rpartition(":")
        found = find(document, key)
        if found is not None and found[0][found[1]]["type"] == "columns" and index.isdigit():
            columns = found[0][found[1]]["columns"]
            if int(index) < len(columns):
                column: list[dict[str, Any]] = columns[int(index)]
                return column
    raise Invalid(f"no place named {ref[:80]!r} in this email")


def find(document: Mapping[str, Any], key: str) -> tuple[list[dict[str, Any]], int] | None:
    """The list holding the widget ``key`` and its index there, or None."""
    for section in document["sections"]:
        for index, widget in enumerate(section["widgets"]):
            if widget["key"] == key:
                return section["widgets"], index
            for column in widget.get("columns") or []:
                for inner, item in enumerate(column):
                    if item["key"] == key:
                        return column, inner
    return None


def _located(document: dict[str, Any], key: str) -> tuple[list[dict[str, Any]], int]:
    found = find(document, key)
    if found is None:
        raise NotFound(f"no widget {key[:80]!r} in this email")
    return found


def add(
    document: Mapping[str, Any], *, ref: str, kind: str, base_url: str
) -> tuple[dict[str, Any], str]:
    """Add a new widget at the end of a container; the new document and its key."""
    changed = copy.deepcopy(dict(document))
    target = container(changed, ref)
    if kind == "columns" and ref.startswith("column:"):
        raise Invalid("columns cannot be placed inside columns")
    widget = defaults(kind, base_url=base_url, taken=keys(changed))
    target.append(widget)
    return changed, widget["key"]


def change(document: Mapping[str, Any], key: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Set a widget's fields (its key and type stay)."""
    changed = copy.deepcopy(dict(document))
    holder, index = _located(changed, key)
    widget = holder[index]
    if widget["type"] == "columns":
        count = int(fields.get("count") or len(widget["columns"]))
        if count not in (2, 3):
            raise Invalid("columns: 2 or 3")
        columns = widget["columns"]
        while len(columns) < count:
            columns.append([])
        while len(columns) > count:
            columns[count - 1].extend(columns.pop())
        return changed
    holder[index] = {**widget, **fields, "key": key, "type": widget["type"]}
    return changed


def remove(document: Mapping[str, Any], key: str) -> dict[str, Any]:
    """Remove a widget (with what a columns widget holds)."""
    changed = copy.deepcopy(dict(document))
    holder, index = _located(changed, key)
    del holder[index]
    return changed


def _containers(document: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return [section["widgets"] for section in document["sections"]]


def move(document: Mapping[str, Any], key: str, direction: str) -> dict[str, Any]:
    """Move a widget one place up or down; at the edge of a section it goes to the end
    (or start) of the one before (or after), at the edge of a column out of the columns."""
    if direction not in ("up", "down"):
        raise Invalid("direction: up or down")
    changed = copy.deepcopy(dict(document))
    holder, index = _located(changed, key)
    step = -1 if direction == "up" else 1
    target = index + step
    if 0 <= target < len(holder):
        holder[index], holder[target] = holder[target], holder[index]
        return changed
    widget = holder.pop(index)
    sections = _containers(changed)
    if any(holder is section for section in sections):
        position = next(i for i, section in enumerate(sections) if section is holder)
        neighbour = position + step
        if 0 <= neighbour < len(sections):
            if step < 0:
                sections[neighbour].append(widget)
            else:
                sections[neighbour].insert(0, widget)
        else:
            holder.insert(index, widget)  # already first (or last) of the email
        return changed
    for section in sections:  # leave the column, before or after its columns widget
        for place, item in enumerate(section):
            if any(column is holder for column in item.get("columns") or []):
                section.insert(place if step < 0 else place + 1, widget)
                return changed
    raise NotFound(f"no widget {key[:80]!r} in this email")


def move_to(document: Mapping[str, Any], key: str, *, ref: str, index: int) -> dict[str, Any]:
    """Move a widget into a container at ``index`` (as counted without the widget)."""
    changed = copy.deepcopy(dict(document))
    holder, position = _located(changed, key)
    widget = holder[position]
    target = container(changed, ref)
    if widget["type"] == "columns" and ref.startswith("column:"):
        raise Invalid("columns cannot be placed inside columns")
    if any(target is column for column in widget.get("columns") or []):
        raise Invalid("a widget cannot be placed inside itself")
    del holder[position]
    target.insert(max(0, min(index, len(target))), widget)
    return changed
