"""Each HTTP request is one scope with one database session (``db.session``)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from tidings.db.session import request_scope


class OneSessionPerRequest:
    """Marks every HTTP request as a request scope: a second database session opened
    while the request's own is open fails at once (``SecondSessionError``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with request_scope():
            await self.app(scope, receive, send)
