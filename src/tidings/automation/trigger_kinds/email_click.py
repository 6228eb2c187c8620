"""``{"type": "email_click", "email_id"?, "link_id"?, "url_contains"?}``: a contact's
recorded click (any email, one email, one link, or links whose URL contains S)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from tidings.automation import fields
from tidings.automation.trigger_kinds.base import ACTIVITY_CREATED, TriggerKind, contains

KEYS = ("email_id", "link_id", "url_contains")


def parse(session: Session, data: Mapping[str, Any], path: str) -> dict[str, Any]:
    fields.check_keys(data, path, required=(), optional=KEYS)
    email_id = fields.optional_id(data, "email_id", path)
    link_id = fields.optional_id(data, "link_id", path)
    fields.optional_text(data, "url_contains", path)
    fields.email(session, email_id, f"{path}.email_id", purpose=None)
    fields.link(session, link_id, email_id, f"{path}.link_id")
    return {"type": "email_click"} | fields.normalized(data, KEYS)


def matches(trigger: Mapping[str, Any], event_type: str, data: Mapping[str, Any]) -> bool:
    if event_type != ACTIVITY_CREATED or data.get("type") != "email_click":
        return False
    for key in ("email_id", "link_id"):
        if trigger.get(key) is not None and data.get(key) != trigger[key]:
            return False
    return contains(data.get("url"), trigger.get("url_contains"))


KIND = TriggerKind(
    name="email_click",
    label="Clicked a link in an email",
    event_types=frozenset({ACTIVITY_CREATED}),
    parse=parse,
    matches=matches,
)
