"""REST routes of webhooks (SPEC B16)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from tidings.values import Id
from tidings.web.deps import RuntimeDep, SessionDep, require_api_key
from tidings.web.errors import API_RESPONSES, BODY_RESPONSES, responses
from tidings.webhooks import service
from tidings.webhooks.schemas import (
    DeliveryList,
    DeliveryOut,
    WebhookCreated,
    WebhookIn,
    WebhookList,
    WebhookOut,
    WebhookPatch,
)

router = APIRouter(
    prefix="/api/v1/webhooks",
    tags=["webhooks"],
    dependencies=[Depends(require_api_key)],
    responses=API_RESPONSES,
)


@router.post("", status_code=201, responses=BODY_RESPONSES)
def create_webhook(body: WebhookIn, session: SessionDep, runtime: RuntimeDep) -> WebhookCreated:
    """Subscribe a URL to event types; the answer holds the signing secret, once."""
    hook, secret = service.create(
        session=session, runtime=runtime, url=body.url, events=body.events
    )
    return WebhookCreated(id=hook.id, secret=secret)


@router.get("")
def list_webhooks(session: SessionDep) -> WebhookList:
    """Every webhook."""
    return WebhookList(items=[WebhookOut.of(h) for h in service.all_webhooks(session=session)])


@router.get("/{webhook_id}", responses=responses(404))
def get_webhook(webhook_id: Id, session: SessionDep) -> WebhookOut:
    """One webhook."""
    return WebhookOut.of(service.get(session=session, webhook_id=webhook_id))


@router.patch("/{webhook_id}", responses=responses(404) | BODY_RESPONSES)
def patch_webhook(webhook_id: Id, body: WebhookPatch, session: SessionDep) -> WebhookOut:
    """Enable or disable a webhook."""
    hook = service.set_enabled(session=session, webhook_id=webhook_id, enabled=body.enabled)
    return WebhookOut.of(hook)


@router.delete("/{webhook_id}", status_code=204, response_class=Response, responses=responses(404))
def delete_webhook(webhook_id: Id, session: SessionDep) -> Response:
    """Remove a webhook and its delivery log."""
    service.delete(session=session, webhook_id=webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", responses=responses(404))
def webhook_deliveries(webhook_id: Id, session: SessionDep) -> DeliveryList:
    """The latest deliveries, newest first, with the last answer of each."""
    rows = service.deliveries(session=session, webhook_id=webhook_id)
    return DeliveryList(items=[DeliveryOut.of(r) for r in rows])
