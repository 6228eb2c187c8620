"""Contact group pages over real HTTP on SQLite and PostgreSQL (create, edit, live count,
members, rebuild, delete, refusals with readable messages), and unit tests of the
builder's rows <-> condition JSON and of conditions in words (escaped)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.support import world
from tests.support.admin import Admin
from tests.support.admin import signed_in as admin_session
from tests.web.conftest import Ui
from tidings.activities.models import Activity
from tidings.contacts import service as contacts
from tidings.emails import service as emails
from tidings.groups import service as groups
from tidings.groups.admin_builder import (
    error_row,
    fits_builder,
    rows_from_form,
    rows_to_tree,
    tree_to_rows,
)
from tidings.groups.admin_words import Names, describe, plain
from tidings.groups.models import ContactGroup
from tidings.web.pages import templates

HOSTILE = '"><script>alert(1)</script>'


# Unit tests: builder rows and words (no database)

TREES: list[Any] = [
    {"all": []},
    {"any": []},
    {
        "all": [
            {"type": "clicked_email", "email_id": 3, "url_contains": "/pricing", "within_days": 30},
            {"not": {"type": "opened_email", "email_id": 4, "min_count": 2}},
            {
                "any": [
                    {"type": "in_list", "list_id": 1},
                    {"not": {"all": [{"type": "in_group", "group_id": 9}]}},
                    {"type": "consent", "code_name": "tracking"},
                ]
            },
            {"type": "received_email", "email_id": 5},
            {"type": "activity", "activity_type": "page_visit", "value_contains": "/docs"},
            {"type": "activity", "activity_type": "custom:webinar", "min_count": 3},
            {"type": "field", "field": "first_name", "op": "eq", "value": "Ada"},
            {"type": "field", "field": "score", "op": "gt", "value": 7},
            {"type": "field", "field": "ratio", "op": "lt", "value": 0.5},
            {"type": "field", "field": "vip", "op": "eq", "value": True},
            {"type": "field", "field": "vip", "op": "ne", "value": False},
            {"type": "field", "field": "company", "op": "empty"},
            {"type": "field", "field": "note", "op": "eq", "value": ""},
            {"type": "clicked_email"},
        ]
    },
    {"not": {"any": [{"type": "in_list", "list_id": 2}]}},
]


@pytest.mark.parametrize("tree", TREES)
def test_rows_round_trip_exactly(tree: Any) -> None:
    rows = tree_to_rows(tree)
    assert rows[0].is_group and rows[0].parent is None
    assert [row.index for row in rows] == list(range(len(rows)))
    assert rows_to_tree(rows) == tree


def test_rows_carry_paths_kinds_and_values() -> None:
    rows = tree_to_rows(TREES[2])
    by_path = {row.path: row for row in rows}
    clicked = by_path["condition.all[0]"]
    assert clicked.kind == "clicked_email" and clicked.parent == 0 and clicked.depth == 1
    assert clicked.values == {"email_id": "3", "url_contains": "/pricing", "within_days": "30"}
    opened = by_path["condition.all[1]"]
    assert opened.negate and opened.kind == "opened_email"
    nested = by_path["condition.all[2].any[1]"]
    assert nested.negate and nested.kind == "all" and nested.depth == 2
    assert [child.path for child in nested.children] == ["condition.all[2].any[1].not.all[0]"]
    custom = by_path["condition.all[5]"]
    assert custom.values["activity_type"] == "custom" and custom.values["custom_name"] == "webinar"
    flag = by_path["condition.all[9]"]
    assert flag.values["value_type"] == "true" and flag.values["value"] == ""
    score = by_path["condition.all[7]"]
    assert (score.values["value_type"], score.values["value"]) == ("number", "7")


def test_a_leaf_at_the_root_is_shown_in_an_all_group() -> None:
    leaf = {"type": "in_list", "list_id": 4}
    rows = tree_to_rows(leaf)
    assert [row.kind for row in rows] == ["all", "in_list"]
    assert rows[1].path == "condition"  # where the leaf stood in the JSON given
    assert rows_to_tree(rows) == {"all": [leaf]}
    negated = tree_to_rows({"not": leaf})
    assert rows_to_tree(negated) == {"all": [{"not": leaf}]}


@pytest.mark.parametrize(
    "node",
    [
        {"type": "clicked_email", "email_id": "3"},
        {"type": "clicked_email", "within_day": 3},
        {"type": "nope"},
        {"type": "field", "field": "x", "op": "eq"},
        {"type": "field", "field": "x", "op": "eq", "value": [1]},
        {"type": "activity", "activity_type": "custom: padded "},
        {"type": "in_list", "list_id": True},
        {"type": "clicked_email", "url_contains": ""},
        {"not": {"not": {"type": "in_list", "list_id": 1}}},
        {"all": "not a list"},
        "a string",
        7,
    ],
)
def test_nodes_without_inputs_keep_their_exact_json(node: Any) -> None:
    rows = tree_to_rows({"all": [node]})
    assert rows[1].kind == "json" and not rows[1].negate
    assert json.loads(rows[1].values["json"]) == node
    assert rows_to_tree(rows) == {"all": [node]}


def test_rows_from_a_form_without_javascript() -> None:
    form = [
        ("csrf_token", "x"),
        ("name", "Pricing"),
        ("r0.parent", ""),
        ("r0.kind", "any"),
        ("r1.parent", "0"),
        ("r1.not", "1"),
        ("r1.kind", "clicked_email"),
        ("r1.email_id", "12"),
        ("r1.url_contains", "  /pricing "),
        ("r1.within_days", "abc"),
        ("r1.min_count", ""),
        ("r1.field", "ignored for this kind"),
        ("r7.parent", "0"),
        ("r7.kind", "field"),
        ("r7.field", " score "),
        ("r7.op", "gt"),
        ("r7.value_type", "number"),
        ("r7.value", "1.5"),
        ("r3.parent", "0"),
        ("r3.kind", "activity"),
        ("r3.activity_type", "custom"),
        ("r3.custom_name", "webinar"),
        ("r3.value_contains", ""),
        ("r4.parent", "0"),
        ("r4.kind", "field"),
        ("r4.field", "age"),
        ("r4.op", "eq"),
        ("r4.value_type", "number"),
        ("r4.value", "ten"),
    ]
    rows = rows_from_form(form)
    assert [row.index for row in rows] == [0, 1, 7, 3, 4]  # page order, not index order
    assert rows_to_tree(rows) == {
        "any": [
            # A bad number of days is passed on for the condition language to name.
            {
                "not": {
                    "type": "clicked_email",
                    "email_id": 12,
                    "url_contains": "/pricing",
                    "within_days": "abc",
                }
            },
            {"type": "field", "field": "score", "op": "gt", "value": 1.5},
            {"type": "activity", "activity_type": "custom:webinar"},
            {"type": "field", "field": "age", "op": "eq", "value": None},
        ]
    }


@pytest.mark.parametrize(
    "form",
    [
        [],
        [("r0.kind", "clicked_email")],
        [("r0.kind", "all"), ("r1.parent", "5"), ("r1.kind", "in_list")],
        [("r0.kind", "all"), ("r1.parent", "0"), ("r1.kind", "in_list"), ("r2.parent", "1")],
    ],
)
def test_inconsistent_rows_are_refused_readably(form: list[tuple[str, str]]) -> None:
    from tidings.errors import Invalid

    with pytest.raises(Invalid, match="condition: the builder"):
        rows_to_tree(rows_from_form(form))


def test_error_paths_point_at_the_deepest_row() -> None:
    rows = tree_to_rows(TREES[2])
    assert error_row(rows, "condition.all[0].within_days: must be a positive integer") == 1
    nested = error_row(rows, "condition.all[2].any[1].not.all[0].group_id: group 9 ...")
    assert nested is not None and rows[nested].kind == "in_group"
    assert error_row(rows, "condition.all[1].not.email_id: email 4 does not exist") == 2
    assert error_row(rows, "name: must be 1 to 200 characters") is None


def test_huge_or_deep_trees_do_not_go_to_the_builder() -> None:
    deep: Any = {"type": "in_list", "list_id": 1}
    for _ in range(60):
        deep = {"all": [deep]}
    assert fits_builder({"all": [{"type": "in_list", "list_id": 1}] * 10})
    assert not fits_builder(deep)
    assert not fits_builder({"all": [{"type": "in_list", "list_id": 1}] * 600})


NAMES = Names(
    {
        "email": {3: "October newsletter", 4: "Welcome"},
        "list": {1: "Newsletter"},
        "group": {9: "VIP"},
        "consent": {"tracking": "Email tracking"},
    }
)


@pytest.mark.parametrize(
    ("node", "text"),
    [
        (
            {"type": "clicked_email", "email_id": 3, "url_contains": "/pricing", "within_days": 30},
            "clicked a link containing “/pricing” in “October newsletter” in the last 30 days",
        ),
        ({"type": "clicked_email", "min_count": 2}, "clicked a link in any email at least 2 times"),
        (
            {"not": {"type": "clicked_email", "email_id": 4, "within_days": 1}},
            "did not click a link in “Welcome” in the last day",
        ),
        ({"type": "opened_email", "email_id": 77}, "opened email #77 (deleted)"),
        ({"not": {"type": "received_email", "email_id": 3}}, "was not sent “October newsletter”"),
        ({"type": "in_list", "list_id": 1}, "is subscribed to the list “Newsletter”"),
        ({"not": {"type": "in_group", "group_id": 9}}, "is not in the group “VIP”"),
        ({"type": "consent", "code_name": "tracking"}, "has agreed to “Email tracking”"),
        (
            {"type": "activity", "activity_type": "page_visit", "value_contains": "/docs"},
            "visited a page whose URL contains “/docs”",
        ),
        (
            {"type": "activity", "activity_type": "custom:webinar", "min_count": 3},
            "had the activity “webinar” at least 3 times",
        ),
        (
            {"type": "field", "field": "first_name", "op": "eq", "value": "Ada"},
            "first name is “Ada”",
        ),
        (
            {"not": {"type": "field", "field": "company", "op": "contains", "value": "Acme"}},
            "the field “company” does not contain “Acme”",
        ),
        (
            {"type": "field", "field": "score", "op": "gt", "value": 7},
            "the field “score” is more than 7",
        ),
        ({"type": "field", "field": "vip", "op": "eq", "value": True}, "the field “vip” is true"),
        ({"type": "field", "field": "email", "op": "empty"}, "email address is empty"),
        ({"all": []}, "every contact"),
        ({"all": [{"type": "in_list", "list_id": 1}]}, "is subscribed to the list “Newsletter”"),
        (
            {"not": {"any": [{"type": "in_list", "list_id": 1}]}},
            "is not subscribed to the list “Newsletter”",
        ),
        ({"not": {"any": []}}, "every contact"),
        ({"any": []}, "no contact (an empty group)"),
        (
            {
                "not": {
                    "any": [{"type": "in_list", "list_id": 1}, {"type": "in_group", "group_id": 9}]
                }
            },
            "none of these: is subscribed to the list “Newsletter”; is in the group “VIP”",
        ),
        (
            {
                "all": [
                    {"type": "in_list", "list_id": 1},
                    {
                        "any": [
                            {"type": "in_group", "group_id": 9},
                            {"type": "in_list", "list_id": 2},
                        ]
                    },
                ]
            },
            "all of these: is subscribed to the list “Newsletter”; "
            "(any of these: is in the group “VIP”; is subscribed to the list #2 (deleted))",
        ),
    ],
)
def test_conditions_in_words(node: Any, text: str) -> None:
    assert plain(describe(node, NAMES)) == text


def _render_words(node: Any, names: Names) -> str:
    template = templates.env.from_string(
        '{% import "admin/groups/_words.html" as w %}{{ w.words(words) }}'
    )
    return template.render(words=describe(node, names))


def test_words_escape_everything() -> None:
    evil = Names({"email": {3: HOSTILE}, "group": {9: "<b>VIP</b>"}, "consent": {"x": "<i>x</i>"}})
    node = {
        "any": [
            {"type": "clicked_email", "email_id": 3, "url_contains": HOSTILE},
            {"type": "in_group", "group_id": 9},
            {"type": "consent", "code_name": "x"},
            {"type": "field", "field": "note", "op": "eq", "value": "<img src=x onerror=alert(1)>"},
        ]
    }
    html = _render_words(node, evil)
    assert "<script" not in html and "<b>" not in html and "<i>" not in html and "<img" not in html
    assert html.count("&lt;script&gt;") == 2 and "&#34;&gt;" in html
    assert '<span class="q">“&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;”</span>' in html
    assert html.startswith("any of these:")


# HTTP: the pages on a live app


class GroupsAdmin(Admin):
    """The signed-in client, posting the editor as groups.js does."""

    def save(self, path: str, name: str, condition: Any) -> httpx.Response:
        """The builder's JSON in ``condition``."""
        text = condition if isinstance(condition, str) else json.dumps(condition)
        return self.post(path, {"name": name, "condition": text})


