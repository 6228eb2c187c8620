"""The plain-text part of an email, derived from its HTML so that it reads as prose.

Newsletters are laid out with tables; read as data tables they become rows of
``|`` and ``---`` or columns side by side. Here every table, row and cell is a
block, so each cell's content stands as its own paragraphs in reading order, and a
link reads ``text (URL)``. Converted with inscriptis (lxml), once per email.
"""

from __future__ import annotations

import re
from copy import copy

from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.html_properties import Display
from inscriptis.model.config import ParserConfig
from inscriptis.model.html_document_state import HtmlDocumentState
from inscriptis.model.html_element import HtmlElement
from inscriptis.model.tag import CustomHtmlTagHandlerMapping

_BLANK_LINES = re.compile(r"\n{3,}")
_TRAILING = re.compile(r"[ \t]+$", re.MULTILINE)
_STRAY_SPACE = re.compile(r"^ (?=\S)", re.MULTILINE)  # left by markup between blocks
_LAYOUT_TAGS = ("table", "thead", "tbody", "tfoot", "tr", "td", "th", "center")


def _link_start(state: HtmlDocumentState, attrs: dict[str, str]) -> None:
    state.link_target = (attrs.get("href") or "").strip()


def _link_end(state: HtmlDocumentState) -> None:
    target = state.link_target
    if target:
        state.tags[-1].write(f" ({target})")
    state.link_target = ""


def _image_start(state: HtmlDocumentState, attrs: dict[str, str]) -> None:
    # An image alone in a link (a logo, a banner) reads as its alt text.
    alt = (attrs.get("alt") or "").strip()
    if state.link_target and alt:
        state.tags[-1].write(alt)


def _no_op_start(_state: HtmlDocumentState, _attrs: dict[str, str]) -> None:
    return None


def _no_op_end(_state: HtmlDocumentState) -> None:
    return None


def _config() -> ParserConfig:
    css = copy(CSS_PROFILES["strict"])
    for tag in _LAYOUT_TAGS:
        css[tag] = HtmlElement(display=Display.block)
    css["h1"] = HtmlElement(display=Display.block, margin_before=1, margin_after=1)
    handlers = CustomHtmlTagHandlerMapping(
        start_tag_mapping={
            "a": _link_start,
            "img": _image_start,
            **dict.fromkeys(_LAYOUT_TAGS, _no_op_start),
        },
        end_tag_mapping={"a": _link_end, **dict.fromkeys(_LAYOUT_TAGS, _no_op_end)},
    )
    return ParserConfig(css=css, display_images=False, custom_html_tag_handler_mapping=handlers)


_CONFIG = _config()


def html_to_text(html: str) -> str:
    """Readable plain text: paragraphs apart, links as ``text (URL)``, no table art."""
    if not html.strip():
        return ""
    text = get_text(html, _CONFIG)
    text = _STRAY_SPACE.sub("", _TRAILING.sub("", text))
    return _BLANK_LINES.sub("\n\n", text).strip() + "\n"
