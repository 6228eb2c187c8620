"""Server-side sessions: signing out, a password change and a user's removal end
sessions, so a replayed cookie no longer signs anyone in."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import select

from tests.support.admin import Admin, csrf
from tests.web.conftest import Ui
from tidings.auth import service
from tidings.auth.models import User, UserSession

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
HTML = {"Accept": "text/html"}


@contextmanager
def signed_in(ui: Ui, email: str, password: str) -> Iterator[Admin]:
    with httpx.Client(base_url=ui.url, headers=HTML, timeout=30) as client:
        token = csrf(client.get("/login").text)
        answer = client.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": token},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        yield Admin(client, csrf(client.get("/settings/users").text))


def _cookie(admin: Admin) -> str:
    value = admin.client.cookies.get("tidings_session")
    assert value
    return value


def _replay(ui: Ui, cookie: str) -> int:
    """Status of an admin page asked for with nothing but ``cookie``."""
    with httpx.Client(base_url=ui.url, cookies={"tidings_session": cookie}) as client:
        return client.get("/settings", follow_redirects=False).status_code


def test_sign_out_ends_the_session(ui: Ui) -> None:
    with signed_in(ui, ui.email, ui.password) as admin:
        cookie = _cookie(admin)
        assert _replay(ui, cookie) == 200
        out = admin.post("/logout")
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert "tidings_session=" in out.headers["set-cookie"]
    assert _replay(ui, cookie) == 303


def test_the_cookie_holds_a_signed_random_id_stored_only_as_a_hash(ui: Ui) -> None:
    with signed_in(ui, ui.email, ui.password) as admin:
        cookie = _cookie(admin)
        session_id = cookie.split(".")[0]
        with ui.runtime.session() as session:
            user = session.scalars(select(User)).one()
            rows = list(session.scalars(select(UserSession)))
        assert [r.token_hash for r in rows] == [hashlib.sha256(session_id.encode()).hexdigest()]
        assert rows[0].user_id == user.id and rows[0].expires_at > rows[0].created_at
        assert user.password_hash[-16:] not in cookie and str(user.id) != session_id
        # A forged or altered signature is no session at all.
        assert _replay(ui, session_id + ".forged.signature") == 303
        assert _replay(ui, cookie[:-2] + ("aa" if not cookie.endswith("aa") else "bb")) == 303


def test_password_change_ends_every_other_session(ui: Ui) -> None:
    with (
        signed_in(ui, ui.email, ui.password) as here,
        signed_in(ui, ui.email, ui.password) as elsewhere,
    ):
        old_here, old_elsewhere = _cookie(here), _cookie(elsewhere)
        differ = here.post(
            "/settings/password",
            {
                "current_password": ui.password,
                "new_password": "a new secret",
                "repeat_password": "another secret",
            },
        )
        assert differ.status_code == 422 and "repetition differ" in differ.text
        wrong = here.post(
            "/settings/password",
            {
                "current_password": "not it at all",
                "new_password": "a new secret",
                "repeat_password": "a new secret",
            },
        )
        assert wrong.status_code == 422 and "current password is not right" in wrong.text
        changed = here.post(
            "/settings/password",
            {
                "current_password": ui.password,
                "new_password": "a new secret",
                "repeat_password": "a new secret",
            },
        )
        assert here.flash(changed).startswith("Your password was changed")
        # This browser goes on with a new session; every old cookie is dead.
        assert here.get("/settings", follow_redirects=False).status_code == 200
        assert _cookie(here) != old_here
        assert _replay(ui, old_here) == 303
        assert _replay(ui, old_elsewhere) == 303
        assert elsewhere.get("/settings", follow_redirects=False).status_code == 303
    with httpx.Client(base_url=ui.url) as client:
        token = csrf(client.get("/login").text)
        old = client.post(
            "/login", data={"email": ui.email, "password": ui.password, "csrf_token": token}
        )
        assert old.status_code == 401
        new = client.post(
            "/login",
            data={"email": ui.email, "password": "a new secret", "csrf_token": token},
            follow_redirects=False,
        )
        assert new.status_code == 303


def test_removing_a_user_ends_their_sessions(ui: Ui) -> None:
    with ui.runtime.session() as session:
        bo = service.create_user(session=session, email="bo@example.com", password="bo's secret")
    with (
        signed_in(ui, ui.email, ui.password) as admin,
        signed_in(ui, "bo@example.com", "bo's secret") as other,
    ):
        cookie = _cookie(other)
        page = admin.get("/settings/users").text
        assert f'action="/settings/users/{bo.id}/remove"' in page
        with ui.runtime.session() as session:
            me = service.find_user(session=session, email=ui.email)
        assert f'action="/settings/users/{me.id}/remove"' not in page  # not oneself
        yourself = admin.post(f"/settings/users/{me.id}/remove")
        assert yourself.status_code == 409 and "cannot remove yourself" in yourself.text
        removed = admin.post(f"/settings/users/{bo.id}/remove")
        assert admin.flash(removed) == "User bo@example.com was removed and signed out everywhere."
        assert _replay(ui, cookie) == 303
        assert other.get("/settings", follow_redirects=False).status_code == 303
        assert "bo@example.com" not in admin.get("/settings/users").text
        assert admin.post(f"/settings/users/{bo.id}/remove").status_code == 404
        # Alone now: the last user is never removed, not even by someone else.
        with ui.runtime.session() as session, pytest.raises(Exception, match="last user"):
            service.remove_user(session=session, user_id=me.id)


def test_forms_without_the_csrf_token_are_refused(ui: Ui) -> None:
    with signed_in(ui, ui.email, ui.password) as admin:
        for path, data in [
            ("/settings/users", {"email": "x@example.com", "password": "long enough"}),
            ("/settings/password", {"current_password": ui.password}),
            ("/settings/users/1/remove", {}),
            ("/settings/api-keys", {"name": "k"}),
            ("/logout", {}),
        ]:
            answer = admin.client.post(path, data=data, follow_redirects=False)
            assert answer.status_code == 403, path
            assert "CSRF check failed" in answer.text
            forged = admin.client.post(
                path, data={**data, "csrf_token": "A" * 86}, follow_redirects=False
            )
            assert forged.status_code == 403, path
        # Each page masks the token afresh; every mask of the session's token works.
        first, second = csrf(admin.get("/settings").text), csrf(admin.get("/settings").text)
        assert first != second
        key = admin.client.post(
            "/settings/api-keys", data={"name": "k", "csrf_token": first}, follow_redirects=False
        )
        assert key.status_code == 201