@contextmanager
def signed_in(ui: Ui) -> Iterator[GroupsAdmin]:
    """Sign in and land on the groups list."""
    with admin_session(ui, GroupsAdmin, "/contact-groups") as admin:
        yield admin


@dataclass
class Clicks:
    """An email with a /pricing and a /blog link, and who clicked which."""

    email_id: int
    list_id: int
    pricing: int
    blog: int
    idle: int


def seed_clicks(ui: Ui) -> Clicks:
    """Three contacts on a list; one clicked /pricing, one /blog, one nothing."""
    now = datetime.now(UTC)
    with ui.runtime.session() as session:
        w = world.build(session, consenting=3, anonymous=0)
        links = {link.url: link for link in emails.links(session=session, email_id=w.email_id)}
        pricing = links["https://example.com/pricing?plan=pro&ref=mail"]
        blog = links["https://example.com/blog"]
        for contact_id, link in ((w.consenting[0], pricing), (w.consenting[1], blog)):
            session.add(
                Activity(
                    contact_id=contact_id,
                    type="email_click",
                    email_id=w.email_id,
                    link_id=link.id,
                    value=link.url,
                    occurred_at=now - timedelta(hours=1),
                )
            )
    return Clicks(w.email_id, w.list_id, *w.consenting)


def pricing_condition(email_id: int) -> dict[str, Any]:
    return {"all": [{"type": "clicked_email", "email_id": email_id, "url_contains": "/pricing"}]}


