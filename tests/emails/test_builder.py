# ruff: noqa: E501 (tables of cases read best one per line)
"""The email builder: starter templates through MJML and css-inline, the text widget's
sanitizer, document checks naming the path, widgets with variants, plain text (B12)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest

from tidings.emails import builder, rendering
from tidings.emails import widgets as email_widgets
from tidings.emails.builder import starters
from tidings.emails.builder.sanitize import sanitize
from tidings.errors import Invalid

BASE = "https://mail.example.org"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def _render(compiled: builder.CompiledDocument, contact: dict[str, Any] | None = None) -> Any:
    """Validate like saving does, then render one recipient like sending does."""
    rendering.validate(
        subject="S",
        html=compiled.html,
        plain_text=compiled.text,
        widgets=compiled.widgets,
        widget_texts=compiled.widget_texts,
    )
    prepared, prepared_widgets, found = email_widgets.prepare(
        compiled.html, compiled.widgets, compiled.widget_texts
    )
    email = rendering.compile_email(
        subject="S", prepared_html=prepared, plain_text=compiled.text, widgets=prepared_widgets
    )
    message = rendering.render(
        email,
        contact or dict(rendering.SAMPLE_CONTACT),
        lambda position, _url: f"https://t.example/c/{position}",
    )
    return message, found


def _doc(*widgets: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return builder.normalize({"sections": [{"name": "body", "widgets": list(widgets)}], **extra})


# -- starter templates ----------------------------------------------------------------


@pytest.mark.parametrize("name", starters.NAMES)
def test_each_starter_compiles_to_responsive_inlined_html(name: str) -> None:
    starter = starters.starter(name, BASE)
    assert starter.document["template"] == name
    compiled = builder.compile_document(starter.document)
    html = compiled.html
    parsed = _parse(html)

    # MJML made a responsive table layout, inlined, media queries kept in a style tag.
    assert html.startswith("<!DOCTYPE html>")
    style_tags = re.findall(r"<style[^>]*>(.*?)</style>", html, re.S)
    assert any("@media only screen and (max-width:479px)" in css for css in style_tags)
    assert not any(".tdg-text p {" in css for css in style_tags)  # plain rules inlined
    assert "<mj-" not in html and "<link" not in html
    assert any(tag == "table" and attrs.get("role") == "presentation" for tag, attrs in parsed.tags)

    # Every widget's content is there, every image has its alt text, no placeholder left.
    text = " ".join("".join(parsed.text).split())
    for widget in builder.walk(starter.document):
        if widget["type"] == "text":
            for fragment in re.findall(r">([^<>{}]{4,})<", widget["html"]):
                assert " ".join(fragment.split()) in text, fragment
        elif widget["type"] == "button":
            assert widget["label"] in text
            assert any(attrs.get("href") == widget["url"] for tag, attrs in parsed.tags)
        elif widget["type"] == "image":
            assert any(
                tag == "img" and attrs.get("alt") == widget["alt"] for tag, attrs in parsed.tags
            )
    images = [attrs for tag, attrs in parsed.tags if tag == "img"]
    assert all(attrs.get("alt") for attrs in images)
    assert all(str(attrs["src"]).startswith(f"{BASE}/static/builder/") for attrs in images)
    assert "widget(" not in html and compiled.widgets == {}

    # It renders for a recipient: merge fields applied, every button a tracked link.
    message, found = _render(compiled)
    assert "{{" not in message.html and "Sample" in message.html
    buttons = [w for w in builder.walk(starter.document) if w["type"] == "button"]
    tracked = {link.url for link in found}
    assert {b["url"] for b in buttons} <= tracked
    assert len(re.findall(r'href="https://t\.example/c/\d+"', message.html)) == len(found)


def test_starters_keep_their_pictures_on_the_instance() -> None:
    urls = {
        w["src"]
        for s in starters.starters(BASE)
        for w in builder.walk(s.document)
        if w["type"] == "image"
    }
    from tidings.web.pages import STATIC_DIR

    for url in urls:
        assert (STATIC_DIR / url.removeprefix(f"{BASE}/static/")).is_file(), url


def test_an_unknown_starter_is_not_found() -> None:
    with pytest.raises(Exception, match="no starter template named 'nope'"):
        starters.starter("nope", BASE)


# -- the text widget's sanitizer ------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Hello", "<p>Hello</p>"),
        ("<b>bold</b> and <i>it</i>", "<p><strong>bold</strong> and <em>it</em></p>"),
        ("<div>one</div><div>two<br></div>", "<p>one</p>\n<p>two</p>"),
        ('<p onclick="x()" style="color:red">hi</p>', "<p>hi</p>"),
        ("<script>alert(1)</script><p>ok</p>", "<p>ok</p>"),
        ("<style>p{}</style><iframe src=x>in</iframe>ok", "<p>ok</p>"),
        ('<a href="javascript:alert(1)">x</a>', "<p>x</p>"),
        ('<a href="https://e.com/?a=1&b=2" target="_blank">e</a>', None),
        ('<a href="{{ contact.fields.url }}">mine</a>', '<p><a href="{{ contact.fields.url }}">mine</a></p>'),
        ("<h1>T</h1><ul><li>a</li><li><p>b</p></li></ul>", "<h1>T</h1>\n<ul><li>a</li><li>b</li></ul>"),
        ('Hi {{ contact.first_name or "there" }}', '<p>Hi {{ contact.first_name or "there" }}</p>'),
        ("{% if x %}shown{% endif %} {# no #}", "<p>&#123;% if x %}shown&#123;% endif %} &#123;# no #}</p>"),
        ("a &lt;b&gt; &amp; c", "<p>a &lt;b&gt; &amp; c</p>"),
        ("<p><br></p><p> </p>", ""),
        ("<img src=x onerror=alert(1)>text", "<p>text</p>"),
    ],
)  # fmt: skip
def test_text_widgets_keep_a_safe_subset(source: str, expected: str | None) -> None:
    result = sanitize(source)
    if expected is None:
        assert result == '<p><a href="https://e.com/?a=1&amp;b=2">e</a></p>'
    else:
        assert result == expected


def test_typed_template_syntax_shows_as_typed_and_never_runs() -> None:
    compiled = builder.compile_document(
        _doc({"key": "t", "type": "text", "html": "Use {% raw %} and {{ 7 * 6 }}, {#x#}"})
    )
    message, _ = _render(compiled)
    assert "Use {% raw %} and 42, {#x#}" in "".join(_parse(message.html).text)
    assert "Use {% raw %} and 42, {#x#}" in message.text


# -- the document: checks naming the path ---------------------------------------------


@pytest.mark.parametrize(
    ("widget", "message"),
    [
        ({"key": "i", "type": "image", "src": "https://e.com/a.png"}, r"widgets\[0\]\.alt: is required"),
        ({"key": "i", "type": "image", "src": "javascript:x", "alt": "a"}, r"widgets\[0\]\.src: must start with"),
        ({"key": "b", "type": "button", "label": "Go", "url": "ftp://x"}, r"widgets\[0\]\.url: must start with"),
        ({"key": "b", "type": "button", "label": "", "url": "https://x"}, r"widgets\[0\]\.label: is required"),
        ({"key": "d", "type": "divider", "color": "red"}, r"widgets\[0\]\.color: must be a colour"),
        ({"key": "Bad Key", "type": "divider"}, r"widgets\[0\]\.key: a widget key is"),
        ({"key": "x", "type": "video"}, r"widgets\[0\]\.type: must be one of"),
        ({"key": "c", "type": "columns", "columns": [[], [], [], []]}, r"widgets\[0\]\.columns: must be a list of 2 or 3"),
        (
            {"key": "c", "type": "columns", "columns": [[{"key": "n", "type": "columns", "columns": [[], []]}], []]},
            r"widgets\[0\]\.columns\[0\]\[0\]\.type: columns cannot be placed inside columns",
        ),
        (
            {"key": "t", "type": "text", "html": "x", "variants": [{"condition": {"type": "nope"}}]},
            r"widgets\[0\]\.variants\[0\]\.condition\.type: unknown condition type 'nope'",
        ),
        ({"key": "t", "type": "text", "html": "x", "variants": [{"html": "y"}]}, r"widgets\[0\]\.variants\[0\]\.condition: is required"),
    ],
)  # fmt: skip
def test_bad_documents_are_refused_naming_the_path(widget: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid, match=r"builder\.sections\[0\]\." + message):
        _doc(widget)


def test_keys_are_unique_in_a_document() -> None:
    with pytest.raises(Invalid, match=r"widgets\[1\]\.key: the key 't' is used by another"):
        _doc({"key": "t", "type": "divider"}, {"key": "t", "type": "divider"})


# -- widgets with variants ------------------------------------------------------------

CLICKED = {"type": "clicked_email", "url_contains": "/pricing", "within_days": 30}


def test_a_widget_with_variants_becomes_a_placeholder_and_stored_widgets() -> None:
    document = _doc(
        {"key": "intro", "type": "text", "html": "<p>Before</p>"},
        {
            "key": "offer",
            "type": "button",
            "label": "See plans",
            "url": "https://example.com/plans",
            "variants": [{"condition": CLICKED, "label": "Upgrade now"}],
        },
        {"key": "outro", "type": "text", "html": "<p>After</p>"},
    )
    compiled = builder.compile_document(document)
    assert compiled.html.count('{{ widget("offer") }}') == 1
    assert "See plans" not in compiled.html and "Upgrade now" not in compiled.html
    offer = compiled.widgets["offer"]
    assert "See plans" in offer["html"] and 'href="https://example.com/plans"' in offer["html"]
    [variant] = offer["variants"]
    assert variant["condition"] == CLICKED and "Upgrade now" in variant["html"]
    assert compiled.text == ('Before\n\n{{ widget("offer") }}\n\nAfter\n')
    assert compiled.widget_texts == {
        "offer": {
            "text": "See plans: https://example.com/plans",
            "variants": ["Upgrade now: https://example.com/plans"],
        }
    }

    # Rendered, the default shows, in order; its link is a tracked position of its own.
    message, found = _render(compiled)
    assert message.html.index("Before") < message.html.index("See plans")
    assert message.html.index("See plans") < message.html.index("After")
    assert "Upgrade now" not in message.html
    assert [link.url for link in found] == ["https://example.com/plans"] * 2
    assert "See plans: https://t.example/c/1" in message.text


# -- plain text -----------------------------------------------------------------------


def test_plain_text_follows_the_widgets() -> None:
    document = _doc(
        {
            "key": "t",
            "type": "text",
            "html": '<h1>Big news</h1><p>Read <a href="https://e.com/a">this</a>.</p>'
            "<ol><li>one</li><li>two</li></ol>",
        },
        {"key": "i", "type": "image", "src": "https://e.com/i.png", "alt": "A chart"},
        {"key": "d", "type": "divider"},
        {
            "key": "c",
            "type": "columns",
            "columns": [
                [{"key": "b", "type": "button", "label": "Go", "url": "https://e.com/go"}],
                [{"key": "t2", "type": "text", "html": "<h3>Side</h3>"}],
            ],
        },
        {"key": "h", "type": "html", "html": "<p>Raw <b>{{ contact.first_name }}</b></p>"},
    )
    assert builder.plain_text(document) == (
        "Big news\n========\n\nRead this (https://e.com/a).\n\n1. one\n2. two\n\n"
        "[A chart]\n\n------------------------\n\nGo: https://e.com/go\n\nSide\n----\n\n"
        "Raw {{ contact.first_name }}\n"
    )
    message, _ = _render(builder.compile_document(document))
    assert "Raw Sample" in message.text
    assert "Go: https://t.example/c/" in message.text


# -- widgets in hand-written HTML emails ----------------------------------------------


def test_widgets_in_an_html_email_render_with_merge_fields_and_tracked_links() -> None:
    widgets = email_widgets.normalize(
        {
            "hero": {
                "html": '<p>Hi {{ contact.first_name }}, <a href="https://e.com/p?u={{ contact.id }}">plans</a></p>',
                "variants": [{"condition": CLICKED, "html": "<p>Not yet chosen</p>"}],
            }
        }
    )
    html = '<p><a href="https://e.com/top">Top</a></p>{{ widget("hero") }}<p>End</p>'
    found = rendering.validate(subject="S", html=html, plain_text=None, widgets=widgets)
    assert [(link.position, link.url, link.personalized) for link in found] == [
        (1, "https://e.com/top", False),
        (2, "https://e.com/p?u={{ contact.id }}", True),
    ]
    prepared, prepared_widgets, _ = email_widgets.prepare(html, widgets)
    compiled = rendering.compile_email(
        subject="S", prepared_html=prepared, plain_text=None, widgets=prepared_widgets
    )
    contact = rendering.contact_view(
        contact_id=7, email="ann@example.com", first_name="Ann", last_name=None, fields={}
    )
    message = rendering.render(
        compiled, contact, lambda position, _url: f"https://t.example/c/{position}"
    )
    assert "Hi Ann," in message.html and "Not yet chosen" not in message.html
    assert 'href="https://t.example/c/2"' in message.html
    assert message.destinations == {1: "https://e.com/top", 2: "https://e.com/p?u=7"}
    # The plain text made from the HTML carries the widget's text and its tracked link.
    assert "Hi Ann, plans (https://t.example/c/2)" in message.text


def test_render_processes_start_without_the_database_layer() -> None:
    # Render processes import rendering (and through it widgets); the condition language
    # widgets parse brings SQLAlchemy, which tripled their start-up time.
    import subprocess
    import sys

    probe = (
        "import sys, tidings.sending.renderer; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'mjml', 'css_inline')"
        " or m.startswith('tidings.conditions')))"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert found == "[]"
