"""The click map: an email rendered for a sample contact, each link marked with its clicks.

The result is a whole HTML document meant for a sandboxed ``<iframe srcdoc>``: scripts
are stripped, links stay untracked, and every badge is built from escaped text only.
"""

from __future__ import annotations

import re
from html import escape

from tidings.emails import rendering
from tidings.emails.links import MARKER
from tidings.emails.models import Email
from tidings.stats.schemas import LinkFigures

_SCRIPT_RE = re.compile(r"<script\b.*?(?:</script\s*>|$)", re.IGNORECASE | re.DOTALL)
_REFRESH_RE = re.compile(r"<meta\b[^>]*http-equiv\s*=\s*[\"']?refresh[^>]*>", re.IGNORECASE)
_ANCHOR_RE = re.compile(r"<a\b[^>]*?\s" + MARKER + r"""="(\d+)"[^>]*>""", re.IGNORECASE)
_CLOSE_A_RE = re.compile(r"</a\s*>", re.IGNORECASE)
_HEAD_RE = re.compile(r"<head\b[^>]*>", re.IGNORECASE)

STYLE = (
    "<style>"
    f"a[{MARKER}]{{outline:2px solid rgba(47,91,211,.45);outline-offset:2px;border-radius:2px}}"
    ".tdg-badge{display:inline-block;margin:0 .3em;padding:.05em .5em;border-radius:999px;"
    "background:#2f5bd3;color:#fff;font:600 12px/1.5 system-ui,sans-serif;"
    "text-decoration:none;white-space:nowrap;vertical-align:middle}"
    ".tdg-badge.zero{background:#8a93a6}"
    "</style>"
)


def strip_scripts(html: str) -> str:
    """Remove script elements and refresh redirects (the frame is sandboxed as well)."""
    return _REFRESH_RE.sub("", _SCRIPT_RE.sub("", html))


def badge(position: int, figures: LinkFigures | None, clicks_all: int) -> str:
    """The escaped badge shown after one link: clicks and share of all human clicks."""
    clicks = figures.clicks_total if figures else 0
    unique = figures.clicks_unique if figures else 0
    share = round(clicks * 100 / clicks_all) if clicks_all else 0
    url = figures.url if figures else ""
    title = f"Link {position}: {url} — {clicks} clicks, {unique} unique, {share}% of all clicks"
    text = f"{clicks} click{'' if clicks == 1 else 's'} · {share}%"
    zero = " zero" if clicks == 0 else ""
    return (
        f'<span class="tdg-badge{zero}" data-position="{position}" '
        f'title="{escape(title, quote=True)}">{escape(text)}</span>'
    )


def inject_badges(html: str, links: list[LinkFigures]) -> str:
    """Put a badge after every marked link of ``html`` (rendered with markers kept)."""
    by_position = {item.position: item for item in links}
    clicks_all = sum(item.clicks_total for item in links)
    pieces: list[str] = []
    cursor = 0
    for match in _ANCHOR_RE.finditer(html):
        if match.start() < cursor:
            continue  # inside a link already handled (malformed nesting)
        position = int(match.group(1))
        close = _CLOSE_A_RE.search(html, match.end())
        end = close.end() if close else match.end()
        pieces.append(html[cursor:end])
        pieces.append(badge(position, by_position.get(position), clicks_all))
        cursor = end
    pieces.append(html[cursor:])
    marked = "".join(pieces)
    head = _HEAD_RE.search(marked)
    if head:
        return marked[: head.end()] + STYLE + marked[head.end() :]
    return STYLE + marked


def render_sample(email: Email) -> str:
    """The email body for a sample contact, link position markers kept."""
    compiled = rendering.compile_email(
        subject=email.subject,
        prepared_html=email.prepared_html,
        plain_text=email.plain_text,
        widgets=email.prepared_widgets,
    )
    return rendering.render_html(compiled, rendering.SAMPLE_CONTACT)


def click_map(email: Email, links: list[LinkFigures]) -> str:
    """The document for the click map frame; a short notice if the email cannot render."""
    try:
        body = render_sample(email)
    except Exception as exc:  # noqa: BLE001 - a template that fails must not break the page
        return f"<p>This email cannot be rendered for a sample contact: {escape(str(exc))}</p>"
    return inject_badges(strip_scripts(body), links)
