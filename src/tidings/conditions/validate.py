"""Readers for leaf keys: each rejects a bad value with ``Invalid`` naming its path."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping

from tidings.errors import Invalid

MAX_ID = 2**63 - 1
MAX_WITHIN_DAYS = 36_500
MAX_COUNT = 1_000_000
MAX_TEXT = 1_000


def check_keys(
    data: Mapping[str, object],
    path: str,
    *,
    required: Collection[str],
    optional: Collection[str] = (),
) -> None:
    """Refuse unknown keys (typos like ``within_day``) and missing required ones."""
    allowed = {"type", *required, *optional}
    for key in data:
        if key not in allowed:
            known = ", ".join(sorted(allowed - {"type"}))
            raise Invalid(f"{path}.{key}: unknown key for type {data.get('type')!r} ({known})")
    for key in required:
        if key not in data:
            raise Invalid(f"{path}.{key}: is required")


def positive_int(
    data: Mapping[str, object], key: str, path: str, *, maximum: int = MAX_ID
) -> int | None:
    """An optional positive integer (absent or null gives None)."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= maximum:
        raise Invalid(f"{path}.{key}: must be a positive integer up to {maximum}")
    return value


def required_int(data: Mapping[str, object], key: str, path: str) -> int:
    """A required positive integer id."""
    value = positive_int(data, key, path)
    if value is None:
        raise Invalid(f"{path}.{key}: must be a positive integer up to {MAX_ID}")
    return value


def text(data: Mapping[str, object], key: str, path: str) -> str | None:
    """An optional non-empty string (absent or null gives None)."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT or "\x00" in value:
        raise Invalid(f"{path}.{key}: must be a non-empty string of at most {MAX_TEXT} characters")
    return value


def required_text(data: Mapping[str, object], key: str, path: str) -> str:
    """A required non-empty string."""
    value = text(data, key, path)
    if value is None:
        raise Invalid(f"{path}.{key}: must be a non-empty string of at most {MAX_TEXT} characters")
    return value


def scalar(data: Mapping[str, object], key: str, path: str) -> str | int | float | bool:
    """A required string, finite number or boolean."""
    value = data.get(key)
    if isinstance(value, str) and len(value) <= MAX_TEXT and "\x00" not in value:
        return value
    if isinstance(value, bool) or (isinstance(value, int) and abs(value) <= MAX_ID):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise Invalid(f"{path}.{key}: must be a string, a number or a boolean")
