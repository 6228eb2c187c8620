"""Builder document to MJML, every value escaped and every merge field shielded.

Each builder section becomes an ``mj-wrapper`` (its background and padding); runs of
widgets become one-column ``mj-section``s and a columns widget an ``mj-section`` of
2-3 columns, which stack on phones. A widget with variants is written once per
variant between marker comments, so the compiled HTML of each can be cut out and
stored in the email's widgets.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from html import escape
from typing import Any

from tidings.emails.builder.document import FONTS
from tidings.emails.builder.sanitize import escape_attribute, escape_text

# Template constructs, and the entity that keeps a typed "{" from starting one (an HTML
# parser would turn it back into "{" when the inliner rewrites the document).
_SHIELDED_RE = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}|&#123;", re.DOTALL)
SIZES = {"small": ("14px", "1.55"), "normal": ("16px", "1.6"), "large": ("19px", "1.55")}
PAD = "32px"
COLUMN_PAD = "12px"
MUTED = "#667085"


class Shield:
    """Hides template syntax (and raw HTML) from MJML and the CSS inliner behind
    opaque tokens, and puts it back afterwards."""

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(4)
        self.saved: list[str] = []
        self._token_re = re.compile(f"tdg{self.nonce}j(\\d+)x")

    def token(self, source: str) -> str:
        """A token standing for ``source``."""
        self.saved.append(source)
        return f"tdg{self.nonce}j{len(self.saved) - 1}x"

    def hide(self, html: str) -> str:
        """``html`` with every template construct replaced by a token."""
        return _SHIELDED_RE.sub(lambda m: self.token(m.group(0)), html)

    def restore(self, html: str) -> str:
        """Put back what the tokens in ``html`` stand for."""
        return self._token_re.sub(lambda m: self.saved[int(m.group(1))], html)


def _attr(value: str, shield: Shield) -> str:
    return shield.hide(escape_attribute(value))


def _css(style: Mapping[str, Any], sections: list[Mapping[str, Any]]) -> str:
    accent = style["accent"]
    rules = [
        ".tdg-text p { margin: 0 0 14px; }",
        ".tdg-text h1 { font-size: 30px; line-height: 1.25; margin: 0 0 14px; font-weight: 700; }",
        ".tdg-text h2 { font-size: 23px; line-height: 1.3; margin: 0 0 12px; font-weight: 700; }",
        ".tdg-text h3 { font-size: 18px; line-height: 1.4; margin: 0 0 10px; font-weight: 700; }",
        ".tdg-text ul, .tdg-text ol { margin: 0 0 14px; padding: 0 0 0 24px; }",
        ".tdg-text li { margin: 0 0 6px; }",
        ".tdg-text p:last-child, .tdg-text h1:last-child, .tdg-text h2:last-child,"
        " .tdg-text h3:last-child, .tdg-text ul:last-child, .tdg-text ol:last-child"
        " { margin-bottom: 0; }",
        f".tdg-text a {{ color: {accent}; text-decoration: underline; }}",
    ]
    for section in sections:
        if section["link_color"]:
            rules.append(f".tdg-s-{section['name']} a {{ color: {section['link_color']}; }}")
    rules.append(
        "@media only screen and (max-width:479px) {"
        " td.tdg-block { padding-left: 20px !important; padding-right: 20px !important; }"
        " td.tdg-in-column { padding-left: 0 !important; padding-right: 0 !important; }"
        " .tdg-text h1 { font-size: 25px !important; }"
        " .tdg-text h2 { font-size: 21px !important; } }"
    )
    return "\n".join(rules)


class _Writer:
    def __init__(self, document: Mapping[str, Any], shield: Shield) -> None:
        self.document = document
        self.style = document["style"]
        self.shield = shield

    def widget(self, widget: Mapping[str, Any], section: Mapping[str, Any], nested: bool) -> str:
        variants = widget.get("variants") or []
        if not variants:
            return self._element(widget, section, nested)
        key = widget["key"]
        pieces = []
        for index, content in enumerate([widget, *({**widget, **v} for v in variants)]):
            pieces.append(f"<mj-raw><!--tdgw:{key}:{index}--></mj-raw>")
            pieces.append(self._element(content, section, nested))
            pieces.append(f"<mj-raw><!--/tdgw:{key}:{index}--></mj-raw>")
        return "".join(pieces)

    def _element(self, widget: Mapping[str, Any], section: Mapping[str, Any], nested: bool) -> str:
        side = COLUMN_PAD if nested else PAD
        classes = "tdg-in-column" if nested else "tdg-block"
        kind = widget["type"]
        text_color = section["text_color"] or self.style["text"]
        if kind == "text":
            size, height = SIZES[widget["size"]]
            color = text_color
            if widget["size"] == "small" and not section["text_color"]:
                color = MUTED
            return (
                f'<mj-text align="{widget["align"]}" font-size="{size}" line-height="{height}"'
                f' color="{color}" padding="8px {side}"'
                f' css-class="{classes} tdg-text tdg-s-{section["name"]}">'
                f"{self.shield.hide(widget['html'])}</mj-text>"
            )
        if kind == "image":
            attrs = [
                f'src="{_attr(widget["src"], self.shield)}"',
                f'alt="{_attr(widget["alt"], self.shield)}"',
                f'align="{widget["align"]}"',
                f'padding="8px {side}"',
                f'css-class="{classes}"',
            ]
            if widget["link"]:
                attrs.append(f'href="{_attr(widget["link"], self.shield)}"')
            if widget["width"]:
                attrs.append(f'width="{widget["width"]}px"')
            else:
                attrs.append('fluid-on-mobile="true"')
            return f"<mj-image {' '.join(attrs)} />"
        if kind == "button":
            background = widget["background"] or self.style["accent"]
            color = widget["color"] or "#ffffff"
            return (
                f'<mj-button href="{_attr(widget["url"], self.shield)}"'
                f' background-color="{background}" color="{color}" align="{widget["align"]}"'
                f' padding="12px {side}" css-class="{classes}">'
                f"{self.shield.hide(escape_text(widget['label']))}</mj-button>"
            )
        if kind == "divider":
            color = widget["color"] or "#e4e7ec"
            return (
                f'<mj-divider border-color="{color}" border-width="{widget["thickness"]}px"'
                f' padding="16px {side}" css-class="{classes}" />'
            )
        # Raw HTML goes through untouched: one token in a text cell.
        return (
            f'<mj-text padding="8px {side}" color="{text_color}" css-class="{classes} tdg-html">'
            f"{self.shield.token(widget['html'])}</mj-text>"
        )

    def section(self, section: Mapping[str, Any]) -> str:
        background = section["background"] or self.style["content"]
        rows: list[str] = []
        run: list[str] = []

        def flush() -> None:
            if run:
                rows.append(f"<mj-section><mj-column>{''.join(run)}</mj-column></mj-section>")
                run.clear()

        for widget in section["widgets"]:
            if widget["type"] != "columns":
                run.append(self.widget(widget, section, nested=False))
                continue
            flush()
            columns = "".join(
                "<mj-column>"
                + "".join(self.widget(item, section, nested=True) for item in column)
                + "</mj-column>"
                for column in widget["columns"]
            )
            rows.append(f'<mj-section padding="0 20px">{columns}</mj-section>')
        flush()
        if not rows:
            return ""
        padding = section["padding"]
        return (
            f'<mj-wrapper background-color="{background}" padding="{padding}px 0"'
            f' css-class="tdg-section">{"".join(rows)}</mj-wrapper>'
        )


def to_mjml(document: Mapping[str, Any], shield: Shield) -> str:
    """The MJML source of ``document``; template syntax is shielded by ``shield``."""
    style = document["style"]
    writer = _Writer(document, shield)
    body = "".join(writer.section(section) for section in document["sections"])
    if not body:
        body = "<mj-section><mj-column><mj-text> </mj-text></mj-column></mj-section>"
    preheader = document.get("preheader") or ""
    preview = f"<mj-preview>{shield.hide(escape(preheader))}</mj-preview>" if preheader else ""
    font = escape(FONTS[style["font"]])
    return (
        '<mjml lang="en"><mj-head>'
        "<mj-attributes>"
        f'<mj-all font-family="{font}" />'
        '<mj-section padding="0" /><mj-column padding="0" /><mj-wrapper padding="0" />'
        '<mj-text font-size="16px" line-height="1.6" />'
        '<mj-button font-size="16px" font-weight="600" border-radius="6px"'
        ' inner-padding="13px 26px" />'
        "</mj-attributes>"
        f"<mj-style>{_css(style, document['sections'])}</mj-style>"
        f"{preview}</mj-head>"
        f'<mj-body background-color="{style["background"]}" width="{style["width"]}px">'
        f'<mj-section padding="10px 0" css-class="tdg-top"></mj-section>{body}'
        '<mj-section padding="10px 0"></mj-section></mj-body></mjml>'
    )
