"""Find the tracked links of an email and mark their positions in its template.

Each ``<a href>`` whose target is http(s), or a merge field that may render to one,
becomes one link position. The template is saved with a marker attribute
``data-tdg="N"`` in front of ``href``, so after per-recipient rendering every link
still says which position it is, whatever conditions or loops the template holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser

MARKER = "data-tdg"
_HREF_RE = re.compile(r"""(\s)href\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""", re.IGNORECASE)
_MERGE_RE = re.compile(r"{{.*?}}|{%.*?%}", re.DOTALL)
TRACKABLE_SCHEMES = ("http://", "https://")
# Links Tidings itself provides: never tracked as clicks (an unsubscribe is counted
# as an unsubscribe, not as a click on a link of the email; a confirmation link is
# the form's own signed link, which a scanner's fetch must not pass through).
_OWN_LINKS = re.compile(r"\s*{{\s*(unsubscribe_url|preferences_url|confirm_url)\s*}}\s*")


@dataclass(frozen=True)
class FoundLink:
    """One link position found in a template."""

    position: int
    url: str
    personalized: bool


def is_trackable(url: str) -> bool:
    """True for http(s) URLs: the only ones Tidings tracks or redirects to (B5)."""
    return url.strip().lower().startswith(TRACKABLE_SCHEMES)


def _template_may_track(url: str) -> bool:
    if is_trackable(url):
        return True
    # A merge field at the start may render to an http(s) URL; decided at render time.
    return url.lstrip().startswith("{{") and not _OWN_LINKS.fullmatch(url)


class _AnchorFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[int, int, str, str]] = []  # line, col, raw tag, href

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        href = next((v for k, v in attrs if k == "href" and v is not None), None)
        raw = self.get_starttag_text()
        if href is None or raw is None:
            return
        line, col = self.getpos()
        self.anchors.append((line, col, raw, href))


def _offsets(source: str) -> list[int]:
    starts = [0]
    for index, char in enumerate(source):
        if char == "\n":
            starts.append(index + 1)
    return starts


def prepare(source: str, *, first_position: int = 1) -> tuple[str, list[FoundLink]]:
    """Mark every trackable anchor of ``source``; returns the marked template and links.

    Positions count from ``first_position`` (an email's widgets continue its body's).
    """
    finder = _AnchorFinder()
    finder.feed(source)
    finder.close()
    line_starts = _offsets(source)
    pieces: list[str] = []
    links: list[FoundLink] = []
    cursor = 0
    for line, col, raw, href in finder.anchors:
        start = line_starts[line - 1] + col
        if source[start : start + len(raw)] != raw or not _template_may_track(href):
            continue
        match = _HREF_RE.search(raw)
        if match is None:
            continue
        position = first_position + len(links)
        marked = raw[: match.start()] + f' {MARKER}="{position}"' + raw[match.start() :]
        pieces.append(source[cursor:start])
        pieces.append(marked)
        cursor = start + len(raw)
        url = href.strip()
        links.append(
            FoundLink(position=position, url=url, personalized=bool(_MERGE_RE.search(url)))
        )
    pieces.append(source[cursor:])
    return "".join(pieces), links


# The marker is always written by ``prepare`` in lower case; only ``href`` keeps the
# author's case. A case-sensitive literal start lets the regex engine skip ahead to
# each marker instead of trying every position of a large body.
_MARKED_RE = re.compile(MARKER + r"""="(\d+)"\s+[hH][rR][eE][fF]\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""")


def rewrite(
    rendered: str, tracked_url: Callable[[int, str], str | None]
) -> tuple[str, dict[int, str]]:
    """Swap each marked href of a rendered body for its tracking URL.

    ``tracked_url(position, destination)`` returns the URL to put in the message, or
    None to leave the link as it is. Destinations that are not http(s) (a merge field
    that rendered to ``javascript:``, say) are never tracked (B5). Returns the new
    body and the destination of every tracked position, as rendered.
    """
    destinations: dict[int, str] = {}

    def swap(match: re.Match[str]) -> str:
        digits, value = match.group(1, 2)
        raw = value[1:-1] if value[:1] in {'"', "'"} else value
        destination = unescape(raw).strip()
        # ``is_trackable`` on an already stripped value.
        if not destination[:8].lower().startswith(TRACKABLE_SCHEMES):
            return "href=" + value
        position = int(digits)
        destinations.setdefault(position, destination)
        target = tracked_url(position, destination)
        if target is None:
            return "href=" + value
        return f'href="{target}"'

    return _MARKED_RE.sub(swap, rendered), destinations


def strip_markers(rendered: str) -> str:
    """Remove position markers (for previews and untracked rendering)."""
    return _MARKED_RE.sub(lambda m: f"href={m.group(2)}", rendered)
