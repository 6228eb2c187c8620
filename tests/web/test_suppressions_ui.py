"""The Suppressions page and the contact page's bounces over real HTTP: search, add,
remove, CSV import and export, bad input, escaping."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from tests.support import world
from tests.support.admin import Admin, signed_in
from tests.web.conftest import Ui
from tidings.bounces.models import BounceKind
from tidings.bounces.service import record_bounce, record_complaint
from tidings.sending.models import Delivery
from tidings.sending.service import start_mailout
from tidings.suppression import service as suppression
from tidings.suppression.models import SuppressionReason

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

IMPORT = (
    b"Email Address,Reason\r\n"
    b"one@example.com,hard_bounce\r\n"
    b"TWO@Example.com,\r\n"
    b"not an address,manual\r\n"
    b"three@example.com,whatever\r\n"
    b'=HYPERLINK("http://evil.test")@x.com,manual\r\n'
    b"one@example.com,complaint\r\n"
    b"caf\xe9@example.com,manual\r\n"  # Windows-1252, as a spreadsheet writes it
)


def _upload(admin: Admin, data: bytes, reason: str = "manual") -> str:
    answer = admin.client.post(
        "/suppressions/import",
        data={"csrf_token": admin.token, "reason": reason},
        files={"file": ("list.csv", data, "text/csv")},
    )
    return f"{answer.status_code}\n{answer.text}"


def test_suppressions_page(ui: Ui) -> None:
    with ui.runtime.session() as session:
        suppression.suppress(
            session=session,
            email="xss@example.com",
            reason=SuppressionReason.HARD_BOUNCE,
            detail="550 <script>alert(1)</script>",
        )
    with signed_in(ui, landing="/suppressions") as admin:
        page = admin.get("/suppressions").text
        assert "xss@example.com" in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
        assert 'href="/suppressions"' in page and 'aria-current="page"' in page
        # Add: bad input is a readable page, good input a flash.
        bad = admin.post("/suppressions", {"email": "nope", "reason": "manual"})
        assert bad.status_code == 422 and "not valid" in bad.text
        bad_reason = admin.post("/suppressions", {"email": "a@example.com", "reason": "x"})
        assert bad_reason.status_code == 422 and "unknown reason" in bad_reason.text
        # Form fields drop NUL characters (as every admin form does).
        nul = admin.post("/suppressions", {"email": "nul\x00@example.com", "reason": "manual"})
        assert admin.flash(nul) == "The address is suppressed."
        added = admin.post("/suppressions", {"email": " Added@Example.com ", "reason": "manual"})
        assert admin.flash(added) == "The address is suppressed."
        again = admin.post("/suppressions", {"email": "added@example.com", "reason": "manual"})
        assert admin.flash(again) == "The address was already suppressed."
        # Without the CSRF token nothing happens.
        forged = admin.client.post("/suppressions", data={"email": "csrf@example.com"})
        assert forged.status_code == 403
        # Search and filter.
        found = admin.get("/suppressions", params={"q": "ADDED"}).text
        assert "added@example.com" in found and "xss@example.com" not in found
        hard = admin.get("/suppressions", params={"reason": "hard_bounce"}).text
        assert "xss@example.com" in hard and "added@example.com" not in hard
        assert admin.get("/suppressions", params={"reason": "<b>"}).status_code == 200
        assert admin.get("/suppressions", params={"before": "0"}).status_code == 422
        assert admin.get("/suppressions", params={"q": "x" * 500}).status_code == 422
        # Remove.
        with ui.runtime.session() as session:
            row = suppression.find(session, "added@example.com")
            assert row is not None
            row_id = row.id
        removed = admin.post(f"/suppressions/{row_id}/remove")
        assert "later sends reach the address again" in admin.flash(removed)
        assert admin.post("/suppressions/99999999/remove").status_code == 303
        assert admin.post(f"/suppressions/{2**70}/remove").status_code == 422
    with ui.runtime.session() as session:
        assert not suppression.is_suppressed(session, "added@example.com")
        assert not suppression.is_suppressed(session, "csrf@example.com")
        assert suppression.is_suppressed(session, "nul@example.com")


def test_csv_import_and_export(ui: Ui) -> None:
    with signed_in(ui, landing="/suppressions") as admin:
        result = _upload(admin, IMPORT)
        assert result.startswith("200")
        assert re.search(r"<strong>3</strong> added, 1 already suppressed, 3 skipped", result)
        assert "unknown reason" in result and "not valid" in result
        assert "=HYPERLINK(&#34;http://evil.test&#34;)@x.com" in result  # shown, escaped
        for garbage in (b"", b"\x00\xff\xfe garbage", b"name,phone\r\nAda,123\r\n"):
            answer = _upload(admin, garbage)
            assert answer.startswith("422"), answer[:300]
        plain = _upload(admin, b"four@example.com\nfive@example.com\n", reason="unsubscribe")
        assert "<strong>2</strong> added" in plain
        exported = admin.get("/suppressions/export.csv")
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        lines = exported.text.splitlines()
        assert lines[0] == "email,reason,detail,created_at"
        emails = {line.split(",")[0]: line.split(",")[1] for line in lines[1:]}
        assert emails == {
            "one@example.com": "hard_bounce",
            "two@example.com": "manual",
            "café@example.com": "manual",
            "four@example.com": "unsubscribe",
            "five@example.com": "unsubscribe",
        }
        # What was exported imports again as "already suppressed".
        back = _upload(admin, exported.content)
        assert "<strong>0</strong> added, 5 already suppressed, 0 skipped" in back


def test_contact_page_shows_bounces_complaints_and_suppression(ui: Ui) -> None:
    at = datetime(2025, 12, 1, tzinfo=UTC)
    with ui.runtime.session() as session:
        w = world.build(session, consenting=0, anonymous=2)
        mailout = start_mailout(session=session, email_id=w.email_id)
        session.execute(
            update(Delivery).where(Delivery.mailout_id == mailout.id).values(status="sent")
        )
        first, second = (
            session.query(Delivery.id, Delivery.contact_id).order_by(Delivery.id).limit(2).all()
        )
        record_bounce(
            session=session,
            delivery_id=first[0],
            kind=BounceKind.SOFT,
            diagnostic="452 4.2.2 <b>mailbox</b> full",
            at=at,
            status="4.2.2",
        )
        record_complaint(session=session, delivery_id=second[0], feedback_type="abuse", at=at)
    with signed_in(ui) as admin:
        soft = admin.get(f"/contacts/{first[1]}").text
        assert "Bounces and complaints" in soft and "soft bounce" in soft
        assert "4.2.2" in soft and "&lt;b&gt;mailbox&lt;/b&gt; full" in soft
        assert "suppressed:" not in soft  # one soft bounce is below the limit
        complained = admin.get(f"/contacts/{second[1]}").text
        assert "complaint" in complained and "suppressed: complaint" in complained
        assert "suppression list" in complained