def group_id(ui: Ui, name: str) -> int:
    with ui.runtime.session() as session:
        found = session.scalar(select(ContactGroup.id).where(ContactGroup.name == name))
        assert found is not None
        return found


def test_empty_list_create_and_group_page(ui: Ui) -> None:
    seed = seed_clicks(ui)
    with signed_in(ui) as admin:
        empty = admin.get("/contact-groups")
        assert empty.status_code == 200 and "No contact groups yet" in empty.text
        editor = admin.get("/contact-groups/new")
        assert editor.status_code == 200
        assert 'id="tpl-leaf"' in editor.text and "News" in editor.text  # the email select
        assert 'src="/static/groups.js"' in editor.text
        created = admin.save(
            "/contact-groups/new", "Pricing fans", pricing_condition(seed.email_id)
        )
        assert re.fullmatch(
            r"The group was created with 1 member in \d+ ms\.", admin.flash(created)
        )
        page = admin.get(created.headers["location"]).text
        quoted = '<span class="q">“/pricing”</span> in <span class="q">“News”</span>'
        assert f"clicked a link containing {quoted}" in page
        assert f'href="/contacts/{seed.pricing}"' in page
        assert f'href="/contacts/{seed.blog}"' not in page
        assert 'id="member-count">1<' in page
        listing = admin.get("/contact-groups").text
        assert (
            "Pricing fans" in listing and 'class="num members" data-label="Members">1<' in listing
        )
        # The contact page lists the contact's groups.
        contact = admin.get(f"/contacts/{seed.pricing}").text
        assert f'href="/contact-groups/{group_id(ui, "Pricing fans")}">Pricing fans</a>' in contact


