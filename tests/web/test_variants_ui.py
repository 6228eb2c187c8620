"""Widget variants edited in the admin over real HTTP without scripts: an email widget's
variants page and a website widget's form post each variant's condition JSON and
content; the service checks them as the API does; a refusal is a readable message
beside the variant at fault with what was typed kept (escaped), never a 500."""

from __future__ import annotations

import json
import re

from tests.support.admin import Admin, signed_in
from tests.web.conftest import Ui
from tests.web.test_builder_ui import _create, _email, _keys

PRICING = {"all": [{"type": "clicked_email", "url_contains": "/pricing"}]}
SCRIPT = "<b>Fan</b><script>alert(1)</script>"


def _variant(index: int, condition: object, **fields: str) -> dict[str, str]:
    text = condition if isinstance(condition, str) else json.dumps(condition)
    return {f"v{index}.condition": text, **{f"v{index}.{k}": v for k, v in fields.items()}}


def _html_widget(admin: Admin, ui: Ui, email_id: int) -> str:
    before = set(_keys(ui, email_id, "body"))
    added = admin.post(
        f"/emails/{email_id}/builder/widgets", {"container": "section:body", "type": "html"}
    )
    assert added.status_code == 303
    [key] = set(_keys(ui, email_id, "body")) - before
    return key


def _stored_variants(ui: Ui, email_id: int, key: str) -> list[dict[str, object]]:
    document = _email(ui, email_id).builder
    assert document is not None
    for section in document["sections"]:
        for widget in section["widgets"]:
            if widget["key"] == key:
                return list(widget["variants"])
    raise AssertionError(key)


def test_email_widget_variants_are_saved_in_order_and_refusals_are_readable(ui: Ui) -> None:
    with signed_in(ui, landing="/emails") as admin:
        email_id = _create(admin, template="note")
        key = _html_widget(admin, ui, email_id)
        url = f"/emails/{email_id}/builder/widgets/{key}/variants"
        builder = admin.get(f"/emails/{email_id}/builder").text
        assert f'href="{url}"' in builder and "Add variants" in builder
        empty = admin.get(url)
        assert (
            empty.status_code == 200 and "No variants: every contact gets the default" in empty.text
        )
        assert 'id="tpl-variant"' in empty.text and 'name="v__v__.condition"' in empty.text

        # Two variants, first match wins: the order posted is the order stored.
        saved = admin.post(
            url,
            {
                **_variant(3, PRICING, html=SCRIPT),
                **_variant(1, {"all": []}, html="<p>Everyone else</p>"),
            },
        )
        assert saved.status_code == 303, saved.text[:2000]
        stored = _stored_variants(ui, email_id, key)
        assert [v["condition"] for v in stored] == [PRICING, {"all": []}]
        assert stored[1]["html"] == "<p>Everyone else</p>"
        page = admin.get(url).text
        assert "Saved: 2 variants." in page
        assert "clicked a link containing" in page and "/pricing" in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
        assert page.count("data-variant ") == 2 + 1  # two variants and the template
        assert "Edit variants" in admin.get(f"/emails/{email_id}/builder").text

        # Refusals: not JSON, a wrong value (its row outlined), too much HTML, too many.
        bad_json = admin.post(url, _variant(0, '{"all": [<script>', html="x"))
        assert bad_json.status_code == 422
        assert "condition: not valid JSON" in bad_json.text
        assert 'value="{&#34;all&#34;: [&lt;script&gt;"' in bad_json.text  # kept, escaped
        assert "[<script>" not in bad_json.text
        wrong = {"all": [{"type": "clicked_email", "url_contains": "/x", "within_days": 0}]}
        refused = admin.post(url, _variant(0, wrong, html="x"))
        assert refused.status_code == 422
        assert "condition.all[0].within_days" in refused.text
        assert re.search(r'class="cond-row invalid"', refused.text)
        huge = admin.post(url, _variant(0, PRICING, html="y" * 250_000))
        assert huge.status_code == 422 and "html: at most 200,000 characters" in huge.text
        nul = {"all": [{"type": "clicked_email", "url_contains": "a\u0000b"}]}
        refused_nul = admin.post(url, _variant(0, nul, html="x"))
        assert refused_nul.status_code == 422 and "url_contains" in refused_nul.text
        many: dict[str, str] = {}
        for index in range(21):
            many.update(_variant(index, PRICING, html="z"))
        assert admin.post(url, many).status_code == 422
        # Nothing refused was stored.
        assert [v["condition"] for v in _stored_variants(ui, email_id, key)] == [
            PRICING,
            {"all": []},
        ]

        # A NUL character means nothing in a form: dropped, never a database error.
        assert admin.post(url, _variant(0, PRICING, html="a\x00b")).status_code == 303
        assert _stored_variants(ui, email_id, key)[0]["html"] == "ab"

        # Removing them all leaves the default.
        assert admin.post(url, {}).status_code == 303
        assert _stored_variants(ui, email_id, key) == []
        assert admin.get(f"/emails/{email_id}/builder/widgets/nope/variants").status_code == 404
        before = set(_keys(ui, email_id, "body"))
        admin.post(
            f"/emails/{email_id}/builder/widgets", {"container": "section:body", "type": "columns"}
        )
        [columns] = set(_keys(ui, email_id, "body")) - before
        columns_page = admin.get(f"/emails/{email_id}/builder/widgets/{columns}/variants")
        assert columns_page.status_code == 422 and "columns have no variants" in columns_page.text
        assert f"/widgets/{columns}/variants" not in admin.get(f"/emails/{email_id}/builder").text
        no_csrf = admin.client.post(url, data=_variant(0, PRICING, html="x"))
        assert no_csrf.status_code == 403


