"""The plain-text part of a builder email, written from its widgets.

Headings are underlined, paragraphs and lists keep their text, a link reads
``label (URL)``, a button ``label: URL``, an image its alt text in brackets and a
divider a short rule. Merge fields stay templates; any other template syntax the
marketer typed is written so that it shows as typed. A widget with variants is
placed as ``{{ widget("key") }}``; its text and each variant's are returned apart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any

from tidings.emails.builder.sanitize import MERGE_RE
from tidings.emails.plaintext import html_to_text

RULE = "-" * 24
_JINJA_RE = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.DOTALL)


def literal(text: str) -> str:
    """Text safe in a plain-text template: merge fields kept, other ``{`` shown as typed."""
    pieces: list[str] = []
    cursor = 0
    for match in MERGE_RE.finditer(text):
        pieces.append(_braces(text[cursor : match.start()]))
        pieces.append(match.group(0))
        cursor = match.end()
    pieces.append(_braces(text[cursor:]))
    return "".join(pieces)


def _braces(text: str) -> str:
    return re.sub(r"\{(?=[{%#])", '{{ "{" }}', text)


class _TextWriter(HTMLParser):
    """The sanitized HTML subset of a text widget, as plain text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.line: list[str] = []
        self.block: str | None = None
        self.items: list[str] = []
        self.list_kind: str | None = None
        self.href: str | None = None
        self.link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("p", "h1", "h2", "h3", "li"):
            self.block = tag
            self.line = []
        elif tag in ("ul", "ol"):
            self.list_kind = tag
            self.items = []
        elif tag == "br":
            self._emit("\n")
        elif tag == "a":
            self.href = next((v or "" for k, v in attrs if k == "href"), "")
            self.link_text = []

    def _emit(self, text: str) -> None:
        (self.link_text if self.href is not None else self.line).append(text)

    def handle_data(self, data: str) -> None:
        self._emit(literal(data))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.href is not None:
            label = "".join(self.link_text).strip()
            href = literal(self.href)
            self.href = None
            self.line.append(href if label in ("", href) else f"{label} ({href})")
        elif tag in ("p", "h1", "h2", "h3"):
            text = "".join(self.line).strip()
            if text and tag == "h1":
                text += "\n" + "=" * min(len(text), 60)
            elif text and tag in ("h2", "h3"):
                text += "\n" + "-" * min(len(text), 60)
            if text:
                self.blocks.append(text)
            self.line = []
        elif tag == "li":
            text = "".join(self.line).strip()
            if text:
                number = len(self.items) + 1
                bullet = f"{number}." if self.list_kind == "ol" else "-"
                self.items.append(f"{bullet} {text}")
            self.line = []
        elif tag in ("ul", "ol"):
            if self.items:
                self.blocks.append("\n".join(self.items))
            self.items = []
            self.list_kind = None


def text_of_html_subset(html: str) -> str:
    """Plain text of a text widget's (sanitized) HTML."""
    writer = _TextWriter()
    writer.feed(html)
    writer.close()
    return "\n\n".join(writer.blocks)


def text_of_raw_html(html: str) -> str:
    """Plain text of a raw HTML widget; template syntax in it stays as it is."""
    saved: list[str] = []

    def hide(match: re.Match[str]) -> str:
        saved.append(match.group(0))
        return f"TDGRAW{len(saved) - 1:05d}X"

    text = html_to_text(_JINJA_RE.sub(hide, html)).strip()
    return re.sub(r"TDGRAW(\d{5})X", lambda m: saved[int(m.group(1))], text)


def widget_text(widget: Mapping[str, Any]) -> str:
    """The plain text of one widget (its default content, or a variant merged over it)."""
    kind = widget["type"]
    if kind == "text":
        return text_of_html_subset(widget["html"])
    if kind == "image":
        alt = literal(widget["alt"])
        return f"[{alt}] {literal(widget['link'])}" if widget["link"] else f"[{alt}]"
    if kind == "button":
        return f"{literal(widget['label'])}: {literal(widget['url'])}"
    if kind == "divider":
        return RULE
    if kind == "html":
        return text_of_raw_html(widget["html"])
    return ""


def document_text(document: Mapping[str, Any]) -> tuple[str, dict[str, dict[str, Any]]]:
    """The plain text of a builder document, and the texts of its widgets with variants
    (``{key: {text, variants: [text, ...]}}``)."""
    texts: dict[str, dict[str, Any]] = {}
    blocks: list[str] = []

    def place(widget: Mapping[str, Any]) -> None:
        variants = widget.get("variants") or []
        if variants:
            key = widget["key"]
            texts[key] = {
                "text": widget_text(widget),
                "variants": [widget_text({**widget, **variant}) for variant in variants],
            }
            blocks.append(f'{{{{ widget("{key}") }}}}')
        else:
            blocks.append(widget_text(widget))

    for section in document["sections"]:
        for widget in section["widgets"]:
            if widget["type"] == "columns":
                for column in widget["columns"]:
                    for item in column:
                        place(item)
            else:
                place(widget)
    body = "\n\n".join(block for block in blocks if block.strip())
    return body + "\n", texts


def plain_text(document: Mapping[str, Any]) -> str:
    """The plain-text template of a builder document (what its emails send as text)."""
    return document_text(document)[0]
