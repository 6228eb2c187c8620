"""Checks an operator should hear about before sending real mail."""

from __future__ import annotations


def base_url_warning(base_url: str) -> str | None:
    """A warning when tracking and unsubscribe links would not be https.

    One-click unsubscribe (RFC 8058) needs an https ``List-Unsubscribe`` URL; large
    mailbox providers ignore the header otherwise and rate such mail lower.
    """
    if base_url.lower().startswith("https://"):
        return None
    return (
        f"TIDINGS_BASE_URL is {base_url}, not https: one-click unsubscribe (RFC 8058) "
        "needs https, and mailbox providers ignore List-Unsubscribe without it. "
        "Use https for any real sending."
    )
