"""What the builder's forms post, read into document fields, and what its cards show."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Form

from tidings.emails.builder.document import DEFAULT_STYLE, FONTS, TYPE_LABELS
from tidings.emails.builder.text import text_of_html_subset, text_of_raw_html

Text = Annotated[str, Form()]
FIELDS = {
    "text": ("html", "align", "size"),
    "image": ("src", "alt", "link", "width", "align"),
    "button": ("label", "url", "background", "color", "align"),
    "divider": ("color", "thickness"),
    "html": ("html",),
    "columns": ("count",),
}
DEFAULT_COLORS = {"button": {"color": "#ffffff"}, "divider": {"color": "#e4e7ec"}}
FONT_LABELS = {
    "helvetica": "Helvetica / Arial",
    "system": "System (San Francisco, Segoe, Roboto)",
    "georgia": "Georgia (serif)",
    "verdana": "Verdana",
    "trebuchet": "Trebuchet MS",
}
assert set(FONT_LABELS) == set(FONTS)


def widget_form(
    html: Text = "",
    align: Text = "",
    size: Text = "",
    src: Text = "",
    alt: Text = "",
    link: Text = "",
    width: Text = "",
    label: Text = "",
    url: Text = "",
    background: Text = "",
    color: Text = "",
    thickness: Text = "",
    count: Text = "",
) -> dict[str, str]:
    """Every field a widget form may post (the type picks its own)."""
    return {
        "html": html.replace("\r\n", "\n"),
        "align": align,
        "size": size,
        "src": src,
        "alt": alt,
        "link": link,
        "width": width,
        "label": label,
        "url": url,
        "background": background,
        "color": color,
        "thickness": thickness,
        "count": count,
    }


def form_values(widget: dict[str, Any], draft: dict[str, Any] | None = None) -> dict[str, str]:
    """The text each content field of ``widget`` shows: the refused ``draft``'s value,
    else the widget's (None shows as empty)."""
    shown: dict[str, str] = {}
    for name in FIELDS.get(widget["type"], ()):
        value = draft.get(name) if draft else None
        if value is None:
            value = widget.get(name)
        shown[name] = "" if value is None else str(value)
    return shown


def fields_for(kind: str, posted: dict[str, str], style: dict[str, Any]) -> dict[str, Any]:
    """The posted fields of a widget of ``kind``; a colour equal to its default is
    stored as None, so it follows the design's colours when they change."""
    fields: dict[str, Any] = {name: posted.get(name, "") for name in FIELDS[kind]}
    defaults = {**DEFAULT_COLORS.get(kind, {})}
    if kind == "button":
        defaults["background"] = style["accent"]
    for name, default in defaults.items():
        if str(fields.get(name, "")).lower() == default.lower():
            fields[name] = None
    if kind == "image" and not fields["width"]:
        fields["width"] = None
    return fields


def summary(widget: dict[str, Any]) -> str:
    """A one-line description of a widget for its card."""
    kind = widget["type"]
    if kind == "text":
        lines = text_of_html_subset(widget["html"]).splitlines()
        words = " ".join(line for line in lines if not re.fullmatch(r"[=-]+", line.strip()))
        return _short(" ".join(words.split())) or "(empty)"
    if kind == "image":
        return _short(widget["alt"])
    if kind == "button":
        return _short(f"{widget['label']} → {widget['url']}")
    if kind == "divider":
        return "A horizontal line"
    if kind == "columns":
        return f"{len(widget['columns'])} columns side by side (stacked on phones)"
    return _short(" ".join(text_of_raw_html(widget["html"]).split())) or "(empty HTML)"


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def type_label(kind: str) -> str:
    """The name of a widget type as the builder shows it."""
    return TYPE_LABELS.get(kind, kind)


def style_form(
    background: Text = "",
    content: Text = "",
    text: Text = "",
    accent: Text = "",
    font: Text = "",
    width: Text = "",
    preheader: Text = "",
) -> dict[str, str]:
    """The design form: colours, font, width and the preview text."""
    return {
        "background": background or str(DEFAULT_STYLE["background"]),
        "content": content or str(DEFAULT_STYLE["content"]),
        "text": text or str(DEFAULT_STYLE["text"]),
        "accent": accent or str(DEFAULT_STYLE["accent"]),
        "font": font or str(DEFAULT_STYLE["font"]),
        "width": width or str(DEFAULT_STYLE["width"]),
        "preheader": preheader,
    }
