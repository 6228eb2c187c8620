"""Sign-in, sessions, CSRF and login rate limiting."""

from __future__ import annotations

import httpx
import pytest

from tests.support.admin import csrf
from tests.web.conftest import Ui, sign_in

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_admin_pages_need_a_session(ui: Ui) -> None:
    with httpx.Client(base_url=ui.url) as client:
        answer = client.get("/inbox", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=/inbox"
        # Public pages do not.
        assert client.get("/login").status_code == 200
        assert client.get("/t/c/not-a-token").status_code == 404


def test_login_logout_andcsrf(ui: Ui) -> None:
    with httpx.Client(base_url=ui.url) as client:
        token = csrf(client.get("/login").text)
        wrong = client.post(
            "/login",
            data={"email": ui.email, "password": "nope", "csrf_token": token, "next": "/inbox"},
        )
        assert wrong.status_code == 401 and "Wrong email or password" in wrong.text
        no_csrf = client.post("/login", data={"email": ui.email, "password": ui.password})
        assert no_csrf.status_code == 403
        ok = client.post(
            "/login",
            data={
                "email": ui.email,
                "password": ui.password,
                "csrf_token": token,
                "next": "/inbox",
            },
            follow_redirects=False,
        )
        assert ok.status_code == 303 and ok.headers["location"] == "/inbox"
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        inbox = client.get("/inbox")
        assert inbox.status_code == 200 and "Inbox" in inbox.text
        page_token = csrf(inbox.text)
        assert client.post("/logout", follow_redirects=False).status_code == 403
        out = client.post("/logout", data={"csrf_token": page_token}, follow_redirects=False)
        assert out.status_code == 303
        assert client.get("/inbox", follow_redirects=False).status_code == 303


def test_open_redirect_refused(ui: Ui) -> None:
    with httpx.Client(base_url=ui.url) as client:
        token = csrf(client.get("/login").text)
        ok = client.post(
            "/login",
            data={
                "email": ui.email,
                "password": ui.password,
                "csrf_token": token,
                "next": "//evil.example/",
            },
            follow_redirects=False,
        )
        assert ok.headers["location"] == "/"


def test_login_rate_limit(ui: Ui) -> None:
    with httpx.Client(base_url=ui.url) as client:
        token = csrf(client.get("/login").text)
        for _ in range(5):
            client.post("/login", data={"email": ui.email, "password": "bad", "csrf_token": token})
        blocked = client.post(
            "/login", data={"email": ui.email, "password": ui.password, "csrf_token": token}
        )
        assert blocked.status_code == 429
        assert "Too many failed sign-ins" in blocked.text


@pytest.mark.browser
def test_sign_in_in_a_browser(ui: Ui, page: object) -> None:
    sign_in(page, ui)
    page.goto(f"{ui.url}/inbox")  # type: ignore[attr-defined]
    assert page.locator("h1").inner_text() == "Inbox"  # type: ignore[attr-defined]
