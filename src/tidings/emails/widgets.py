"""Widgets: named blocks of HTML an email places with ``{{ widget("key") }}``.

An email's ``widgets`` are ``{key: {html, variants: [{condition, html}]}}`` (SPEC B12):
the default HTML and, per variant, a B11 condition and its HTML. Hand-written HTML
emails get them through the API; emails built from a template get one for each
builder widget that has variants. Widget HTML is a template like the body (merge
fields work) and its links are link positions of the email, numbered after the
body's, so they are tracked like any other link.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tidings.emails import links as link_markup
from tidings.errors import Invalid

KEY_RE = re.compile(r"[a-z][a-z0-9_-]{0,63}")
MAX_WIDGETS = 100
MAX_VARIANTS = 20
MAX_HTML = 200_000
# ``{{ widget("key") }}`` or ``{{ widget('key') }}`` with any spacing.
PLACE_RE = re.compile(r"""{{-?\s*widget\(\s*(["'])([^"']*)\1\s*\)\s*-?}}""")


def check_key(key: object, path: str) -> str:
    """A widget key: a lower-case letter, then up to 63 letters, digits, ``_`` or ``-``."""
    if not isinstance(key, str) or KEY_RE.fullmatch(key) is None:
        raise Invalid(
            f"{path}: a widget key is a lower-case letter followed by up to 63 lower-case"
            f" letters, digits, '_' or '-' (got {str(key)[:80]!r})"
        )
    return key


def _html(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{path}: must be a string")
    if len(value) > MAX_HTML:
        raise Invalid(f"{path}: at most {MAX_HTML:,} characters")
    if "\x00" in value:
        raise Invalid(f"{path}: must not contain NUL characters")
    return value


def normalize(data: object, path: str = "widgets") -> dict[str, dict[str, Any]]:
    """The widgets of ``data`` in their stored shape; ``Invalid`` names the bad path.

    Conditions are parsed with the condition language (B11) and stored normalized.
    """
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise Invalid(f"{path}: must be an object of widgets by key")
    if len(data) > MAX_WIDGETS:
        raise Invalid(f"{path}: at most {MAX_WIDGETS} widgets")
    result: dict[str, dict[str, Any]] = {}
    for key, widget in data.items():
        check_key(key, f"{path}[{str(key)[:80]!r}]")
        where = f"{path}.{key}"
        if not isinstance(widget, Mapping):
            raise Invalid(f"{where}: must be an object with html and variants")
        unknown = sorted(str(k) for k in widget if k not in {"html", "variants"})
        if unknown:
            raise Invalid(f"{where}.{unknown[0]}: unknown key (known: html, variants)")
        if "html" not in widget:
            raise Invalid(f"{where}.html: is required")
        variants = widget.get("variants") or []
        if not isinstance(variants, list):
            raise Invalid(f"{where}.variants: must be a list")
        if len(variants) > MAX_VARIANTS:
            raise Invalid(f"{where}.variants: at most {MAX_VARIANTS} variants")
        result[key] = {
            "html": _html(widget["html"], f"{where}.html"),
            "variants": [
                _variant(variant, f"{where}.variants[{index}]")
                for index, variant in enumerate(variants)
            ],
        }
    return result


def _variant(data: object, path: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise Invalid(f"{path}: must be an object with condition and html")
    unknown = sorted(str(k) for k in data if k not in {"condition", "html"})
    if unknown:
        raise Invalid(f"{path}.{unknown[0]}: unknown key (known: condition, html)")
    for required in ("condition", "html"):
        if required not in data:
            raise Invalid(f"{path}.{required}: is required")
    # Imported here: render processes load this module (through rendering) and must
    # start without the database layer the condition language brings.
    from tidings.conditions import parse

    node = parse(data["condition"], f"{path}.condition")
    return {"condition": node.to_json(), "html": _html(data["html"], f"{path}.html")}


def placed(html: str) -> list[str]:
    """The keys ``html`` places with ``{{ widget("key") }}``, in order."""
    return [match.group(2) for match in PLACE_RE.finditer(html)]


def prepare(
    html: str, widgets: Mapping[str, Mapping[str, Any]], texts: Mapping[str, Any] | None = None
) -> tuple[str, dict[str, dict[str, Any]], list[link_markup.FoundLink]]:
    """Mark the link positions of the body and of every widget.

    Returns the marked body, the marked widgets (``{key: {html, text, variants:
    [{condition, html, text}]}}``; ``text`` is the widget's plain text where the
    builder wrote one, else None) and every link found. Widget links are numbered
    after the body's, widgets in key order, each default before its variants.
    """
    prepared_html, found = link_markup.prepare(html)
    texts = texts or {}
    prepared: dict[str, dict[str, Any]] = {}
    for key in sorted(widgets):
        widget = widgets[key]
        text = texts.get(key) or {}
        marked, more = link_markup.prepare(widget["html"], first_position=len(found) + 1)
        found.extend(more)
        entry: dict[str, Any] = {"html": marked, "text": text.get("text"), "variants": []}
        variant_texts = text.get("variants") or []
        for index, variant in enumerate(widget.get("variants") or []):
            marked, more = link_markup.prepare(variant["html"], first_position=len(found) + 1)
            found.extend(more)
            entry["variants"].append(
                {
                    "condition": variant["condition"],
                    "html": marked,
                    "text": variant_texts[index] if index < len(variant_texts) else None,
                }
            )
        prepared[key] = entry
    return prepared_html, prepared, found