def test_create_without_javascript_posts_the_rows(ui: Ui) -> None:
    seed = seed_clicks(ui)
    with signed_in(ui) as admin:
        form = {
            "name": "Blog readers",
            "condition": "",
            "condition_json": "ignored unless its own button is used",
            "r0.parent": "",
            "r0.kind": "any",
            "r1.parent": "0",
            "r1.kind": "clicked_email",
            "r1.email_id": str(seed.email_id),
            "r1.url_contains": "/blog",
            "r1.within_days": "7",
            "r1.min_count": "",
        }
        created = admin.post("/contact-groups/new", form)
        assert "1 member" in admin.flash(created)
        gid = group_id(ui, "Blog readers")
    with ui.runtime.session() as session:
        group = groups.get(session=session, group_id=gid)
        assert group.condition == {
            "any": [
                {
                    "type": "clicked_email",
                    "email_id": seed.email_id,
                    "url_contains": "/blog",
                    "within_days": 7,
                }
            ]
        }
        members, _ = groups.members_page(session=session, group_id=gid)
        assert [c.id for c in members] == [seed.blog]


def test_the_advanced_json_box_has_its_own_save_button(ui: Ui) -> None:
    seed = seed_clicks(ui)
    with signed_in(ui) as admin:
        text = json.dumps({"type": "in_list", "list_id": seed.list_id})
        created = admin.post(
            "/contact-groups/new",
            {"name": "Subscribers", "condition": "", "condition_json": text, "use_json": "1"},
        )
        assert "3 members" in admin.flash(created)
        broken = admin.post(
            "/contact-groups/new",
            {"name": "Broken", "condition": "", "condition_json": '{"all": [', "use_json": "1"},
        )
        assert broken.status_code == 422
        assert "condition: not valid JSON (Expecting value at line 1, column 10)" in broken.text
        assert "{&#34;all&#34;: [</textarea>" in broken.text  # the text is kept, escaped
        assert '<details class="card advanced" open>' in broken.text


