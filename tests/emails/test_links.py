"""Link positions: marking a template's anchors and rewriting rendered hrefs (B4, B5)."""

from __future__ import annotations

import pytest

from tidings.emails.links import (
    MARKER,
    FoundLink,
    is_trackable,
    prepare,
    rewrite,
    strip_markers,
)


def _track(position: int, destination: str) -> str:
    return f"https://t.example/c/{position}"


def test_each_http_anchor_is_one_position_in_document_order() -> None:
    source = (
        '<p><a href="https://example.com/a">A</a> '
        '<a class="x" href="http://example.com/b" title="b">B</a></p>'
    )
    prepared, found = prepare(source)
    assert found == [
        FoundLink(position=1, url="https://example.com/a", personalized=False),
        FoundLink(position=2, url="http://example.com/b", personalized=False),
    ]
    assert prepared == (
        f'<p><a {MARKER}="1" href="https://example.com/a">A</a> '
        f'<a class="x" {MARKER}="2" href="http://example.com/b" title="b">B</a></p>'
    )


def test_same_url_twice_is_two_positions() -> None:
    source = '<a href="https://example.com/p">1</a><a href="https://example.com/p">2</a>'
    prepared, found = prepare(source)
    assert [(f.position, f.url) for f in found] == [
        (1, "https://example.com/p"),
        (2, "https://example.com/p"),
    ]
    body, destinations = rewrite(prepared, _track)
    assert body == '<a href="https://t.example/c/1">1</a><a href="https://t.example/c/2">2</a>'
    assert destinations == {1: "https://example.com/p", 2: "https://example.com/p"}


@pytest.mark.parametrize(
    "href",
    [
        "mailto:hello@example.com",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "tel:+15555550100",
        "#top",
        "/relative/path",
        "ftp://example.com/file",
        "",
    ],
)
def test_non_http_links_are_left_untouched(href: str) -> None:
    source = f'<p><a href="{href}">x</a></p>'
    prepared, found = prepare(source)
    assert found == []
    assert prepared == source
    assert not is_trackable(href)


def test_anchor_without_href_and_other_tags_are_ignored() -> None:
    source = (
        '<a name="top">top</a><link href="https://example.com/style.css">'
        '<img src="https://example.com/i.png"><area href="https://example.com/map">'
    )
    prepared, found = prepare(source)
    assert found == [] and prepared == source


def test_entities_in_urls_are_decoded_for_the_destination() -> None:
    source = '<a href="https://example.com/p?plan=pro&amp;ref=mail&#38;x=%20y">p</a>'
    prepared, found = prepare(source)
    assert found[0].url == "https://example.com/p?plan=pro&ref=mail&x=%20y"
    _, destinations = rewrite(prepared, _track)
    assert destinations == {1: "https://example.com/p?plan=pro&ref=mail&x=%20y"}


def test_quoting_styles_case_and_whitespace() -> None:
    source = (
        "<a href='https://example.com/single'>s</a>"
        "<a href=https://example.com/bare>b</a>"
        '<A HREF="HTTPS://EXAMPLE.COM/UPPER">u</A>'
        '<a\n  href = "  https://example.com/spaced  ">w</a>'
    )
    prepared, found = prepare(source)
    assert [f.url for f in found] == [
        "https://example.com/single",
        "https://example.com/bare",
        "HTTPS://EXAMPLE.COM/UPPER",
        "https://example.com/spaced",
    ]
    body, destinations = rewrite(prepared, _track)
    for position in range(1, 5):
        assert f'href="https://t.example/c/{position}"' in body
    assert MARKER not in body
    assert destinations[3] == "HTTPS://EXAMPLE.COM/UPPER"
    assert destinations[4] == "https://example.com/spaced"


def test_merge_fields_in_urls_are_personalized_positions() -> None:
    source = (
        '<a href="https://example.com/u/{{ contact.id }}?e={{ contact.email|urlencode }}">me</a>'
        '<a href="{{ contact.fields.site }}">site</a>'
        '<a href="https://example.com/static">static</a>'
    )
    prepared, found = prepare(source)
    assert [(f.position, f.personalized) for f in found] == [(1, True), (2, True), (3, False)]
    assert found[0].url == "https://example.com/u/{{ contact.id }}?e={{ contact.email|urlencode }}"
    # After rendering, each recipient's destination is what their message linked to.
    rendered = prepared.replace("{{ contact.id }}", "7").replace(
        "{{ contact.email|urlencode }}", "ann%40example.com"
    )
    rendered = rendered.replace("{{ contact.fields.site }}", "https://ann.example.org/")
    body, destinations = rewrite(rendered, _track)
    assert destinations == {
        1: "https://example.com/u/7?e=ann%40example.com",
        2: "https://ann.example.org/",
        3: "https://example.com/static",
    }
    assert "ann" not in body  # the message holds tracking URLs only


def test_merge_field_rendering_to_javascript_is_never_tracked() -> None:
    prepared, found = prepare('<a href="{{ contact.fields.site }}">site</a>')
    assert found[0].personalized
    rendered = prepared.replace("{{ contact.fields.site }}", "javascript:alert(1)")
    calls: list[tuple[int, str]] = []

    def tracked(position: int, destination: str) -> str:
        calls.append((position, destination))
        return "https://t.example/c/1"

    body, destinations = rewrite(rendered, tracked)
    assert calls == [] and destinations == {}
    assert "t.example" not in body and MARKER not in body


def test_merge_field_not_at_the_start_of_a_non_http_url_is_not_a_position() -> None:
    _, found = prepare('<a href="mailto:{{ contact.email }}">mail</a>')
    assert found == []


def test_tracked_url_returning_none_keeps_the_link_as_written() -> None:
    prepared, _ = prepare(
        '<a href="https://example.com/a">a</a><a href="https://example.com/b">b</a>'
    )
    body, destinations = rewrite(prepared, lambda p, d: None if p == 1 else "https://t/2")
    assert body == '<a href="https://example.com/a">a</a><a href="https://t/2">b</a>'
    assert destinations == {1: "https://example.com/a", 2: "https://example.com/b"}


def test_loops_render_one_position_many_times() -> None:
    _, found = prepare(
        '{% for i in [1, 2] %}<a href="https://example.com/{{ i }}">x</a>{% endfor %}'
    )
    assert len(found) == 1
    rendered = (
        f'<a {MARKER}="1" href="https://example.com/1">x</a>'
        f'<a {MARKER}="1" href="https://example.com/2">x</a>'
    )
    body, destinations = rewrite(rendered, _track)
    assert body.count("https://t.example/c/1") == 2
    assert destinations == {1: "https://example.com/1"}  # the first rendering is the record


def test_strip_markers_restores_plain_anchors() -> None:
    source = '<p><a class="c" href="https://example.com/a?x=1&amp;y=2">A</a></p>'
    prepared, _ = prepare(source)
    assert prepared != source
    assert strip_markers(prepared) == source


def test_text_and_attributes_that_look_like_links_are_not_touched() -> None:
    source = (
        "<p title='href=\"https://example.com/not\"'>see https://example.com/text</p>"
        '<!-- <a href="https://example.com/comment">c</a> -->'
        '<a href="https://example.com/real">r</a>'
    )
    prepared, found = prepare(source)
    assert [f.url for f in found] == ["https://example.com/real"]
    assert prepared.count(MARKER) == 1
