"""Widget variants built with the condition builder in a real chromium: an email
widget's variants page and a website widget's form each get a variant for "clicked a
link containing /pricing", built from the builder's selects; variants are added,
reordered and removed; saved, reloaded and shown again; the stored condition is the
one built. Several builders live on one page, each with its own JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.admin import signed_in
from tests.web.conftest import Ui, sign_in
from tests.web.test_builder_ui import _create
from tests.web.test_groups_browser import _inert, _until
from tests.web.test_variants_ui import PRICING, _html_widget, _site_widgets, _stored_variants

pytestmark = [
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
    pytest.mark.browser,
]

SCREENS = Path(__file__).parents[2] / "docs" / "screens"
HOSTILE = '<p>Everyone else</p><img src="x" onerror="alert(1)"><script>alert(2)</script>'
CLICKED_PRICING = {"all": [{"type": "clicked_email", "url_contains": "/pricing"}]}


def _add_variant(page: Any, form: Any, html: str, url: str | None) -> Any:
    """Click + Variant in ``form``, build its condition (clicked a link containing
    ``url``, or none) and type its HTML; the new variant."""
    items = form.locator("[data-variant-list] > li[data-variant]")
    count = items.count()
    form.locator("[data-variant-add]").click()
    variant = items.nth(count)
    if url is not None:
        variant.locator(".cond-group.root > .group-add [data-action=add-condition]").click()
        row = variant.locator(".cond-row").first
        assert row.locator("select.kind").input_value() == "clicked_email"
        row.locator("input[data-role=url]").fill(url)
    variant.locator("textarea[name$='.html']").fill(html)
    return variant


def _hidden_json(variant: Any) -> Any:
    return json.loads(variant.locator("input[data-condition-input]").input_value())


def test_email_widget_variants_built_reordered_saved_and_shown(ui: Ui, page: Any) -> None:
    with signed_in(ui, landing="/emails") as admin:
        email_id = _create(admin, template="note")
        key = _html_widget(admin, ui, email_id)
    sign_in(page, ui)
    page.goto(f"{ui.url}/emails/{email_id}/builder")
    page.click(f"#w-{key} a.variants-link")
    page.wait_for_url(re.compile(rf"/widgets/{key}/variants$"))
    form = page.locator("form[data-variants]")

    pricing = _add_variant(page, form, "<p>Plans for you</p>", "/pricing")
    assert _hidden_json(pricing) == CLICKED_PRICING
    everyone = _add_variant(page, form, "<p>Everyone else</p>", None)
    assert _hidden_json(everyone) == {"all": []}
    # Two builders, each with its own JSON; the second moves up, numbers follow.
    assert _hidden_json(pricing) == CLICKED_PRICING
    everyone.locator("[data-variant-op=up]").click()
    numbers = form.locator("[data-variant-number]").all_inner_texts()
    assert numbers == ["1", "2"]
    first = form.locator("li[data-variant]").first
    assert first.locator("textarea[name$='.html']").input_value() == "<p>Everyone else</p>"
    first.locator("[data-variant-op=down]").click()
    first = form.locator("li[data-variant]").first
    assert first.locator("textarea[name$='.html']").input_value() == "<p>Plans for you</p>"
    # The Advanced box of a variant follows its builder.
    box = first.locator("textarea[data-condition-json]")
    assert json.loads(box.input_value()) == CLICKED_PRICING

    page.click("button:text('Save variants')")
    page.wait_for_url(re.compile(rf"/widgets/{key}/variants$"))
    assert "Saved: 2 variants." in page.inner_text(".flash")
    stored = _stored_variants(ui, email_id, key)
    assert [v["condition"] for v in stored] == [CLICKED_PRICING, {"all": []}]
    assert stored[0]["html"] == "<p>Plans for you</p>"

    # After a reload the builder shows the saved condition again.
    page.reload()
    first = form.locator("li[data-variant]").first
    assert first.locator("input[data-role=url]").input_value() == "/pricing"
    assert "clicked a link containing" in first.inner_text()
    assert form.locator("li[data-variant]").count() == 2
    page.set_viewport_size({"width": 1100, "height": 900})
    page.screenshot(path=str(SCREENS / "email-variants.png"), full_page=True)

    # JSON typed in the second variant's Advanced box redraws that builder only.
    second = form.locator("li[data-variant]").nth(1)
    second.locator(".advanced-json > summary").click()
    typed = {"any": [{"type": "opened_email"}, {"type": "clicked_email", "url_contains": "/blog"}]}
    second.locator("textarea[data-condition-json]").fill(json.dumps(typed))
    _until(
        page,
        "document.querySelectorAll('li[data-variant]')[1]"
        ".querySelectorAll('.cond-row').length === 2",
    )
    assert _hidden_json(second)["any"][1]["url_contains"] == "/blog"
    assert second.locator("[data-json-note]").inner_text() == "The builder shows this JSON now."
    assert _hidden_json(form.locator("li[data-variant]").first) == CLICKED_PRICING

    # Remove the second; the first keeps its condition.
    form.locator("li[data-variant]").nth(1).locator("[data-variant-op=remove]").click()
    page.click("button:text('Save variants')")
    page.wait_for_url(re.compile(rf"/widgets/{key}/variants$"))
    assert [v["condition"] for v in _stored_variants(ui, email_id, key)] == [CLICKED_PRICING]
    _inert(page)

    # The builder shows the widget with its variant; the preview as a contact still works.
    page.goto(f"{ui.url}/emails/{email_id}/builder")
    assert "1 variant" in page.inner_text(f"#w-{key} .widget-head")
    page.locator(f"#w-{key}").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENS / "builder-variants.png"))
    _until(page, "document.querySelector('#builder-preview') !== null")


def test_site_widget_variant_built_in_the_add_form_and_edited(ui: Ui, page: Any) -> None:
    with signed_in(ui, landing="/sites") as admin:
        made = admin.post("/sites", {"name": "Shop", "origin": "https://shop.example.com"})
        site_url = made.headers["location"]
        site_id = int(site_url.rsplit("/", 1)[1])
    sign_in(page, ui)
    page.goto(f"{ui.url}{site_url}")
    page.fill("#w-key", "hero")
    page.fill("#w-html", "<p>Plans</p>")
    form = page.locator("form[data-variants]").last
    _add_variant(page, form, "<p>Clicked pricing</p>", "/pricing")
    form.locator("button:text('Save widget')").click()
    page.wait_for_url(re.compile(rf"/sites/{site_id}$"))
    html, variants = _site_widgets(ui, site_id)["hero"]
    assert html == "<p>Plans</p>"
    assert variants == [{"condition": PRICING, "html": "<p>Clicked pricing</p>"}]
    assert "clicked a link containing" in page.inner_text("article.site-widget")

    # Edit it: its form shows the variant in a builder; add a second variant and save.
    page.click("article.site-widget summary")
    edit = page.locator("article.site-widget form[data-variants]")
    assert edit.locator("input[data-role=url]").input_value() == "/pricing"
    _add_variant(page, edit, "<p>Others</p>", "/blog")
    page.screenshot(path=str(SCREENS / "sites-variants.png"), full_page=True)
    edit.locator("li[data-variant]").nth(1).locator("textarea[name$='.html']").fill(HOSTILE)
    edit.locator("button:text('Save widget')").click()
    page.wait_for_url(re.compile(rf"/sites/{site_id}$"))
    variants = _site_widgets(ui, site_id)["hero"][1]
    assert [v["condition"] for v in variants] == [
        PRICING,
        {"all": [{"type": "clicked_email", "url_contains": "/blog"}]},
    ]
    # Hostile HTML is the marketer's content: stored as written, shown as text here.
    assert variants[1]["html"] == HOSTILE
    page.click("article.site-widget summary")
    shown = page.locator("article.site-widget li[data-variant]").nth(1)
    assert shown.locator("textarea[name$='.html']").input_value() == HOSTILE
    assert page.dialogs == []
    _inert(page)