def test_refusals_name_the_path_and_keep_the_tree(ui: Ui) -> None:
    seed = seed_clicks(ui)
    with signed_in(ui) as admin:
        bad_days = {
            "any": [
                {"type": "in_list", "list_id": seed.list_id},
                {"type": "clicked_email", "email_id": seed.email_id, "within_days": 0},
            ]
        }
        answer = admin.save("/contact-groups/new", "Bad days", bad_days)
        assert answer.status_code == 422
        html = answer.text
        message = "condition.any[1].within_days: must be a positive integer up to 36500"
        assert message in html
        # The row at fault is outlined with the message; the user's tree is still there.
        row = re.search(r'<div class="cond-row invalid"[^>]*data-path="([^"]+)"', html)
        assert row and row.group(1) == "condition.any[1]"
        assert 'name="r2.within_days" value="0"' in html
        assert 'value="Bad days"' in html and '<option value="any" selected>' in html
        missing = admin.save(
            "/contact-groups/new",
            "Missing",
            {"all": [{"type": "received_email", "email_id": 987654}]},
        )
        assert missing.status_code == 422
        assert "condition.all[0].email_id: email 987654 does not exist" in missing.text
        assert "email #987654 (not found)" in missing.text
        unknown = admin.save("/contact-groups/new", "Unknown", {"all": [{"type": "sparkles"}]})
        assert unknown.status_code == 422 and "unknown condition type" in unknown.text
        assert '<option value="json" selected>JSON</option>' in unknown.text  # a raw JSON row
        not_json = admin.save("/contact-groups/new", "Not JSON", "{nope")
        assert not_json.status_code == 422 and "not valid JSON" in not_json.text
        no_name = admin.save("/contact-groups/new", "  ", {"all": []})
        assert no_name.status_code == 422 and "name: must be 1 to 200 characters" in no_name.text
        assert admin.save("/contact-groups/new", "Taken", {"all": []}).status_code == 303
        taken = admin.save("/contact-groups/new", "Taken", {"all": []})
        assert taken.status_code == 422 and "already exists" in taken.text
    with ui.runtime.session() as session:
        names = [g.name for g in groups.list_groups(session=session)]
    assert names == ["Taken"]


