"""``{"type": "webhook", "url"}``: POST the step's event to ``url``, signed like every
webhook (``Tidings-Signature``, webhooks.sender) with the automation's signing secret
(``webhook_secret`` in the API answer: derived from the secret key, so nothing more is
stored). The body is ``{id, type: "automation.step", occurred_at, data:
{automation_id, step_id, contact_id}}``: ids only, nothing else about the person.

The POST happens inside the step's transaction (timeout 5 s): a 2xx answer moves the
contact on; anything else fails the run with the answer. A process killed after the
POST and before the commit posts again when the contact is taken on after the
restart, with the same ``id``, so the receiver can drop the duplicate.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from tidings.automation import fields
from tidings.automation.step_kinds.base import NEXT, Outcome, StepFailed, StepKind, StepRun
from tidings.errors import Invalid
from tidings.runtime import Runtime
from tidings.webhooks import sender

TIMEOUT = 5.0
MAX_URL = 2000


def secret_for(runtime: Runtime, automation_id: int) -> str:
    """The automation's webhook signing secret."""
    key = runtime.settings.resolved_secret_key().encode()
    return hmac.new(key, f"automation-webhook:{automation_id}".encode(), hashlib.sha256).hexdigest()


def parse(session: Session, data: Mapping[str, Any], path: str) -> dict[str, Any]:
    fields.keys(data, path, required=("url",))
    url = data.get("url")
    if not isinstance(url, str) or not url or len(url) > MAX_URL or "\x00" in url:
        raise Invalid(f"{path}.url: must be an http(s) URL of at most {MAX_URL} characters")
    runtime: Runtime | None = session.info.get("runtime")
    allow_private = runtime.settings.webhook_allow_private if runtime is not None else False
    try:
        sender.check_url(url, allow_private=allow_private)
    except Invalid as exc:
        raise Invalid(f"{path}.url: {exc.detail}") from None
    return {"url": url}


def run(ctx: StepRun) -> Outcome:
    runtime: Runtime | None = ctx.session.info.get("runtime")
    if runtime is None:
        raise StepFailed("no runtime to sign the webhook with")
    body = json.dumps(
        {
            "id": ctx.idempotency_key,
            "type": "automation.step",
            "occurred_at": ctx.now.isoformat(),
            "data": {
                "automation_id": ctx.automation_id,
                "step_id": ctx.step["id"],
                "contact_id": ctx.run.contact_id,
            },
        },
        separators=(",", ":"),
    ).encode()
    answer = sender.post_signed(
        str(ctx.step["url"]),
        secret_for(runtime, ctx.automation_id),
        body,
        timeout=TIMEOUT,
        allow_private=runtime.settings.webhook_allow_private,
    )
    if not answer.ok:
        raise StepFailed(f"webhook answered {answer.status_code}: {answer.text[:200]}")
    return NEXT


KIND = StepKind(name="webhook", label="Call webhook", parse=parse, run=run)
