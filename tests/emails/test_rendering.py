"""Per-recipient rendering: merge fields, the sandbox, errors at save time, plain text
with tracked links (B12, B15, SPEC "Merge fields")."""

from __future__ import annotations

import re
from typing import Any

import pytest
from jinja2 import Template

from tidings.emails import links, rendering
from tidings.emails.sandbox import BoundedTemplate, TemplateLimitError
from tidings.errors import Invalid

TRACKED = re.compile(r"https://t\.example/c/(\d+)")


def _contact(
    first_name: str | None = "Ann",
    last_name: str | None = "Lee",
    fields: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return rendering.contact_view(
        contact_id=7,
        email="ann@example.com",
        first_name=first_name,
        last_name=last_name,
        fields=fields,
    )


def _render(
    html: str,
    contact: dict[str, Any] | None = None,
    *,
    subject: str = "Hello {{ contact.first_name }}",
    plain_text: str | None = None,
) -> rendering.RenderedMessage:
    """Validate like saving does, compile like sending does, render one recipient."""
    rendering.validate(subject=subject, html=html, plain_text=plain_text)
    prepared, _ = links.prepare(html)
    compiled = rendering.compile_email(
        subject=subject, prepared_html=prepared, plain_text=plain_text
    )
    return rendering.render(
        compiled, contact or _contact(), lambda position, _url: f"https://t.example/c/{position}"
    )


# -- merge fields -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_name", "expected"), [("Ann", "Hi Ann!"), (None, "Hi there!"), ("", "Hi there!")]
)
def test_merge_field_with_fallback(first_name: str | None, expected: str) -> None:
    message = _render(
        '<p>Hi {{ contact.first_name or "there" }}!</p>',
        _contact(first_name=first_name),
        subject='Hi {{ contact.first_name or "there" }}!',
    )
    assert message.subject == expected
    assert f"<p>{expected}</p>" in message.html
    assert expected in message.text


def test_custom_fields_missing_fields_and_nested_fallbacks() -> None:
    html = (
        "<p>{{ contact.fields.company }}|{{ contact.fields.missing }}|"
        '{{ contact.fields.missing.deeper or "none" }}|{{ contact.last_name }}|'
        "{{ contact.email }}</p>"
    )
    message = _render(html, _contact(fields={"company": "Acme"}))
    assert "<p>Acme||none|Lee|ann@example.com</p>" in message.html


def test_conditions_and_filters_work_in_the_sandbox() -> None:
    html = (
        "{% if contact.fields.plan == 'pro' %}<p>Pro</p>{% else %}<p>Free</p>{% endif %}"
        "<p>{{ contact.first_name | upper }} {{ contact.fields.tags | join(', ') }}</p>"
    )
    message = _render(html, _contact(fields={"plan": "pro", "tags": ["a", "b"]}))
    assert "<p>Pro</p>" in message.html and "<p>ANN a, b</p>" in message.html


def test_html_escapes_merged_values_subject_and_text_do_not() -> None:
    message = _render(
        "<p>{{ contact.first_name }}</p>",
        _contact(first_name="<b>Ann</b> & Co"),
        subject="Hi {{ contact.first_name }}",
    )
    assert "<p>&lt;b&gt;Ann&lt;/b&gt; &amp; Co</p>" in message.html
    assert message.subject == "Hi <b>Ann</b> & Co"
    assert "<b>Ann</b> & Co" in message.text


def test_subject_is_one_line() -> None:
    message = _render("<p>x</p>", _contact(first_name="Ann\r\nBcc: evil@example.com"))
    assert "\n" not in message.subject and "\r" not in message.subject
    assert message.subject == "Hello Ann Bcc: evil@example.com"


# -- the sandbox and errors at save time ----------------------------------------------

ATTACKS = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ contact.__class__.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ contact | attr('__class__') }}",
    "{{ '{0.__class__}'.format(contact) }}",
    "{{ contact.fields.update({'x': 1}) }}",
    "{{ contact.fields.__setitem__('x', 1) }}",
]


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize("part", ["subject", "html", "plain_text"])
def test_sandbox_escapes_are_invalid_when_saving(part: str, attack: str) -> None:
    parts: dict[str, Any] = {"subject": "Hi", "html": "<p>Hi</p>", "plain_text": None}
    parts[part] = f"<p>{attack}</p>" if part == "html" else attack
    with pytest.raises(Invalid) as raised:
        rendering.validate(**parts)
    assert str(raised.value.detail).startswith(f"{part}:")


@pytest.mark.parametrize(
    ("part", "source"),
    [
        ("subject", "Hi {{ contact.first_name "),
        ("html", "<p>{% if contact.first_name %}unclosed</p>"),
        ("html", "<p>{{ contact.first_name | no_such_filter }}</p>"),
        ("plain_text", "Hi {% for %}"),
    ],
)
def test_template_syntax_errors_name_the_part(part: str, source: str) -> None:
    parts: dict[str, Any] = {"subject": "Hi", "html": "<p>Hi</p>", "plain_text": None}
    parts[part] = source
    with pytest.raises(Invalid) as raised:
        rendering.validate(**parts)
    detail = str(raised.value.detail)
    assert detail.startswith(f"{part}:"), detail
    assert "template error" in detail or "cannot be rendered" in detail


def test_empty_subject_is_invalid() -> None:
    with pytest.raises(Invalid, match="subject"):
        rendering.validate(subject="  ", html="<p>x</p>", plain_text=None)


def test_validate_returns_the_link_positions() -> None:
    found = rendering.validate(
        subject="s",
        html='<a href="https://example.com/a">a</a><a href="mailto:x@example.com">m</a>',
        plain_text=None,
    )
    assert [(f.position, f.url) for f in found] == [(1, "https://example.com/a")]


