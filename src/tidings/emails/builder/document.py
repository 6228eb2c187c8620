"""The builder document of an email: named sections holding widgets, as plain JSON.

```
{"version": 1, "template": "newsletter", "preheader": "...",
 "style": {"background", "content", "text", "accent", "font", "width"},
 "sections": [{"name", "label", "background", "text_color", "link_color",
               "padding", "widgets": [widget, ...]}]}
```

A widget is ``{"key", "type", ..., "variants": [{"condition", ...}]}``; its type is
text, image, button, divider, columns or html. Keys are stable (they name the widget
in statistics and in ``{{ widget("key") }}``) and unique in the document. Variants
hold a B11 condition and the same fields as their widget (not columns). ``normalize``
checks everything and returns the stored form; ``Invalid`` names the bad path, e.g.
``builder.sections[1].widgets[0].alt: is required``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from tidings.conditions import parse
from tidings.emails.builder.sanitize import MERGE_RE, sanitize
from tidings.emails.widgets import MAX_HTML, MAX_VARIANTS, check_key
from tidings.errors import Invalid

VERSION = 1
TYPES = ("text", "image", "button", "divider", "columns", "html")
TYPE_LABELS = {
    "text": "Text",
    "image": "Image",
    "button": "Button",
    "divider": "Divider",
    "columns": "Columns",
    "html": "Raw HTML",
}
FONTS = {
    "helvetica": "Helvetica, Arial, sans-serif",
    "system": "-apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif",
    "georgia": "Georgia, 'Times New Roman', Times, serif",
    "verdana": "Verdana, Geneva, sans-serif",
    "trebuchet": "'Trebuchet MS', Helvetica, Arial, sans-serif",
}
ALIGNS = ("left", "center", "right")
SIZES = ("small", "normal", "large")
HEX_RE = re.compile(r"#[0-9a-fA-F]{6}")
SECTION_NAME_RE = re.compile(r"[a-z][a-z0-9_-]{0,39}")
MAX_SECTIONS = 12
MAX_WIDGETS = 200
MAX_SHORT = 300
MAX_URL = 2_000
DEFAULT_STYLE = {
    "background": "#f2f4f7",
    "content": "#ffffff",
    "text": "#1f2933",
    "accent": "#2563eb",
    "font": "helvetica",
    "width": 600,
}


def new_key(kind: str, taken: set[str] | None = None) -> str:
    """A fresh widget key such as ``button-3f9a1c``."""
    while True:
        key = f"{kind}-{secrets.token_hex(3)}"
        if not taken or key not in taken:
            return key


def _color(data: Mapping[str, Any], key: str, path: str, default: str | None) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return default
    if not isinstance(value, str) or HEX_RE.fullmatch(value) is None:
        raise Invalid(f"{path}.{key}: must be a colour like #1a2b3c")
    return value.lower()


def _choice(data: Mapping[str, Any], key: str, path: str, options: tuple[str, ...]) -> str:
    value = data.get(key)
    if value is None or value == "":
        return options[0]
    if value not in options:
        raise Invalid(f"{path}.{key}: must be one of {', '.join(options)}")
    return str(value)


def _text(
    data: Mapping[str, Any], key: str, path: str, *, required: bool, limit: int = MAX_SHORT
) -> str:
    value = data.get(key)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Invalid(f"{path}.{key}: must be a string")
    value = value.replace("\x00", "").strip()
    if required and not value:
        raise Invalid(f"{path}.{key}: is required")
    if len(value) > limit:
        raise Invalid(f"{path}.{key}: at most {limit:,} characters")
    return value


def _url(data: Mapping[str, Any], key: str, path: str, *, required: bool, mail: bool = True) -> str:
    value = _text(data, key, path, required=required, limit=MAX_URL)
    if not value:
        return ""
    schemes = ("http://", "https://", "mailto:", "tel:") if mail else ("http://", "https://")
    if not (value.lower().startswith(schemes) or value.startswith("{{")):
        allowed = ", ".join(s.rstrip("/") for s in schemes)
        raise Invalid(f"{path}.{key}: must start with {allowed} (or be a merge field)")
    if any(ch.isspace() for ch in MERGE_RE.sub("", value)):
        raise Invalid(f"{path}.{key}: must not contain spaces")
    return value


def _int(
    data: Mapping[str, Any], key: str, path: str, low: int, high: int, default: int | None
) -> int | None:
    value = data.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Invalid(f"{path}.{key}: must be a whole number from {low} to {high}")
    return value


def _text_fields(data: Mapping[str, Any], path: str) -> dict[str, Any]:
    source = data.get("html")
    if not isinstance(source, str):
        raise Invalid(f"{path}.html: must be a string")
    try:
        html = sanitize(source)
    except Invalid as exc:
        raise Invalid(f"{path}.html: {exc.detail}") from None
    return {
        "html": html,
        "align": _choice(data, "align", path, ALIGNS),
        "size": _choice(data, "size", path, ("normal", "small", "large")),
    }


def _image_fields(data: Mapping[str, Any], path: str) -> dict[str, Any]:
    return {
        "src": _url(data, "src", path, required=True, mail=False),
        "alt": _text(data, "alt", path, required=True),
        "link": _url(data, "link", path, required=False),
        "width": _int(data, "width", path, 40, 1200, None),
        "align": _choice(data, "align", path, ("center", "left", "right")),
    }


def _button_fields(data: Mapping[str, Any], path: str) -> dict[str, Any]:
    return {
        "label": _text(data, "label", path, required=True, limit=120),
        "url": _url(data, "url", path, required=True),
        "background": _color(data, "background", path, None),
        "color": _color(data, "color", path, None),
        "align": _choice(data, "align", path, ("center", "left", "right")),
    }


def _divider_fields(data: Mapping[str, Any], path: str) -> dict[str, Any]:
    return {
        "color": _color(data, "color", path, None),
        "thickness": _int(data, "thickness", path, 1, 8, 1),
    }


def _html_fields(data: Mapping[str, Any], path: str) -> dict[str, Any]:
    value = data.get("html")
    if not isinstance(value, str):
        raise Invalid(f"{path}.html: must be a string")
    if len(value) > MAX_HTML:
        raise Invalid(f"{path}.html: at most {MAX_HTML:,} characters")
    return {"html": value.replace("\x00", "")}


FIELDS: dict[str, Callable[[Mapping[str, Any], str], dict[str, Any]]] = {
    "text": _text_fields,
    "image": _image_fields,
    "button": _button_fields,
    "divider": _divider_fields,
    "html": _html_fields,
}


class _Counter:
    def __init__(self) -> None:
        self.keys: set[str] = set()

    def add(self, key: str, path: str) -> None:
        if key in self.keys:
            raise Invalid(f"{path}: the key {key!r} is used by another widget")
        self.keys.add(key)
        if len(self.keys) > MAX_WIDGETS:
            raise Invalid(f"{path}: a document holds at most {MAX_WIDGETS} widgets")


def _widget(data: object, path: str, seen: _Counter, *, nested: bool) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise Invalid(f"{path}: must be an object")
    kind = data.get("type")
    if kind not in TYPES:
        raise Invalid(f"{path}.type: must be one of {', '.join(TYPES)}")
    key = check_key(data.get("key"), f"{path}.key")
    seen.add(key, f"{path}.key")
    widget: dict[str, Any] = {"key": key, "type": kind}
    if kind == "columns":
        if nested:
            raise Invalid(f"{path}.type: columns cannot be placed inside columns")
        columns = data.get("columns")
        if not isinstance(columns, list) or not 2 <= len(columns) <= 3:
            raise Invalid(f"{path}.columns: must be a list of 2 or 3 columns")
        widget["columns"] = []
        for index, column in enumerate(columns):
            where = f"{path}.columns[{index}]"
            if not isinstance(column, list):
                raise Invalid(f"{where}: must be a list of widgets")
            widget["columns"].append(
                [_widget(item, f"{where}[{i}]", seen, nested=True) for i, item in enumerate(column)]
            )
        if data.get("variants"):
            raise Invalid(f"{path}.variants: columns have no variants (give them to its widgets)")
        return widget
    widget.update(FIELDS[kind](data, path))
    variants = data.get("variants") or []
    if not isinstance(variants, list):
        raise Invalid(f"{path}.variants: must be a list")
    if len(variants) > MAX_VARIANTS:
        raise Invalid(f"{path}.variants: at most {MAX_VARIANTS} variants")
    widget["variants"] = []
    for index, variant in enumerate(variants):
        where = f"{path}.variants[{index}]"
        if not isinstance(variant, Mapping):
            raise Invalid(f"{where}: must be an object")
        if "condition" not in variant:
            raise Invalid(f"{where}.condition: is required")
        node = parse(variant["condition"], f"{where}.condition")
        widget["variants"].append(
            {"condition": node.to_json(), **FIELDS[kind]({**widget, **variant}, where)}
        )
    return widget


def _style(data: object, path: str) -> dict[str, Any]:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise Invalid(f"{path}: must be an object")
    font = data.get("font") or DEFAULT_STYLE["font"]
    if font not in FONTS:
        raise Invalid(f"{path}.font: must be one of {', '.join(FONTS)}")
    style: dict[str, Any] = {
        key: _color(data, key, path, str(DEFAULT_STYLE[key]))
        for key in ("background", "content", "text", "accent")
    }
    style["font"] = font
    style["width"] = _int(data, "width", path, 480, 800, 600)
    return style


def normalize(data: object, path: str = "builder") -> dict[str, Any]:
    """The document in its stored form; ``Invalid`` names the first bad path."""
    if not isinstance(data, Mapping):
        raise Invalid(f"{path}: must be an object")
    sections = data.get("sections")
    if not isinstance(sections, list) or not sections:
        raise Invalid(f"{path}.sections: must be a non-empty list")
    if len(sections) > MAX_SECTIONS:
        raise Invalid(f"{path}.sections: at most {MAX_SECTIONS} sections")
    template = data.get("template")
    document: dict[str, Any] = {
        "version": VERSION,
        "template": template if isinstance(template, str) else None,
        "preheader": _text(data, "preheader", path, required=False),
        "style": _style(data.get("style"), f"{path}.style"),
        "sections": [],
    }
    seen = _Counter()
    names: set[str] = set()
    for index, section in enumerate(sections):
        where = f"{path}.sections[{index}]"
        if not isinstance(section, Mapping):
            raise Invalid(f"{where}: must be an object")
        name = section.get("name")
        if not isinstance(name, str) or SECTION_NAME_RE.fullmatch(name) is None:
            raise Invalid(f"{where}.name: a lower-case name like 'body'")
        if name in names:
            raise Invalid(f"{where}.name: another section is named {name!r}")
        names.add(name)
        widgets = section.get("widgets") or []
        if not isinstance(widgets, list):
            raise Invalid(f"{where}.widgets: must be a list")
        document["sections"].append(
            {
                "name": name,
                "label": _text(section, "label", where, required=False, limit=60) or name,
                "background": _color(section, "background", where, None),
                "text_color": _color(section, "text_color", where, None),
                "link_color": _color(section, "link_color", where, None),
                "padding": _int(section, "padding", where, 0, 96, 24),
                "widgets": [
                    _widget(item, f"{where}.widgets[{i}]", seen, nested=False)
                    for i, item in enumerate(widgets)
                ],
            }
        )
    return document


def walk(document: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every widget of the document, columns before the widgets they hold."""
    for section in document["sections"]:
        for widget in section["widgets"]:
            yield widget
            for column in widget.get("columns") or []:
                yield from column


def keys(document: Mapping[str, Any]) -> set[str]:
    """The keys of every widget in the document."""
    return {widget["key"] for widget in walk(document)}
