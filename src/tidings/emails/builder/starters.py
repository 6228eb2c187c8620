"""Starter templates: builder documents a marketer picks when creating an email.

They ship with Tidings as code (reviewed and versioned with it) rather than rows, and
an email copies its starter when created, so changing a starter never changes an
email. Their sample pictures are served from ``/static/builder/`` of the instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tidings.emails.builder.document import normalize
from tidings.errors import NotFound

STATIC = "TIDINGS_STATIC"
HELLO = '{{ contact.first_name or "there" }}'
FOOTER_TEXT = (
    "<p>Acme Inc. · 1 Example Street · Springfield</p>"
    "<p>You receive this email because you subscribed to news from Acme.</p>"
)


@dataclass(frozen=True)
class Starter:
    """One starter template."""

    name: str
    title: str
    description: str
    document: dict[str, Any]


def _text(key: str, html: str, **extra: Any) -> dict[str, Any]:
    return {"key": key, "type": "text", "html": html, **extra}


def _image(key: str, picture: str, alt: str, **extra: Any) -> dict[str, Any]:
    src = f"{STATIC}/builder/{picture}.jpg"
    return {"key": key, "type": "image", "src": src, "alt": alt, **extra}


def _button(key: str, label: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"key": key, "type": "button", "label": label, "url": url, **extra}


def _section(name: str, label: str, widgets: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"name": name, "label": label, "widgets": widgets, **extra}


def _footer(accent: str, background: str = "#f2f4f7") -> dict[str, Any]:
    return _section(
        "footer",
        "Footer",
        [_text("footer-text", FOOTER_TEXT, align="center", size="small")],
        background=background,
        link_color=accent,
        padding=16,
    )


def _newsletter() -> dict[str, Any]:
    accent = "#2563eb"
    return {
        "preheader": "Three things worth your time this month",
        "style": {"accent": accent},
        "sections": [
            _section(
                "header",
                "Header",
                [
                    _text("brand", "<h2>Acme News</h2>", align="center"),
                    _text(
                        "tagline",
                        "<p>Issue 12 · Ideas and updates from the Acme team</p>",
                        align="center",
                        size="small",
                    ),
                ],
                padding=28,
            ),
            _section(
                "hero",
                "Lead story",
                [
                    _image("hero-image", "newsletter-hero", "The Acme team at work"),
                    _text(
                        "intro",
                        f"<h1>Hello {HELLO}, here is what is new</h1>"
                        "<p>This month we rebuilt the dashboard from the ground up, opened"
                        " a second office and collected the questions you asked us most."
                        " Here is the short version.</p>",
                    ),
                    _button("read-more", "Read the full story", "https://example.com/blog"),
                ],
                padding=0,
            ),
            _section(
                "stories",
                "More stories",
                [
                    {"key": "story-divider", "type": "divider"},
                    {
                        "key": "stories-row",
                        "type": "columns",
                        "columns": [
                            [
                                _image("story-1-image", "newsletter-story-1", "A new dashboard"),
                                _text(
                                    "story-1",
                                    "<h3>A faster dashboard</h3><p>Reports open in under a"
                                    " second, even for the largest accounts."
                                    ' <a href="https://example.com/dashboard">See what'
                                    " changed</a></p>",
                                ),
                            ],
                            [
                                _image("story-2-image", "newsletter-story-2", "Our new office"),
                                _text(
                                    "story-2",
                                    "<h3>Hello, Lisbon</h3><p>Our second office opened in"
                                    " May. Come and say hello if you are in town."
                                    ' <a href="https://example.com/lisbon">Meet the team</a>'
                                    "</p>",
                                ),
                            ],
                        ],
                    },
                ],
            ),
            _footer(accent),
        ],
    }


def _announcement() -> dict[str, Any]:
    accent = "#7c3aed"
    return {
        "preheader": "Something new is here",
        "style": {"accent": accent, "font": "system"},
        "sections": [
            _section(
                "header",
                "Header",
                [_text("brand", "<h3>Acme</h3>", align="center")],
                padding=20,
            ),
            _section(
                "hero",
                "Announcement",
                [
                    _text(
                        "headline",
                        "<p>INTRODUCING</p><h1>Acme Projects</h1><p>Plan, share and ship"
                        " your work in one place, with everyone in the loop.</p>",
                        align="center",
                        size="large",
                    ),
                    _button(
                        "try-it",
                        "Try it free",
                        "https://example.com/projects",
                        background="#ffffff",
                        color=accent,
                    ),
                ],
                background=accent,
                text_color="#ffffff",
                link_color="#ffffff",
                padding=40,
            ),
            _section(
                "body",
                "Details",
                [
                    _image("hero-image", "announcement-hero", "Acme Projects on a laptop"),
                    _text(
                        "details",
                        f"<p>Hi {HELLO},</p><p>Today we are launching Acme Projects, the"
                        " tool our own team has used for a year to plan releases. It"
                        " brings your tasks, files and conversations together:</p>"
                        "<ul><li><strong>Boards and timelines</strong> for every team</li>"
                        "<li><strong>Comments that stay with the work</strong>, not in"
                        " your inbox</li><li><strong>Reports</strong> that write"
                        " themselves</li></ul><p>It is free for teams of up to ten.</p>",
                    ),
                    _button("learn-more", "See how it works", "https://example.com/tour"),
                ],
                padding=32,
            ),
            _footer(accent),
        ],
    }


def _offer() -> dict[str, Any]:
    accent = "#e11d48"
    return {
        "preheader": "20% off everything until Sunday",
        "style": {"accent": accent},
        "sections": [
            _section(
                "header",
                "Header",
                [_text("brand", "<h3>ACME STORE</h3>", align="center")],
                padding=20,
            ),
            _section(
                "hero",
                "Offer",
                [
                    _image("offer-image", "offer-hero", "The spring collection"),
                    _text(
                        "offer-text",
                        "<h1>20% off everything</h1><p>Our spring sale is on until Sunday"
                        f" midnight, {HELLO}. Use the code <strong>SPRING20</strong> at"
                        " checkout.</p>",
                        align="center",
                    ),
                    _button("shop", "Shop the sale", "https://example.com/sale"),
                ],
                padding=0,
            ),
            _section(
                "products",
                "Products",
                [
                    _text("picks", "<h2>Our picks for you</h2>", align="center"),
                    {
                        "key": "product-row",
                        "type": "columns",
                        "columns": [
                            [
                                _image(
                                    "product-1-image",
                                    "offer-product-1",
                                    "The Classic backpack in slate",
                                    link="https://example.com/p/classic",
                                ),
                                _text(
                                    "product-1",
                                    "<h3>The Classic</h3><p><s>€120</s> <strong>€96</strong></p>",
                                    align="center",
                                ),
                                _button("product-1-buy", "View", "https://example.com/p/classic"),
                            ],
                            [
                                _image(
                                    "product-2-image",
                                    "offer-product-2",
                                    "The Weekender bag in amber",
                                    link="https://example.com/p/weekender",
                                ),
                                _text(
                                    "product-2",
                                    "<h3>The Weekender</h3><p><s>€160</s> <strong>€128</strong>"
                                    "</p>",
                                    align="center",
                                ),
                                _button("product-2-buy", "View", "https://example.com/p/weekender"),
                            ],
                        ],
                    },
                ],
                padding=28,
            ),
            _footer(accent),
        ],
    }


def _note() -> dict[str, Any]:
    return {
        "preheader": "A quick note from Sam",
        "style": {
            "accent": "#1d4ed8",
            "font": "georgia",
            "background": "#ffffff",
            "width": 560,
        },
        "sections": [
            _section(
                "body",
                "Letter",
                [
                    _text(
                        "letter",
                        f"<p>Hi {HELLO},</p><p>I wanted to write to you myself. A year ago"
                        " we started Acme with a simple idea, and you were one of the first"
                        " people to try it. Thank you.</p><p>We are planning what comes"
                        " next and I would love to hear what you think. If you have five"
                        " minutes, just reply to this email: I read every answer.</p>"
                        "<p>Warmly,<br>Sam<br>Founder, Acme</p>",
                        size="large",
                    ),
                ],
                padding=32,
            ),
            _section(
                "footer",
                "Footer",
                [
                    {"key": "footer-divider", "type": "divider"},
                    _text(
                        "footer-text",
                        "<p>Acme Inc. · 1 Example Street · Springfield</p>",
                        size="small",
                    ),
                ],
                padding=8,
            ),
        ],
    }


def _event() -> dict[str, Any]:
    accent = "#0f766e"
    return {
        "preheader": "Join us on 14 June in Lisbon",
        "style": {"accent": accent, "font": "system"},
        "sections": [
            _section(
                "header",
                "Header",
                [_text("invited", "<p>YOU ARE INVITED</p>", align="center", size="small")],
                background="#134e4a",
                text_color="#ccfbf1",
                padding=16,
            ),
            _section(
                "hero",
                "Event",
                [
                    _image("event-image", "event-hero", "Acme Summit 2026"),
                    _text(
                        "event-title",
                        "<h1>Acme Summit 2026</h1><p>A day of talks, workshops and good"
                        f" company. We would love to see you there, {HELLO}.</p>",
                        align="center",
                    ),
                ],
                padding=0,
            ),
            _section(
                "details",
                "Details",
                [
                    {
                        "key": "when-where",
                        "type": "columns",
                        "columns": [
                            [
                                _text(
                                    "when",
                                    "<h3>When</h3><p>Sunday 14 June<br>9:30 to 17:00</p>",
                                    align="center",
                                )
                            ],
                            [
                                _text(
                                    "where",
                                    "<h3>Where</h3><p>LX Factory<br>Rua Rodrigues Faria 103,"
                                    " Lisbon</p>",
                                    align="center",
                                )
                            ],
                        ],
                    },
                    _button("register", "Save my seat", "https://example.com/summit"),
                    _text(
                        "agenda",
                        '<p>Seats are limited. <a href="https://example.com/summit/agenda">'
                        "Read the agenda</a></p>",
                        align="center",
                        size="small",
                    ),
                ],
                padding=28,
            ),
            _footer(accent),
        ],
    }


_STARTERS = (
    ("newsletter", "Newsletter", "A lead story with a picture, two more beside it.", _newsletter),
    ("announcement", "Announcement", "A bold headline, details, a call to action.", _announcement),
    ("offer", "Product offer", "A sale with a picture, a code and two products.", _offer),
    ("note", "Personal note", "A plain letter from a person: no pictures, no buttons.", _note),
    ("event", "Event invitation", "Date and place side by side, a button to register.", _event),
)  # fmt: skip


def _with_static(value: Any, static: str) -> Any:
    if isinstance(value, str):
        return value.replace(STATIC, static)
    if isinstance(value, list):
        return [_with_static(item, static) for item in value]
    if isinstance(value, dict):
        return {key: _with_static(item, static) for key, item in value.items()}
    return value


def _build(name: str, title: str, description: str, make: Any, base_url: str) -> Starter:
    static = base_url.rstrip("/") + "/static"
    document = normalize({**_with_static(make(), static), "template": name})
    return Starter(name, title, description, document)


def starters(base_url: str) -> list[Starter]:
    """Every starter template, its pictures served by the instance at ``base_url``."""
    return [_build(*entry, base_url) for entry in _STARTERS]


def starter(name: str, base_url: str) -> Starter:
    """One starter by name (a fresh copy), or ``NotFound``."""
    for entry in _STARTERS:
        if entry[0] == name:
            return _build(*entry, base_url)
    raise NotFound(f"no starter template named {name[:80]!r}")


NAMES = tuple(name for name, *_ in _STARTERS)
