"""Settings → Webhooks: the subscriptions (URL, event types, enabled), adding and
removing them, and each one's delivery log with the receiver's last answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from tidings.errors import Invalid
from tidings.values import Id
from tidings.web.admin import admin_router, flash, page, redirect
from tidings.web.deps import RuntimeDep, SessionDep
from tidings.webhooks import service
from tidings.webhooks.models import WebhookDelivery

TEMPLATES = Path(__file__).with_name("templates")
router = admin_router("/settings/webhooks")
MAX_URL = 2000
LOG_ROWS = 100
# What each event type means, for the add form.
EVENT_WORDS: dict[str, str] = {
    "activity.created": "every contact activity (opens, clicks, custom activities...)",
    "contact.unsubscribed": "a contact unsubscribed",
    "email.bounced": "a message bounced",
    "email.complained": "a recipient marked a message as spam",
    "form.submitted": "a form was submitted",
    "automation.step": "a contact entered an automation step",
    "mailout.finished": "a mailout finished sending",
}


def _figures(session: Session) -> dict[int, dict[str, int]]:
    """Per webhook, how many deliveries are in each status."""
    out: dict[int, dict[str, int]] = {}
    rows = session.execute(
        select(WebhookDelivery.webhook_id, WebhookDelivery.status, func.count()).group_by(
            WebhookDelivery.webhook_id, WebhookDelivery.status
        )
    )
    for webhook_id, status, count in rows:
        out.setdefault(webhook_id, {})[status] = int(count)
    return out


def _index(
    request: Request,
    session: Session,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "section": "settings",
        "tab": "webhooks",
        "hooks": service.all_webhooks(session=session),
        "figures": _figures(session),
        "event_types": [(name, EVENT_WORDS.get(name, "")) for name in service.PUBLIC_TYPES],
        "created": None,
        "secret": None,
        "error": None,
        "typed_url": "",
        "typed_events": [],
    }
    context.update(extra or {})
    return page(request, "webhooks/index.html", context, status_code=status_code)


@router.get("")
def webhooks_page(request: Request, session: SessionDep) -> Response:
    """Every webhook with its event types, state and delivery figures; the add form."""
    return _index(request, session)


@router.post("")
async def add_webhook(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Subscribe a URL; the signing secret is shown on this answer only."""
    form = await request.form()
    url = str(form.get("url") or "").replace("\x00", "").strip()
    events = [str(e) for e in form.getlist("events")][:20]
    typed = {"typed_url": url[:MAX_URL], "typed_events": events}
    try:
        if not url or len(url) > MAX_URL:
            raise Invalid(f"url: give an http(s) URL of up to {MAX_URL:,} characters")
        if not events:
            raise Invalid("Choose at least one event type to send.")
        hook, secret = service.create(session=session, runtime=runtime, url=url, events=events)
    except Invalid as exc:
        session.rollback()
        return _index(request, session, typed | {"error": _readable(exc)}, 422)
    return _index(request, session, {"created": hook, "secret": secret}, 201)


def _readable(exc: Invalid) -> str:
    detail = str(exc.detail)
    if detail == "url must be an http(s) URL with a host":
        return "The URL must start with http:// or https:// and name a host."
    if detail == "url points to a private address":
        return (
            "The URL points to a private or local address; Tidings only calls public "
            "addresses (unless TIDINGS_WEBHOOK_ALLOW_PRIVATE is set)."
        )
    return detail


@router.post("/{webhook_id}/enabled")
async def toggle_webhook(request: Request, session: SessionDep, webhook_id: Id) -> Response:
    """Enable or disable (the button asks first)."""
    form = await request.form()
    enabled = form.get("enabled") == "1"
    service.set_enabled(session=session, webhook_id=webhook_id, enabled=enabled)
    flash(
        request,
        "The webhook is enabled: events are sent again."
        if enabled
        else "The webhook is disabled: no new events are queued for it, and pending ones wait.",
    )
    return redirect("/settings/webhooks")


@router.post("/{webhook_id}/delete")
def remove_webhook(request: Request, session: SessionDep, webhook_id: Id) -> Response:
    """Remove a webhook and its delivery log (the button asks first)."""
    service.delete(session=session, webhook_id=webhook_id)
    flash(request, "The webhook was removed with its delivery log.")
    return redirect("/settings/webhooks")


@router.get("/{webhook_id}")
def deliveries_page(request: Request, session: SessionDep, webhook_id: Id) -> Response:
    """The latest deliveries, newest first, each with the receiver's last answer."""
    hook = service.get(session=session, webhook_id=webhook_id)
    rows = service.deliveries(session=session, webhook_id=webhook_id, limit=LOG_ROWS)
    context = {
        "section": "settings",
        "tab": "webhooks",
        "hook": hook,
        "rows": rows,
        "limit": LOG_ROWS,
        "figures": _figures(session).get(hook.id, {}),
    }
    return page(request, "webhooks/deliveries.html", context)
