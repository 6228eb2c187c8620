"""The condition builder in a real chromium: build "clicked a link containing /pricing in
email X" from the selects, watch the live count, nest a group, save, see the members."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.web.conftest import Ui, sign_in
from tests.web.test_groups_ui import HOSTILE, seed_clicks

pytestmark = [
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
    pytest.mark.browser,
]


def _until(page: Any, script: str, timeout: float = 10.0) -> Any:
    """Poll ``script`` from Python: the page's CSP forbids the eval wait_for_function uses."""
    for _ in range(int(timeout * 10)):
        value = page.evaluate(script)
        if value:
            return value
        page.wait_for_timeout(100)
    raise AssertionError(f"still false after {timeout} s: {script}")


def _count(page: Any, expected: int) -> None:
    _until(
        page,
        "(() => { const c = document.querySelector('#live-count .count');"
        " return c && !document.querySelector('#live-count.pending')"
        f" && c.dataset.count === '{expected}'; }})()",
    )


def _json(page: Any) -> Any:
    return json.loads(page.input_value("textarea[name=condition_json]"))


def _inert(page: Any) -> None:
    assert page.dialogs == []
    assert page.evaluate("document.querySelectorAll('script:not([src])').length") == 0


def test_build_clicked_pricing_see_the_count_save_and_see_members(ui: Ui, page: Any) -> None:
    seed = seed_clicks(ui)
    sign_in(page, ui)
    page.goto(f"{ui.url}/contact-groups")
    page.click("text=Create your first group")
    page.wait_for_url(re.compile(r"/contact-groups/new$"))
    page.fill("input[name=name]", "Pricing fans")
    _count(page, 3)  # an empty "all" matches everyone

    # Add a condition: clicked email, pick the email, then pick its /pricing link.
    root = "#builder > .cond-group"
    page.click(f"{root} > .group-add [data-action=add-condition]")
    row = page.locator(f"{root} > .group-items > .cond-row").first
    assert row.locator("select.kind").input_value() == "clicked_email"
    _count(page, 2)  # anyone who clicked any email
    row.locator("select[data-role=email]").select_option(str(seed.email_id))
    picker = row.locator("select[data-role=links]")
    _until(page, "document.querySelectorAll('#builder select[data-role=links] option').length > 2")
    labels = picker.locator("option").all_inner_texts()
    assert labels[1].startswith("#1, #3 · https://example.com/pricing")
    picker.select_option("https://example.com/pricing?plan=pro&ref=mail")
    assert row.locator("input[data-role=url]").input_value() == (
        "https://example.com/pricing?plan=pro&ref=mail"
    )
    row.locator("input[data-role=url]").fill("/pricing")  # or just type a part of it
    assert picker.input_value() == ""
    row.locator("input[name$='.within_days']").fill("30")
    _count(page, 1)
    assert _json(page) == {
        "all": [
            {
                "type": "clicked_email",
                "email_id": seed.email_id,
                "url_contains": "/pricing",
                "within_days": 30,
            }
        ]
    }

    # Nest a group: any of (not opened any email, subscribed to the list).
    page.click(f"{root} > .group-add [data-action=add-group]")
    inner = page.locator(f"{root} > .group-items > .cond-group").first
    inner.locator(":scope > .group-head select[data-role=kind]").select_option("any")
    first = inner.locator(".cond-row").first
    first.locator("select.kind").select_option("in_list")
    assert first.locator("select[name$='.list_id']").is_visible()
    assert not first.locator("select[data-role=email]").is_visible()
    _until(page, "document.querySelector('#live-count .count-error') !== null")
    error_path = page.get_attribute("#live-count [data-error-path]", "data-error-path")
    assert error_path == "condition.all[1].any[0].list_id"
    assert "invalid" in (first.get_attribute("class") or "")
    first.locator("select[name$='.list_id']").select_option(str(seed.list_id))
    inner.locator(":scope > .group-add [data-action=add-condition]").click()
    second = inner.locator(".cond-row").nth(1)
    second.locator("select.kind").select_option("field")
    second.locator("input[name$='.field']").fill("first_name")
    second.locator("select[name$='.op']").select_option("eq")
    second.locator("input[name$='.value']").fill("Nobody")
    second.locator("input[type=checkbox][name$='.not']").check()
    _count(page, 1)
    condition = _json(page)
    assert condition["all"][1] == {
        "any": [
            {"type": "in_list", "list_id": seed.list_id},
            {"not": {"type": "field", "field": "first_name", "op": "eq", "value": "Nobody"}},
        ]
    }
    assert "invalid" not in (first.get_attribute("class") or "")

    # Remove the nested group again; save; the group page lists the member.
    inner.locator(":scope > .group-head [data-action=remove]").click()
    _count(page, 1)
    assert len(_json(page)["all"]) == 1
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(r"/contact-groups/\d+$"))
    assert "The group was created with 1 member" in page.inner_text(".flash")
    assert page.inner_text("#member-count") == "1"
    words = page.inner_text(".condition-words")
    assert (
        words == "Contacts who clicked a link containing “/pricing” in “News” in the last 30 days"
    )
    assert page.locator("table.members tbody tr").count() == 1
    group_url = page.url
    page.click("table.members a")
    assert page.url.endswith(f"/contacts/{seed.pricing}")
    _inert(page)

    # Delete asks first, then says it is done.
    page.goto(group_url)
    page.click("button:text('Delete')")
    page.wait_for_url(re.compile(r"/contact-groups$"))
    assert page.dialogs == [
        "Delete the group “Pricing fans”? Its contacts stay; only the group goes."
    ]
    assert page.inner_text(".flash") == "The group “Pricing fans” was deleted."


