"""Compile a builder document: MJML to HTML (mjml-python), CSS inlined (css-inline,
``@media`` rules kept in a style tag), merge fields put back, and the HTML of every
widget with variants cut out into the email's widgets, leaving
``{{ widget("key") }}`` in its place."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import css_inline
import mjml

from tidings.emails.builder import document as doc
from tidings.emails.builder.mjml import Shield, to_mjml
from tidings.emails.builder.text import document_text
from tidings.errors import Invalid

_INLINER = css_inline.CSSInliner(
    keep_at_rules=True, load_remote_stylesheets=False, keep_link_tags=False
)


@dataclass(frozen=True)
class CompiledDocument:
    """What a builder document compiles to, ready to store in the email."""

    html: str
    text: str
    widgets: dict[str, dict[str, Any]]  # {key: {html, variants: [{condition, html}]}}
    widget_texts: dict[str, dict[str, Any]]  # {key: {text, variants: [text]}}


def _cut_widgets(
    html: str, document: Mapping[str, Any], shield: Shield
) -> tuple[str, dict[str, dict[str, Any]]]:
    widgets: dict[str, dict[str, Any]] = {}
    for widget in doc.walk(document):
        variants = widget.get("variants") or []
        if not variants:
            continue
        key = widget["key"]
        fragments = []
        for index in range(len(variants) + 1):
            match = re.search(
                f"<!--tdgw:{key}:{index}-->(.*?)<!--/tdgw:{key}:{index}-->", html, re.DOTALL
            )
            if match is None:
                raise Invalid(f"builder: widget {key!r} was lost when compiling the layout")
            fragments.append(shield.restore(match.group(1)))
        last = len(variants)
        span = re.search(f"<!--tdgw:{key}:0-->.*?<!--/tdgw:{key}:{last}-->", html, re.DOTALL)
        assert span is not None
        html = f'{html[: span.start()]}{{{{ widget("{key}") }}}}{html[span.end() :]}'
        widgets[key] = {
            "html": fragments[0],
            "variants": [
                {"condition": variant["condition"], "html": fragments[index + 1]}
                for index, variant in enumerate(variants)
            ],
        }
    return html, widgets


def compile_document(document: Mapping[str, Any]) -> CompiledDocument:
    """Compile a normalized document (``document.normalize``) for storing."""
    shield = Shield()
    source = to_mjml(document, shield)
    try:
        html = mjml.mjml2html(source, disable_comments=False, fonts={})
        html = _INLINER.inline(html)
    except (ValueError, RuntimeError) as exc:
        raise Invalid(f"builder: the layout could not be compiled: {exc}") from exc
    html, widgets = _cut_widgets(html, document, shield)
    html = shield.restore(html)
    text, widget_texts = document_text(document)
    return CompiledDocument(html=html, text=text, widgets=widgets, widget_texts=widget_texts)
