"""The condition builder as a component (no database): two builders drawn on one page
each hold their own JSON, rows and message; what the builder cannot draw stays as
escaped text in the Advanced box; the condition JSON read from a post says where it
breaks."""

from __future__ import annotations

import html
import re

import pytest

from tidings.errors import Invalid
from tidings.groups.admin_builder import (
    BuilderView,
    Choices,
    error_row,
    fits_builder,
    load_json,
    pretty,
    tree_to_rows,
)
from tidings.web.pages import templates

PAGE = (
    '{% import "admin/groups/_builder.html" as b %}'
    '<form>{{ b.component(one, "a") }}{{ b.component(two, "b", label="Second") }}'
    "{{ b.templates(one) }}</form>"
)
PRICING = {"all": [{"type": "clicked_email", "url_contains": "/pricing"}]}


def _view(data: object, *, text: str = "", error: str = "") -> BuilderView:
    """A view as ``condition_builder`` makes it, with choices given here."""
    fits = data is not None and fits_builder(data)
    rows = tree_to_rows(data if fits else {"all": []})
    choices = Choices(options={n: [] for n in ("email", "list", "consent", "group")}, links={})
    return BuilderView(
        rows=rows,
        choices=choices,
        text=pretty(data) if fits else text,
        json_text=pretty(data) if fits else text,
        condition_error=error,
        error_index=error_row(rows, error) if error and fits else None,
        stale=not fits,
    )


def test_two_builders_on_one_page_keep_their_own_json_rows_and_message() -> None:
    error = "condition.all[0].url_contains: at most 2,000 characters"
    page = templates.env.from_string(PAGE).render(
        one=_view(PRICING, error=error), two=_view(None, text='{"all": [<script>')
    )
    roots = page.split("data-condition-builder")[1:]
    assert len(roots) == 2
    first, second = roots
    assert 'name="a"' in first and "/pricing" in first and "cond-row invalid" in first
    assert "at most 2,000 characters" in first
    # The second cannot be drawn: its text is kept, escaped, and its box is open.
    assert 'name="b"' in second and "&lt;script&gt;" in second and "<script>" not in page
    assert "The builder shows the JSON once it is valid." in second
    assert "cond-row" not in second.split("</template>")[0].split("<template")[0]
    # One set of templates and suggestions, however many builders.
    assert page.count('id="tpl-leaf"') == 1 and page.count('id="tpl-group"') == 1
    assert len(re.findall(r'data-kinds="\{', page)) == 2
    hidden = re.search(r'name="a" value="([^"]*)"', page)
    assert hidden is not None and '"/pricing"' in html.unescape(hidden[1])


def test_condition_json_from_a_post_names_what_is_wrong() -> None:
    assert load_json(' {"all": []} ') == {"all": []}
    with pytest.raises(Invalid, match=r"condition: not valid JSON \(.* line 1, column 10\)"):
        load_json('{"all": [')
    with pytest.raises(Invalid, match="at most 200,000 characters"):
        load_json(" " * 200_001)
    with pytest.raises(Invalid, match="nested too deeply"):
        load_json("[" * 100_000 + "]" * 100_000)