def test_live_count_builder_fragment_and_link_picker(ui: Ui) -> None:
    seed = seed_clicks(ui)
    with signed_in(ui) as admin:
        counted = admin.post(
            "/contact-groups/preview", {"condition": json.dumps(pricing_condition(seed.email_id))}
        )
        assert counted.status_code == 200
        assert (
            '<span class="count" data-count="1"><strong>1</strong> contact matches' in counted.text
        )
        everyone = admin.post("/contact-groups/preview", {"condition": '{"all": []}'})
        assert 'data-count="3"' in everyone.text and "contacts match" in everyone.text
        bad = admin.post(
            "/contact-groups/preview",
            {"condition": json.dumps({"all": [{"type": "in_list", "list_id": "x"}]})},
        )
        assert 'data-error-path="condition.all[0].list_id"' in bad.text
        broken = admin.post("/contact-groups/preview", {"condition": "[[["})
        assert broken.status_code == 200 and "not valid JSON" in broken.text
        # htmx / fetch send the token as a header; without one the post is refused.
        refused = admin.client.post("/contact-groups/preview", data={"condition": "{}"})
        assert refused.status_code == 403
        drawn = admin.post(
            "/contact-groups/builder",
            {"condition_json": json.dumps(pricing_condition(seed.email_id))},
        )
        assert drawn.status_code == 200 and drawn.text.startswith('<div id="builder"')
        assert 'name="r1.url_contains" value="/pricing"' in drawn.text
        assert "#1, #3 · https://example.com/pricing?plan=pro&amp;ref=mail" in drawn.text
        not_drawn = admin.post("/contact-groups/builder", {"condition_json": "{"})
        assert not_drawn.status_code == 422 and "not valid JSON" in not_drawn.text
        links = admin.get("/contact-groups/email-links", params={"email_id": seed.email_id})
        assert links.status_code == 200
        assert (
            '<option value="https://example.com/blog">#2 · https://example.com/blog' in links.text
        )
        none = admin.get("/contact-groups/email-links", params={"email_id": "abc"})
        assert none.status_code == 200 and "no tracked links" in none.text


def test_edit_rename_rebuild_and_members_paging(ui: Ui) -> None:
    seed = seed_clicks(ui)
    with ui.runtime.session() as session:
        for index in range(57):
            contacts.create(session=session, email=f"extra{index:02d}@example.com")
    with signed_in(ui) as admin:
        created = admin.save("/contact-groups/new", "Everyone", {"all": []})
        assert "60 members" in admin.flash(created)
        gid = group_id(ui, "Everyone")
        first = admin.get(f"/contact-groups/{gid}").text
        assert first.count('<tr><td><a href="/contacts/') == 50
        after = re.search(r'href="/contact-groups/\d+\?after=(\d+)" rel="next"', first)
        assert after
        second = admin.get(f"/contact-groups/{gid}", params={"after": after.group(1)}).text
        assert second.count('<tr><td><a href="/contacts/') == 10 and "First page" in second
        assert 'rel="next"' not in second
        assert admin.get(f"/contact-groups/{gid}", params={"after": "x"}).status_code == 422

        editor = admin.get(f"/contact-groups/{gid}/edit").text
        assert 'value="Everyone"' in editor and "Edit Everyone" in editor
        renamed = admin.save(f"/contact-groups/{gid}/edit", "All of them", {"all": []})
        assert admin.flash(renamed) == "The group was saved."
        changed = admin.save(
            f"/contact-groups/{gid}/edit", "All of them", pricing_condition(seed.email_id)
        )
        assert re.fullmatch(
            r"The group was saved and rebuilt in \d+ ms: 1 member\.", admin.flash(changed)
        )
        rebuilt = admin.post(f"/contact-groups/{gid}/rebuild")
        assert re.fullmatch(
            r"Rebuilt in \d+ ms: 0 joined, 0 left, 1 member now\.", admin.flash(rebuilt)
        )
        inline = admin.post(f"/contact-groups/{gid}/rename", {"name": "Pricing"})
        assert admin.flash(inline) == "The group was renamed."
        empty_name = admin.post(f"/contact-groups/{gid}/rename", {"name": " "})
        assert admin.flash(empty_name).startswith("Not renamed: name: must be 1 to 200")
    with ui.runtime.session() as session:
        group = groups.get(session=session, group_id=gid)
        assert group.name == "Pricing" and group.condition == pricing_condition(seed.email_id)


