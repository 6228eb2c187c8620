"""What a marketer writes in a text widget, reduced to a small, safe HTML subset.

Kept: paragraphs, headings (h1-h3), lists, line breaks, bold, italic, underline,
strike-through and links to http(s), mailto: and tel: addresses (or a merge field
that renders to one). Everything else is dropped (scripts, styles, frames with their
content) or unwrapped (spans, fonts, divs become paragraphs), and every attribute
but a link's ``href`` goes. Text is escaped, except merge fields (``{{ ... }}``),
which stay templates and are escaped when each message is rendered; other template
syntax (``{%``, ``{#``) is written as an entity, so it shows as typed and never runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape
from html.parser import HTMLParser

from tidings.errors import Invalid

BLOCKS = ("p", "h1", "h2", "h3")
LISTS = ("ul", "ol")
INLINE = ("strong", "em", "u", "s", "a", "br")
RENAME = {"b": "strong", "i": "em", "strike": "s", "del": "s", "div": "p", "h4": "h3", "h5": "h3"}
RENAME |= {"h6": "h3", "blockquote": "p", "section": "p", "article": "p", "header": "p"}
RENAME |= {"footer": "p", "pre": "p", "address": "p"}
DROP = {"script", "style", "iframe", "object", "embed", "template", "noscript", "svg", "math"}
DROP |= {"head", "title", "textarea", "select", "button", "form", "input", "img", "video"}
DROP |= {"audio", "canvas", "meta", "link", "base"}
VOID = {"br", "hr", "img", "input", "meta", "link", "base", "wbr", "area", "col", "source"}
SAFE_SCHEMES = ("http://", "https://", "mailto:", "tel:")
MERGE_RE = re.compile(r"{{.*?}}", re.DOTALL)
MAX_LENGTH = 50_000


@dataclass
class _Node:
    tag: str  # "" for text
    text: str = ""
    href: str = ""
    children: list[_Node] = field(default_factory=list)


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("#root")
        self.stack = [self.root]
        self.dropping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = RENAME.get(tag, tag)
        if tag in DROP:
            if tag not in VOID:
                self.dropping += 1
            return
        if self.dropping or tag in VOID - {"br"}:
            return
        node = _Node(tag)
        if tag == "a":
            node.href = next((v or "" for k, v in attrs if k == "href"), "").strip()
        self.stack[-1].children.append(node)
        if tag != "br":
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if RENAME.get(tag, tag) == "br" and not self.dropping:
            self.stack[-1].children.append(_Node("br"))

    def handle_endtag(self, tag: str) -> None:
        tag = RENAME.get(tag, tag)
        if tag in DROP:
            if tag not in VOID and self.dropping:
                self.dropping -= 1
            return
        if self.dropping:
            return
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index].tag == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.stack[-1].children.append(_Node("", text=data))


def safe_href(href: str) -> bool:
    """True for links a text widget may hold: http(s), mailto:, tel: or a merge field."""
    value = href.strip()
    return value.lower().startswith(SAFE_SCHEMES) or value.startswith("{{")


def escape_text(text: str) -> str:
    """Escape text for HTML, keeping merge fields as they are."""
    pieces: list[str] = []
    cursor = 0
    for match in MERGE_RE.finditer(text):
        pieces.append(_escape_plain(text[cursor : match.start()]))
        pieces.append(match.group(0))
        cursor = match.end()
    pieces.append(_escape_plain(text[cursor:]))
    return "".join(pieces)


def _escape_plain(text: str) -> str:
    return escape(text, quote=False).replace("{", "&#123;")


def escape_attribute(value: str) -> str:
    """Escape an attribute value, keeping merge fields (their double quotes become
    single quotes, which Jinja reads the same)."""
    pieces: list[str] = []
    cursor = 0
    for match in MERGE_RE.finditer(value):
        pieces.append(escape(value[cursor : match.start()], quote=True).replace("{", "&#123;"))
        field_text = match.group(0)
        if '"' in field_text:
            if "'" in field_text:
                raise Invalid(
                    "a merge field in a link or image address cannot use both kinds of quotes"
                )
            field_text = field_text.replace('"', "'")
        pieces.append(field_text)
        cursor = match.end()
    pieces.append(escape(value[cursor:], quote=True).replace("{", "&#123;"))
    return "".join(pieces)


def _is_block(node: _Node) -> bool:
    return node.tag in BLOCKS or node.tag in LISTS or node.tag == "li"


def _has_block(node: _Node) -> bool:
    return any(_is_block(child) or _has_block(child) for child in node.children if child.tag)


def _inline(nodes: list[_Node], in_link: bool = False) -> str:
    """Inline HTML for ``nodes``; blocks met inside are joined with line breaks."""
    pieces: list[str] = []
    for node in nodes:
        if not node.tag:
            pieces.append(escape_text(node.text))
        elif node.tag == "br":
            pieces.append("<br>")
        elif _is_block(node):
            inner = _inline(node.children, in_link)
            if inner.strip():
                if pieces and not pieces[-1].endswith("<br>"):
                    pieces.append("<br>")
                pieces.append(inner)
        elif node.tag == "a":
            inner = _inline(node.children, True)
            if in_link or not safe_href(node.href) or not inner.strip():
                pieces.append(inner)
            else:
                pieces.append(f'<a href="{escape_attribute(node.href)}">{inner}</a>')
        elif node.tag in INLINE:
            inner = _inline(node.children, in_link)
            if inner.strip():
                pieces.append(f"<{node.tag}>{inner}</{node.tag}>")
        else:
            pieces.append(_inline(node.children, in_link))
    return "".join(pieces)


def _has_text(html: str) -> bool:
    return bool(re.sub(r"<[^>]*>|&nbsp;|\s", "", html))


def _blocks(nodes: list[_Node]) -> list[str]:
    blocks: list[str] = []
    loose: list[_Node] = []

    def flush() -> None:
        inner = _inline(loose)
        if _has_text(inner):
            blocks.append(f"<p>{_trim(inner)}</p>")
        loose.clear()

    for node in nodes:
        if node.tag in BLOCKS and not _has_block(node):
            flush()
            inner = _inline(node.children)
            if _has_text(inner):
                blocks.append(f"<{node.tag}>{_trim(inner)}</{node.tag}>")
        elif node.tag in LISTS:
            flush()
            items = [
                _trim(_inline(child.children))
                for child in node.children
                if child.tag == "li" or (child.tag and child.tag not in LISTS)
            ]
            nested = [child for child in node.children if child.tag in LISTS]
            items += [item for sub in nested for item in _list_items(sub)]
            items = [item for item in items if _has_text(item)]
            if items:
                body = "".join(f"<li>{item}</li>" for item in items)
                blocks.append(f"<{node.tag}>{body}</{node.tag}>")
        elif node.tag in BLOCKS or node.tag == "li":
            flush()
            blocks.extend(_blocks(node.children))
        else:
            loose.append(node)
    flush()
    return blocks


def _list_items(node: _Node) -> list[str]:
    items: list[str] = []
    for child in node.children:
        if child.tag in LISTS:
            items.extend(_list_items(child))
        elif child.tag:
            items.append(_trim(_inline(child.children)))
    return items


def _trim(html: str) -> str:
    html = re.sub(r"^(\s|<br>)+", "", html)
    return re.sub(r"(\s|<br>)+$", "", html)


def sanitize(source: str) -> str:
    """The safe HTML subset of ``source`` (see the module docstring)."""
    if len(source) > MAX_LENGTH:
        raise Invalid(f"at most {MAX_LENGTH:,} characters")
    builder = _TreeBuilder()
    builder.feed(source.replace("\x00", ""))
    builder.close()
    return "\n".join(_blocks(builder.root.children))
