"""Builder inputs several kinds share (one form field serves them all, so a row keeps
the email or the window chosen when it changes kind)."""

from __future__ import annotations

from tidings.conditions import validate
from tidings.conditions.builder import Input

EMAIL = Input(
    "email_id",
    "select",
    "Email",
    source="email",
    empty="any email",
    integer=True,
    width="email",
    role="email",
)
WITHIN_DAYS = Input(
    "within_days",
    "number",
    "Within the last days",
    lead="in the last",
    tail="days",
    placeholder="any",
    integer=True,
    minimum=1,
    maximum=validate.MAX_WITHIN_DAYS,
    width="num",
)
MIN_COUNT = Input(
    "min_count",
    "number",
    "At least how many times",
    lead="at least",
    tail="times",
    placeholder="1",
    integer=True,
    minimum=1,
    width="num",
)
