"""The Websites admin pages: add a site, see its snippet, add a widget with variants,
hostile names and HTML shown escaped, bad input a readable 422."""

from __future__ import annotations

import json

from tests.support.admin import Admin, signed_in
from tests.web.conftest import Ui


def test_sites_pages(ui: Ui) -> None:
    with signed_in(ui, Admin, landing="/sites") as admin:
        page = admin.get("/sites")
        assert page.status_code == 200 and "No websites yet" in page.text
        made = admin.post("/sites", {"name": "<b>Shop</b>", "origin": "https://shop.example.com"})
        assert made.status_code == 303, made.text
        site_url = made.headers["location"]
        answer = admin.get(site_url)
        assert "&lt;b&gt;Shop&lt;/b&gt;" in answer.text and "<b>Shop</b>" not in answer.text
        assert "/p/tidings.js" in answer.text
        bad = admin.post("/sites", {"name": "Again", "origin": "https://shop.example.com/x"})
        assert bad.status_code == 422 and "origin" in bad.text
        variants = [
            {"condition": {"type": "consent", "code_name": "tracking"}, "html": "<i>VIP</i>"}
        ]
        saved = admin.post(
            f"{site_url}/widgets",
            {"key": "hero", "html": "<script>x</script>", "variants": json.dumps(variants)},
        )
        assert saved.status_code == 303, saved.text
        saved = admin.get(site_url)
        assert "&lt;script&gt;x&lt;/script&gt;" in saved.text and "<script>x" not in saved.text
        assert "tracking" in saved.text and "&lt;i&gt;VIP&lt;/i&gt;" in saved.text
        wrong = admin.post(f"{site_url}/widgets", {"key": "hero", "html": "x", "variants": "{"})
        assert wrong.status_code == 422 and "not JSON" in wrong.text
        preview = admin.get(f"{site_url}?contact=99999")
        assert "not found" in preview.text and "the default" in preview.text
        assert admin.get(f"{site_url}?contact=abc").status_code == 422
        assert admin.get("/sites/99999").status_code == 404
