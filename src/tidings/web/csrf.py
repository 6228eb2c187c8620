"""CSRF protection for every admin form and htmx request.

A browser's CSRF token is derived from its session id (``web.browser``) with the
app's key, so it needs no storage and changes when the session does (at sign-in).
Forms carry it as ``csrf_token`` and htmx sends it as the ``X-CSRF-Token`` header;
unsafe methods without the right token are refused with 403. Each page gets the token
under a fresh random mask, so compressed pages never repeat the same secret bytes
(BREACH).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from fastapi import HTTPException, Request

from tidings.web.browser import secret_of, session_id

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN_BYTES = 32


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _secret(request: Request, sid: str) -> bytes:
    return hmac.new(secret_of(request), b"csrf:" + sid.encode(), hashlib.sha256).digest()


def csrf_token(request: Request) -> str:
    """A token for the browser's session (one is issued if it has none), masked."""
    sid = session_id(request, create=True)
    assert sid is not None
    mask = secrets.token_bytes(TOKEN_BYTES)
    masked = mask + _xor(mask, _secret(request, sid))
    return base64.urlsafe_b64encode(masked).decode().rstrip("=")


def _unmask(token: str) -> bytes | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 2 * TOKEN_BYTES:
        return None
    return _xor(raw[:TOKEN_BYTES], raw[TOKEN_BYTES:])


async def csrf_protect(request: Request) -> None:
    """Dependency: refuse unsafe requests whose token is missing or wrong."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get("x-csrf-token")
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get("csrf_token")
            sent = value if isinstance(value, str) else None
    sid = session_id(request)
    secret = _unmask(sent) if sent and len(sent) < 200 else None
    if sid is None or secret is None or not hmac.compare_digest(secret, _secret(request, sid)):
        raise HTTPException(
            status_code=403,
            detail="The form expired or did not come from "
            "this site (CSRF check failed). Reload the page and try again.",
        )