def _site_widgets(ui: Ui, site_id: int) -> dict[str, tuple[str, list[dict[str, object]]]]:
    from tidings.personalization import service as sites

    with ui.runtime.session() as session:
        return {
            w.key: (w.html, list(w.variants or []))
            for w in sites.widgets_of(session=session, site_id=site_id)
        }


def test_site_widget_variants_from_the_builders_and_the_advanced_json(ui: Ui) -> None:
    with signed_in(ui, landing="/sites") as admin:
        made = admin.post("/sites", {"name": "Shop", "origin": "https://shop.example.com"})
        assert made.status_code == 303
        site_url = made.headers["location"]
        site_id = int(site_url.rsplit("/", 1)[1])
        page = admin.get(site_url).text
        assert 'id="tpl-variant"' in page and 'name="v__v__.html"' in page
        assert 'id="w-variants"' not in page  # the JSON textarea is gone

        form = {"key": "hero", "html": "<p>Plans</p>", "variants_form": "1"}
        saved = admin.post(
            f"{site_url}/widgets",
            {**form, **_variant(4, PRICING, html=SCRIPT), **_variant(2, {"all": []}, html="B")},
        )
        assert saved.status_code == 303, saved.text[:2000]
        html, variants = _site_widgets(ui, site_id)["hero"]
        assert html == "<p>Plans</p>"
        assert variants == [
            {"condition": PRICING, "html": SCRIPT},
            {"condition": {"all": []}, "html": "B"},
        ]
        page = admin.get(site_url).text
        assert "clicked a link containing" in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
        assert 'name="v0.html"' in page and 'name="v1.html"' in page  # numbered in order

        # Refused: the form comes back with what was typed, the message beside it.
        wrong = {"all": [{"type": "clicked_email", "within_days": -1}]}
        refused = admin.post(f"{site_url}/widgets", {**form, **_variant(0, wrong, html="<i>x</i>")})
        assert refused.status_code == 422
        assert "variants[0].condition.all[0].within_days" in refused.text
        assert 'class="cond-row invalid"' in refused.text and "&lt;i&gt;x&lt;/i&gt;" in refused.text
        bad_json = admin.post(f"{site_url}/widgets", {**form, **_variant(0, "{nope", html="x")})
        assert bad_json.status_code == 422 and "condition: not valid JSON" in bad_json.text
        huge = admin.post(
            f"{site_url}/widgets", {**form, **_variant(0, PRICING, html="y" * 250_000)}
        )
        assert huge.status_code == 422 and "at most 200,000 characters" in huge.text
        nul = admin.post(f"{site_url}/widgets", {**form, "key": "n\x00ul", "html": "<p>\x00</p>"})
        assert nul.status_code == 303 and _site_widgets(ui, site_id)["nul"][0] == "<p></p>"
        long_key = admin.post(f"{site_url}/widgets", {**form, "key": "k" * 5000})
        assert long_key.status_code == 422
        assert _site_widgets(ui, site_id)["hero"][1][0]["condition"] == PRICING

        # The Advanced box's own button saves exactly its JSON.
        advanced = [{"condition": {"type": "consent", "code_name": "tracking"}, "html": "VIP"}]
        by_json = admin.post(
            f"{site_url}/widgets",
            {
                **form,
                **_variant(0, PRICING, html="ignored"),
                "use_json": "1",
                "variants": json.dumps(advanced),
            },
        )
        assert by_json.status_code == 303
        assert _site_widgets(ui, site_id)["hero"][1] == advanced
        not_json = admin.post(f"{site_url}/widgets", {**form, "use_json": "1", "variants": "[{"})
        assert not_json.status_code == 422 and "variants: not JSON" in not_json.text


