"""The browser's two cookies: the signed session id, and the next page's flash message.

The session cookie carries a random id and nothing else, signed with the app's secret.
Whether that id belongs to a signed-in user is decided server-side (``Access.user``,
provided by ``auth``, which stores only a hash of the id); a browser that has not
signed in still gets an id, which its CSRF tokens are derived from.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from http.cookies import SimpleCookie

from fastapi import Request
from itsdangerous import BadSignature, TimestampSigner, URLSafeSerializer
from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "tidings_session"
FLASH_COOKIE = "tidings_flash"
SCOPE_KEY = "tidings.browser"


@dataclass
class BrowserState:
    """What the request's cookies said, and what the answer tells the browser."""

    session_id: str | None = None
    issued: bool = False  # a new session id goes out with the answer
    ended: bool = False  # the session cookie is cleared
    flash_in: tuple[str, str] | None = None
    flash_out: tuple[str, str] | None = None
    flash_taken: bool = False

    def new_session_id(self) -> str:
        """Replace the session id by a new random one (at sign-in: never reuse the id
        a browser had before, so a planted id cannot become a signed-in one)."""
        self.session_id = secrets.token_urlsafe(32)
        self.issued, self.ended = True, False
        return self.session_id

    def end_session(self) -> None:
        """Forget the session id; the browser drops its cookie."""
        self.session_id = None
        self.issued, self.ended = False, True


def browser_state(request: Request) -> BrowserState:
    """The request's ``BrowserState`` (set by ``BrowserSessions``)."""
    state = request.scope.get(SCOPE_KEY)
    if not isinstance(state, BrowserState):
        raise RuntimeError("BrowserSessions middleware is not installed")
    return state


def session_id(request: Request, *, create: bool = False) -> str | None:
    """The browser's session id; with ``create``, one is issued if it has none."""
    state = browser_state(request)
    if state.session_id is None and create:
        return state.new_session_id()
    return state.session_id


def secret_of(request: Request) -> bytes:
    """The key the kit derives per-session values (CSRF tokens) from."""
    key = request.scope.get(SCOPE_KEY + ".key")
    if not isinstance(key, bytes):
        raise RuntimeError("BrowserSessions middleware is not installed")
    return key


class BrowserSessions:
    """Reads and writes the session and flash cookies (pure ASGI)."""

    def __init__(
        self, app: ASGIApp, *, secret: str, max_age: int, https_only: bool = False
    ) -> None:
        self.app = app
        self.key = (secret + ":browser").encode()
        self.sessions = TimestampSigner(secret, salt="tidings.session")
        self.flashes = URLSafeSerializer(secret, salt="tidings.flash")
        self.max_age = max_age
        self.https_only = https_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = self._read(scope)
        scope[SCOPE_KEY] = state
        scope[SCOPE_KEY + ".key"] = self.key
        secure = self.https_only or scope.get("scheme") == "https"

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for cookie in self._cookies(state, secure):
                    headers.append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookies)

    def _read(self, scope: Scope) -> BrowserState:
        raw = b"; ".join(v for k, v in scope["headers"] if k == b"cookie").decode("latin-1")
        cookies = cookie_parser(raw) if raw else {}
        state = BrowserState()
        value = cookies.get(SESSION_COOKIE)
        if value:
            try:
                state.session_id = self.sessions.unsign(value, max_age=self.max_age).decode()
            except BadSignature:
                state.session_id = None
        flash = cookies.get(FLASH_COOKIE)
        if flash:
            try:
                kind, text = self.flashes.loads(flash)
                state.flash_in = (str(kind), str(text))
            except (BadSignature, ValueError, TypeError):
                state.flash_taken = True  # a broken cookie is dropped
        return state

    def _cookies(self, state: BrowserState, secure: bool) -> list[str]:
        out = []
        if state.issued and state.session_id:
            signed = self.sessions.sign(state.session_id).decode()
            out.append(self._cookie(SESSION_COOKIE, signed, self.max_age, secure))
        elif state.ended:
            out.append(self._cookie(SESSION_COOKIE, "", 0, secure))
        if state.flash_out is not None:
            data = self.flashes.dumps(list(state.flash_out))
            out.append(self._cookie(FLASH_COOKIE, data, None, secure))
        elif state.flash_taken:
            out.append(self._cookie(FLASH_COOKIE, "", 0, secure))
        return out

    @staticmethod
    def _cookie(name: str, value: str, max_age: int | None, secure: bool) -> str:
        cookie: SimpleCookie = SimpleCookie()
        cookie[name] = value
        morsel = cookie[name]
        morsel["path"] = "/"
        morsel["httponly"] = True
        morsel["samesite"] = "lax"
        if max_age is not None:
            morsel["max-age"] = max_age
            if max_age == 0:
                morsel["expires"] = "Thu, 01 Jan 1970 00:00:00 GMT"
        if secure:
            morsel["secure"] = True
        return morsel.OutputString()
