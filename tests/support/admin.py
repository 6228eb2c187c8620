"""An httpx client signed in to the admin UI through its login form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, overload

import httpx

if TYPE_CHECKING:
    from tests.web.conftest import Ui


def csrf(html: str) -> str:
    """The CSRF token of a page's forms."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@dataclass
class Admin:
    """A signed-in client that posts forms with the session's CSRF token."""

    client: httpx.Client
    token: str

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        form = {**(data or {}), "csrf_token": self.token}
        return self.client.post(path, data=form, follow_redirects=False, **kwargs)

    def flash(self, answer: httpx.Response) -> str:
        """Follow a redirect and return the flash message shown."""
        assert answer.status_code == 303, answer.text[:800]
        html = self.get(answer.headers["location"]).text
        match = re.search(r'<div class="flash[^"]*" role="status">(.*?)</div>', html, re.S)
        return match.group(1).strip() if match else ""


A = TypeVar("A", bound=Admin)


@overload
def signed_in(ui: Ui, *, landing: str = "/contacts") -> AbstractContextManager[Admin]: ...
@overload
def signed_in(ui: Ui, kind: type[A], landing: str = "/contacts") -> AbstractContextManager[A]: ...
def signed_in(
    ui: Ui, kind: type[Admin] = Admin, landing: str = "/contacts"
) -> AbstractContextManager[Admin]:
    """Sign in through the login form, as a browser would."""
    return _signed_in(ui, kind, landing)


@contextmanager
def _signed_in(ui: Ui, kind: type[A], landing: str) -> Iterator[A]:
    headers = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    with httpx.Client(base_url=ui.url, headers=headers, timeout=30) as client:
        token = csrf(client.get("/login").text)
        answer = client.post(
            "/login",
            data={"email": ui.email, "password": ui.password, "csrf_token": token, "next": "/"},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        yield kind(client, csrf(client.get(landing).text))