def test_a_button_variant_is_compiled_and_a_sent_email_locks_its_variants(ui: Ui) -> None:
    from tests.support import world
    from tidings.sending.service import start_mailout

    with ui.runtime.session() as session:
        w = world.build(session, consenting=1, anonymous=0)
    with signed_in(ui, landing="/emails") as admin:
        email_id = _create(admin, w.list_id, template="note")
        before = set(_keys(ui, email_id, "body"))
        admin.post(
            f"/emails/{email_id}/builder/widgets", {"container": "section:body", "type": "button"}
        )
        [key] = set(_keys(ui, email_id, "body")) - before
        url = f"/emails/{email_id}/builder/widgets/{key}/variants"
        fields = {"label": "See <your> plans", "url": "https://example.com/pricing?a=1&b=2"}
        fields |= {"background": "#123456", "color": "#ffffff", "align": "left"}
        saved = admin.post(url, _variant(0, PRICING, **fields))
        assert saved.status_code == 303, saved.text[:2000]
        [variant] = _stored_variants(ui, email_id, key)
        assert variant["label"] == "See <your> plans" and variant["background"] == "#123456"
        assert variant["color"] is None  # the default colour follows the design
        compiled = _email(ui, email_id).widgets
        assert compiled is not None and compiled[key]["variants"][0]["condition"] == PRICING
        page = admin.get(url).text
        assert 'value="See &lt;your&gt; plans"' in page and 'name="v0.url"' in page
        missing = admin.post(url, _variant(0, PRICING, **{**fields, "label": " "}))
        assert missing.status_code == 422 and "label: is required" in missing.text

        # The builder's preview as a contact says which variant they get and why.
        preview = f"/emails/{email_id}/builder/preview?preview_contact_id={w.consenting[0]}"
        assert "the default: the contact matches none of the 1 variants" in admin.get(preview).text
        consenting = {"type": "consent", "code_name": "tracking"}
        assert admin.post(url, _variant(0, consenting, **fields)).status_code == 303
        shown = admin.get(preview).text
        assert "variant 1 of 1: the contact matches" in shown and "See &lt;your&gt; plans" in shown

        with ui.runtime.session() as session:
            start_mailout(session=session, email_id=email_id)
        locked = admin.get(url)
        assert locked.status_code == 200 and "Content locked." in locked.text
        assert "Save variants" not in locked.text
        refused = admin.post(url, _variant(0, {"all": []}, **fields))
        assert refused.status_code == 409 and "Not saved" in refused.text
        assert _stored_variants(ui, email_id, key)[0]["condition"] == consenting