def test_cycles_self_references_and_delete_refusal(ui: Ui) -> None:
    seed = seed_clicks(ui)
    with signed_in(ui) as admin:
        admin.save("/contact-groups/new", "Base", {"type": "in_list", "list_id": seed.list_id})
        base = group_id(ui, "Base")
        admin.save(
            "/contact-groups/new", "Uses base", {"all": [{"type": "in_group", "group_id": base}]}
        )
        user = group_id(ui, "Uses base")
        editor = admin.get(f"/contact-groups/{base}/edit").text
        assert f'<option value="{user}">Uses base</option>' in editor
        assert f'<option value="{base}">Base</option>' not in editor  # it cannot pick itself
        cycle = admin.save(
            f"/contact-groups/{base}/edit",
            "Base renamed",
            {"any": [{"type": "in_group", "group_id": user}]},
        )
        assert cycle.status_code == 422
        steps = f"{base} -&gt; {user} -&gt; {base}"
        assert f"condition.any[0].group_id: would make a cycle of groups ({steps})" in cycle.text
        itself = admin.save(
            f"/contact-groups/{base}/edit",
            "Base",
            {"all": [{"type": "in_group", "group_id": base}]},
        )
        assert itself.status_code == 422 and "a group cannot refer to itself" in itself.text
        assert "<h1>Base</h1>" in admin.get(f"/contact-groups/{base}").text  # rename rolled back
        page = admin.get(f"/contact-groups/{base}").text
        assert (
            "Used in the conditions of" in page
            and f'href="/contact-groups/{user}">Uses base<' in page
        )
        refused = admin.post(f"/contact-groups/{base}/delete")
        assert admin.flash(refused) == (
            "“Base” was not deleted: the conditions of “Uses base” use it. Change them first."
        )
        assert admin.flash(admin.post(f"/contact-groups/{user}/delete")) == (
            "The group “Uses base” was deleted."
        )
        assert "deleted" in admin.flash(admin.post(f"/contact-groups/{base}/delete"))
        assert admin.get(f"/contact-groups/{base}").status_code == 404
        assert "No contact groups yet" in admin.get("/contact-groups").text


def test_hostile_names_and_values_stay_inert(ui: Ui) -> None:
    seed = seed_clicks(ui)
    condition = {
        "all": [{"type": "clicked_email", "email_id": seed.email_id, "url_contains": HOSTILE}]
    }
    with signed_in(ui) as admin:
        created = admin.save("/contact-groups/new", HOSTILE, condition)
        assert created.status_code == 303
        gid = group_id(ui, HOSTILE)
        for path in ("/contact-groups", f"/contact-groups/{gid}", f"/contact-groups/{gid}/edit"):
            html = admin.get(path).text
            assert "<script>alert" not in html, path
            assert "&#34;&gt;&lt;script&gt;" in html, path
        bad = admin.post(
            "/contact-groups/preview",
            {"condition": json.dumps({"all": [{"type": HOSTILE}]})},
        )
        assert "<script>alert" not in bad.text


def test_bad_ids_and_missing_groups_are_readable(ui: Ui) -> None:
    with signed_in(ui) as admin:
        assert admin.get("/contact-groups/999999").status_code == 404
        assert admin.get("/contact-groups/999999/edit").status_code == 404
        assert admin.post("/contact-groups/999999/rebuild").status_code == 404
        for path in (
            "/contact-groups/abc",
            "/contact-groups/0",
            "/contact-groups/99999999999999999999",
        ):
            answer = admin.get(path)
            assert answer.status_code == 422 and "<html" in answer.text, path
        huge = admin.save("/contact-groups/new", "Huge", "[" * 300_000)
        assert huge.status_code == 422 and "at most 200,000 characters" in huge.text
        deep = admin.save("/contact-groups/new", "Deep", '{"not": ' * 5000 + "{}" + "}" * 5000)
        assert deep.status_code == 422 and "nested" in deep.text
