"""Export (B10) on SQLite and PostgreSQL: the admin download and the API give the same
JSON, holding the contact's fields, agreements, subscriptions, deliveries and activities."""

from __future__ import annotations

import json

from tests.privacy.test_erasure import TARGET, build_rich
from tests.support.admin import signed_in
from tests.support.live import LiveServer
from tests.support.smtp import SmtpSink
from tidings.runtime import Runtime


def test_export_holds_everything_about_the_contact(
    live: tuple[Runtime, LiveServer], smtp_sink: SmtpSink, api_key: str
) -> None:
    rich = build_rich(live, smtp_sink, api_key)
    with signed_in(rich.ui) as admin:
        download = admin.get(f"/contacts/{rich.contact_id}/export")
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment;")
    data = json.loads(download.text)
    assert data == rich.api.get(f"/api/v1/contacts/{rich.contact_id}/export").json()

    assert data["contact"]["email"] == TARGET
    assert data["contact"]["fields"] == {"backup": TARGET.upper(), "city": "Oslo"}
    agreements = {a["consent"]: a for a in data["consent_agreements"]}
    assert set(agreements) == {"tracking", "profile"}
    assert agreements["profile"]["source"] == "form" and agreements["profile"]["version"] == 1
    assert agreements["profile"]["text"] == "Profile v1"
    assert sorted(s["list"] for s in data["subscriptions"]) == ["Newsletter", "Second"]
    assert [d["status"] for d in data["deliveries"]] == ["sent"]
    assert f"https://example.com/hello?who={TARGET}" in {
        link["url"] for link in data["personalized_links"]
    }
    clicks = [a["value"] for a in data["activities"] if a["type"] == "email_click"]
    assert sorted(clicks) == sorted(
        [
            "https://example.com/pricing?plan=pro&ref=mail",
            "https://example.com/blog",
            "https://example.com/pricing?plan=pro&ref=mail",
            f"https://example.com/hello?who={TARGET}",
        ]
    )
    assert any(a["type"] == "email_open" for a in data["activities"])
    other = rich.api.get(f"/api/v1/contacts/{rich.other_id}/export").json()
    assert other["activities"] == []  # no consent: nothing identified about them
    assert TARGET not in json.dumps(other)
    rich.api.close()
