"""The signed links and tokens of forms: confirmation, preferences, the page's token.

A confirmation link signs the submission id and the moment it stops working
(``/f/confirm/<token>``); the preference center's link signs a delivery id
(``/preferences/<token>``, added to every regular email). Both use the tracking
token signer (varints + truncated HMAC, one canonical spelling), with purposes of
their own. The hosted page carries a timestamped signed token naming the form and the
consent text versions it showed, so the versions agreed are those the person read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer

from tidings.runtime import Runtime
from tidings.sending.tokens import CONFIRM, PREFERENCES, preferences_path
from tidings.tracking.services import signer

PAGE_TOKEN_MAX_AGE = 24 * 3600  # seconds a rendered form may wait before it is posted


@dataclass(frozen=True)
class ConfirmLink:
    """What a verified confirmation token says."""

    submission_id: int
    expires_at: datetime


def confirm_token(runtime: Runtime, submission_id: int, created_at: datetime) -> str:
    """The token of a submission's confirmation link; it expires after
    ``TIDINGS_FORM_PENDING_DAYS``."""
    expires = created_at + timedelta(days=runtime.settings.form_pending_days)
    return signer(runtime).make(CONFIRM, submission_id, math.ceil(expires.timestamp()))


def confirm_url(runtime: Runtime, submission_id: int, created_at: datetime) -> str:
    """The full confirmation URL of a submission."""
    return f"{runtime.base_url}/f/confirm/{confirm_token(runtime, submission_id, created_at)}"


def read_confirm(runtime: Runtime, token: str) -> ConfirmLink | None:
    """The submission and expiry a confirmation token names, if it is intact."""
    data = signer(runtime).read(CONFIRM, token)
    if data is None or data.delivery_id < 1:
        return None
    try:
        expires = datetime.fromtimestamp(data.link_id, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return ConfirmLink(submission_id=data.delivery_id, expires_at=expires)


def preferences_url(runtime: Runtime, delivery_id: int) -> str:
    """The preference center's URL for the contact of a delivery."""
    return runtime.base_url + preferences_path(signer(runtime), delivery_id)


def read_preferences(runtime: Runtime, token: str) -> int | None:
    """The delivery id a preferences token names, if it is intact."""
    data = signer(runtime).read(PREFERENCES, token)
    if data is None or data.link_id != 0 or data.delivery_id < 1:
        return None
    return data.delivery_id


def _page_serializer(runtime: Runtime) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(runtime.secret_key, salt="tidings-form-page")


def page_token(runtime: Runtime, form_id: int, shown: dict[int, int]) -> str:
    """The token the hosted page posts back: the form and, per consent id, the text
    version id it showed."""
    return str(_page_serializer(runtime).dumps([form_id, sorted(shown.items())]))


def read_page_token(runtime: Runtime, token: str, form_id: int) -> dict[int, int] | None:
    """The consent text versions the page showed (consent id -> text id), or None when
    the token is missing, tampered, too old or for another form."""
    if not token or len(token) > 2000:
        return None
    try:
        data = _page_serializer(runtime).loads(token, max_age=PAGE_TOKEN_MAX_AGE)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(data, list) or len(data) != 2 or data[0] != form_id:
        return None
    shown: dict[int, int] = {}
    for pair in data[1]:
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(isinstance(v, int) for v in pair)
        ):
            return None
        shown[pair[0]] = pair[1]
    return shown
