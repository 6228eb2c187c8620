"""How a condition kind appears in the condition builder: its label and its inputs.

A kind describes its inputs as data (``Input``): the widget, the JSON key it fills,
where a select's choices come from (a reference target such as ``"email"``, or fixed
options), and the words around it. The admin pages draw the inputs from these
descriptions, and ``static/conditions.js`` serializes the rows with the same descriptions,
sent to it as JSON (``Builder.to_json``). ``values_of`` and ``node_of`` are the
Python twins of the script's reading and writing of a row.

Widgets:

- ``select``: one choice, from ``source`` (rows of a reference target) or ``options``;
  ``empty`` labels the "nothing chosen" option; ``other`` adds an option that shows a
  text input, written as ``other.prefix + text`` (``custom:webinar``).
- ``number``: a whole number.
- ``text``: a line of text; ``links_of`` adds a picker of the tracked links of the
  email chosen in that other input; ``suggestions`` offers values to complete.
- ``typed``: a value with its type (text, number, yes, no) picked beside it, in the
  form field ``<key>_type``.

An input is left out of the JSON when empty, unless ``required``; ``hidden_when``
(key, value) hides it and leaves it out while another input of the row has that value.
Consecutive inputs of a kind with the same ``part`` name are shown as one piece of the
row (a field, its comparison and its value), which keeps them on one line.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

INT_TEXT = re.compile(r"-?\d{1,30}")
NUMBER_TEXT = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
WIDGETS = ("select", "number", "text", "typed")
VALUE_TYPES = (
    ("text", "text"),
    ("number", "number"),
    ("true", "yes (true)"),
    ("false", "no (false)"),
)


@dataclass(frozen=True)
class Option:
    """A fixed choice of a select: the JSON value and its label."""

    value: str
    label: str


@dataclass(frozen=True)
class Other:
    """A select's extra option that shows a text input: choosing ``value`` ("custom")
    and typing "webinar" in the input ``key`` gives ``prefix + "webinar"``."""

    value: str
    label: str
    key: str
    prefix: str
    input_label: str
    placeholder: str = ""
    max_length: int = 90


@dataclass(frozen=True)
class Input:
    """One input of a kind's row (see the module docstring for the widgets)."""

    key: str
    widget: str
    label: str
    lead: str = ""
    tail: str = ""
    placeholder: str = ""
    source: str | None = None
    options: tuple[Option, ...] = ()
    empty: str | None = None
    other: Other | None = None
    integer: bool = False
    required: bool = False
    minimum: int | None = None
    maximum: int | None = None
    max_length: int = 1000
    width: str = ""
    role: str = ""
    hidden_when: tuple[str, str] | None = None
    links_of: str | None = None
    suggestions: tuple[str, ...] = ()
    part: str = ""

    def __post_init__(self) -> None:
        if self.widget not in WIDGETS:
            raise ValueError(f"input {self.key!r}: unknown widget {self.widget!r}")
        if self.widget == "select" and not (self.source or self.options):
            raise ValueError(f"input {self.key!r}: a select needs a source or options")

    @property
    def type_key(self) -> str:
        """The form field holding the type of a ``typed`` value."""
        return f"{self.key}_type"

    @property
    def default(self) -> str:
        """What a row shows before anything is chosen: the first fixed option of a
        select that has no empty choice, else nothing."""
        if self.widget == "select" and self.empty is None and self.options:
            return self.options[0].value
        return ""

    def shape(self) -> tuple[object, ...]:
        """What must be the same wherever two kinds share this input's key (one form
        field serves both, and keeps its value when the row changes kind)."""
        return (self.widget, self.source, self.options, self.other, self.integer)

    def to_json(self) -> dict[str, Any]:
        """What the builder script needs to read and write this input."""
        out: dict[str, Any] = {
            "key": self.key,
            "widget": self.widget,
            "integer": self.integer,
            "required": self.required,
            "default": self.default,
        }
        if self.empty is not None:
            out["empty"] = self.empty
        if self.other is not None:
            other = self.other
            out["other"] = {"value": other.value, "key": other.key, "prefix": other.prefix}
        if self.hidden_when is not None:
            out["hidden_when"] = list(self.hidden_when)
        if self.links_of is not None:
            out["links_of"] = self.links_of
        return out