def test_edit_shows_the_tree_and_the_json_box_drives_the_builder(ui: Ui, page: Any) -> None:
    seed = seed_clicks(ui)
    sign_in(page, ui)
    page.goto(f"{ui.url}/contact-groups/new")
    page.fill("input[name=name]", HOSTILE)
    page.click("summary:text('Advanced: edit JSON')")
    condition = {
        "any": [
            {"type": "clicked_email", "email_id": seed.email_id, "url_contains": "/blog"},
            {"not": {"type": "in_list", "list_id": seed.list_id}},
        ]
    }
    page.fill("textarea[name=condition_json]", json.dumps(condition))
    _until(page, "document.querySelectorAll('#builder .cond-row').length === 2")
    _count(page, 1)
    assert page.locator("#builder input[data-role=url]").first.input_value() == "/blog"
    assert page.is_checked("#builder .cond-row >> nth=1 >> input[type=checkbox]")
    page.fill("textarea[name=condition_json]", '{"all": [')
    _until(page, "document.querySelector('#json-note').textContent.startsWith('Not valid JSON')")
    page.fill("textarea[name=condition_json]", json.dumps(condition))
    _until(page, "document.querySelector('#json-note').textContent.includes('builder shows')")
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(r"/contact-groups/\d+$"))
    assert page.inner_text("h1") == HOSTILE
    assert page.inner_text("#member-count") == "1"

    # The editor shows the saved tree; a bad number of days is refused naming the row.
    page.click("a:text('Edit')")
    assert page.locator("#builder .cond-row").count() == 2
    page.locator("#builder input[name$='.within_days']").first.fill("0")
    page.evaluate("document.querySelector('#builder input[name$=\".within_days\"]').min = ''")
    page.click("button[type=submit].primary")
    page.wait_for_load_state()
    assert "condition.any[0].within_days: must be a positive integer" in page.inner_text(
        ".cond-row.invalid .row-error"
    )
    assert page.input_value("input[name=name]") == HOSTILE
    assert page.locator("#builder .cond-row").count() == 2
    _inert(page)
