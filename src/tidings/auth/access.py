"""The checks the web kit runs for admin pages and API calls, as ``auth`` answers them."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tidings.auth import service
from tidings.auth.routes import signed_in_user
from tidings.web.access import Access


def _api_key(session: Session, key: str) -> int | None:
    return service.verify_api_key(session=session, key=key)


def access() -> Access:
    """Signed-in users (server-side sessions) and API keys as stored by ``auth``."""
    return Access(api_key=_api_key, user=signed_in_user, login_path="/login")