@dataclass(frozen=True)
class Builder:
    """A kind in the builder: its label in the kind menu, its place there (``order``,
    lowest first) and its inputs, in the order a row shows them."""

    label: str
    inputs: tuple[Input, ...]
    order: int

    def __post_init__(self) -> None:
        keys = [item.key for item in self.inputs]
        if len(set(keys)) != len(keys):
            raise ValueError(f"builder {self.label!r}: an input key is used twice")
        for item in self.inputs:
            if item.hidden_when is not None and item.hidden_when[0] not in keys:
                raise ValueError(f"input {item.key!r}: hidden_when names an unknown input")

    def to_json(self) -> dict[str, Any]:
        """What the builder script needs to know of this kind."""
        return {"label": self.label, "inputs": [item.to_json() for item in self.inputs]}


# Condition JSON -> the form's values (the script's twin: readNode)


def values_of(builder: Builder, node: Mapping[str, Any]) -> dict[str, str] | None:
    """The form values showing a leaf, or None when its keys or value types do not fit
    the inputs (the builder then keeps its exact JSON in a raw row)."""
    keys = {item.key for item in builder.inputs}
    if any(key != "type" and key not in keys for key in node):
        return None
    values: dict[str, str] = {}
    for item in builder.inputs:
        if item.widget == "typed":
            if not _typed_values(item, node, values):
                return None
            continue
        value = node.get(item.key)
        if value is None:
            if item.required:
                return None
            continue
        shown = _shown(item, value)
        if shown is None:
            return None
        values.update(shown)
    return values


def _hidden(item: Input, values: Mapping[str, Any]) -> bool:
    return item.hidden_when is not None and values.get(item.hidden_when[0]) == item.hidden_when[1]


def _shown(item: Input, value: Any) -> dict[str, str] | None:
    """The form values of one non-null JSON value, or None when it does not fit."""
    if item.integer:
        if isinstance(value, bool) or not isinstance(value, int):
            return None
        return {item.key: str(value)}
    if not isinstance(value, str) or not value or value != value.strip():
        return None
    if item.widget != "select" or item.source is not None:
        return {item.key: value}
    if any(option.value == value for option in item.options):
        return {item.key: value}
    other = item.other
    if other is not None and value.startswith(other.prefix):
        rest = value[len(other.prefix) :]
        if rest and rest == rest.strip():
            return {item.key: other.value, other.key: rest}
    return None


def _typed_values(item: Input, node: Mapping[str, Any], values: dict[str, str]) -> bool:
    """Fill a typed value and its type; False when the JSON does not fit."""
    values[item.key], values[item.type_key] = "", "text"
    value = node.get(item.key)
    if _hidden(item, values):
        return value is None
    if item.key not in node:
        return False
    if value is None:
        values[item.type_key] = "number"  # what an unreadable number gives (see _typed)
    elif isinstance(value, bool):
        values[item.type_key] = "true" if value else "false"
    elif isinstance(value, str):
        values[item.key] = value
    elif isinstance(value, int | float) and math.isfinite(value):
        values[item.key], values[item.type_key] = json.dumps(value), "number"
    else:
        return False
    return True


# The form's values -> condition JSON (the script's twin: leafOf)


def node_of(kind: str, builder: Builder, values: Mapping[str, str]) -> dict[str, Any]:
    """The leaf JSON of a row's values. Values are passed on as typed, so the condition
    language reports a bad one with its path."""
    out: dict[str, Any] = {"type": kind}
    for item in builder.inputs:
        if _hidden(item, out):
            continue
        text = values.get(item.key, item.default)
        if item.widget == "typed":
            out[item.key] = _typed(text, values.get(item.type_key, ""))
            continue
        if item.other is not None and text == item.other.value:
            out[item.key] = item.other.prefix + values.get(item.other.key, "").strip()
            continue
        text = text.strip()
        if not text and not item.required:
            continue
        out[item.key] = int(text) if item.integer and INT_TEXT.fullmatch(text) else text
    return out


def _typed(text: str, value_type: str) -> str | int | float | bool | None:
    """A value as its type says; a number that is not one gives None, which the
    condition language refuses with the row's path (as conditions.js does)."""
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