# -- plain text -----------------------------------------------------------------------

LINKS_HTML = (
    "<html><body><h1>News for {{ contact.first_name }}</h1>"
    '<p>See <a href="https://example.com/pricing?plan=pro&amp;ref=mail">pricing</a>'
    ' and <a href="https://example.com/blog">the blog</a>.</p>'
    '<p><a href="https://example.com/pricing?plan=pro&amp;ref=mail">Pricing again</a></p>'
    '<p><a href="https://example.com/u/{{ contact.id }}">Your page</a></p>'
    '<p><a href="mailto:hello@example.com">Mail us</a></p></body></html>'
)


def test_plain_text_from_html_carries_each_tracked_link_and_merge_fields() -> None:
    message = _render(LINKS_HTML)
    assert TRACKED.findall(message.html) == ["1", "2", "3", "4"]
    assert TRACKED.findall(message.text) == ["1", "2", "3", "4"]
    assert "News for Ann" in message.text
    assert "example.com/pricing" not in message.text  # destinations only via tracking
    assert "<a " not in message.text and "<p>" not in message.text
    assert "mailto:hello@example.com" in message.text
    assert message.destinations == {
        1: "https://example.com/pricing?plan=pro&ref=mail",
        2: "https://example.com/blog",
        3: "https://example.com/pricing?plan=pro&ref=mail",
        4: "https://example.com/u/7",
    }


def test_given_plain_text_gets_its_urls_tracked() -> None:
    message = _render(
        LINKS_HTML,
        plain_text=(
            "Hi {{ contact.first_name }}, see https://example.com/blog and\n"
            "https://example.com/pricing?plan=pro&ref=mail but not https://example.com/other"
        ),
    )
    assert message.text == (
        "Hi Ann, see https://t.example/c/2 and\n"
        "https://t.example/c/1 but not https://example.com/other"
    )


def test_given_plain_text_url_before_punctuation_is_tracked() -> None:
    message = _render(
        LINKS_HTML, plain_text="Read https://example.com/blog, or https://example.com/blog."
    )
    assert message.text == "Read https://t.example/c/2, or https://t.example/c/2."


def test_plain_text_when_the_template_cannot_be_converted_ahead() -> None:
    # A construct split across a dropped element forces per-recipient conversion.
    html = (
        "<style>{% if contact.first_name %}</style><p>Hi {{ contact.first_name }}</p>"
        '{% endif %}<p><a href="https://example.com/x">x</a></p>'
    )
    prepared, _ = links.prepare(html)
    compiled = rendering.compile_email(subject="s", prepared_html=prepared, plain_text=None)
    assert compiled.text_mode == "convert"
    message = rendering.render(compiled, _contact(), lambda p, _u: f"https://t.example/c/{p}")
    assert "Hi Ann" in message.text
    assert TRACKED.findall(message.text) == ["1"]


def test_uppercase_href_is_tracked_in_the_plain_text_too() -> None:
    message = _render('<p><A HREF="https://example.com/up">up</A></p>')
    assert TRACKED.findall(message.html) == ["1"]
    assert TRACKED.findall(message.text) == ["1"]


def test_preview_applies_merge_fields_and_keeps_links_as_written() -> None:
    prepared, _ = links.prepare(LINKS_HTML)
    compiled = rendering.compile_email(
        subject="Hi {{ contact.first_name }}", prepared_html=prepared, plain_text=None
    )
    preview = rendering.render_preview(compiled, _contact())
    assert preview.subject == "Hi Ann"
    assert 'href="https://example.com/u/7"' in preview.html
    assert links.MARKER not in preview.html
    assert "t.example" not in preview.html + preview.text


def test_templates_render_many_recipients_independently() -> None:
    prepared, _ = links.prepare(LINKS_HTML)
    compiled = rendering.compile_email(
        subject="Hi {{ contact.first_name }}", prepared_html=prepared, plain_text=None
    )
    seen = []
    for index in range(3):
        contact = rendering.contact_view(
            contact_id=index,
            email=f"p{index}@example.com",
            first_name=f"P{index}",
            last_name=None,
            fields=None,
        )
        message = rendering.render(compiled, contact, lambda p, _u, i=index: f"https://t/{i}/{p}")  # type: ignore[misc]
        seen.append((message.subject, message.destinations[4], message.text.count(f"t/{index}/")))
    assert seen == [
        ("Hi P0", "https://example.com/u/0", 4),
        ("Hi P1", "https://example.com/u/1", 4),
        ("Hi P2", "https://example.com/u/2", 4),
    ]


def test_a_template_sees_the_same_globals_and_variables_as_with_jinja_alone() -> None:
    """Contexts built from globals read once hold what Jinja's own would: the
    environment's bounded globals, the template's own, the variables over both."""
    source = "{{ range(3)|list }} {{ extra }} {{ shadowed }} {{ contact.first_name }}"
    template = rendering._HTML_ENV.from_string(source, globals={"extra": 1, "shadowed": "g"})
    assert isinstance(template, BoundedTemplate)
    variables = {"contact": {"first_name": "<P>"}, "shadowed": "v"}
    # Twice: the second render reuses what the first read.
    ours = [template.new_context(dict(variables)).get_all() for _ in range(2)]
    jinjas = Template.new_context(template, dict(variables)).get_all()
    assert ours[0] == ours[1] == jinjas
    assert template.render(variables) == "[0, 1, 2] 1 v &lt;P&gt;"
    assert template.render() == "[0, 1, 2] 1 g "
    # The environment's range is the bounded one.
    with pytest.raises(TemplateLimitError):
        rendering._HTML_ENV.from_string("{{ range(n)|length }}").render(n=10**6)
