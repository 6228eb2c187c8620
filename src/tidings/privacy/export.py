"""Export everything Tidings holds about one contact, as JSON-ready data."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.activities.models import Activity
from tidings.bounces.service import export_rows as bounce_rows
from tidings.bounces.suppression import find as find_suppression
from tidings.consent.models import Consent, ConsentAgreement, ConsentText
from tidings.contacts import service as contacts
from tidings.emails.models import Email
from tidings.groups.models import ContactGroup, GroupMember
from tidings.lists.models import RecipientList, Subscription
from tidings.sending.models import Delivery, DeliveryLinkUrl


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None and hasattr(value, "isoformat") else value


def export_contact(*, session: Session, contact_id: int) -> dict[str, Any]:
    """The contact, agreements, subscriptions, deliveries and activities."""
    contact = contacts.get(session=session, contact_id=contact_id)
    agreements = session.execute(
        select(ConsentAgreement, Consent.code_name, ConsentText.version, ConsentText.text)
        .join(Consent, Consent.id == ConsentAgreement.consent_id)
        .join(ConsentText, ConsentText.id == ConsentAgreement.consent_text_id)
        .where(ConsentAgreement.contact_id == contact_id)
        .order_by(ConsentAgreement.given_at)
    ).all()
    subscriptions = session.execute(
        select(Subscription, RecipientList.name)
        .join(RecipientList, RecipientList.id == Subscription.list_id)
        .where(Subscription.contact_id == contact_id)
    ).all()
    deliveries = session.execute(
        select(Delivery, Email.name, Email.subject)
        .join(Email, Email.id == Delivery.email_id)
        .where(Delivery.contact_id == contact_id)
        .order_by(Delivery.id)
    ).all()
    link_urls = session.execute(
        select(DeliveryLinkUrl.delivery_id, DeliveryLinkUrl.url)
        .join(Delivery, Delivery.id == DeliveryLinkUrl.delivery_id)
        .where(Delivery.contact_id == contact_id)
    ).all()
    activities = session.scalars(
        select(Activity).where(Activity.contact_id == contact_id).order_by(Activity.occurred_at)
    ).all()
    data: dict[str, Any] = {
        "contact": contacts.to_dict(contact),
        "consent_agreements": [
            {
                "consent": code,
                "version": version,
                "text": text,
                "given_at": _iso(a.given_at),
                "source": a.source,
                "revoked_at": _iso(a.revoked_at),
                "revoke_source": a.revoke_source,
            }
            for a, code, version, text in agreements
        ],
        "subscriptions": [
            {
                "list_id": s.list_id,
                "list": name,
                "status": s.status,
                "source": s.source,
                "created_at": _iso(s.created_at),
                "updated_at": _iso(s.updated_at),
            }
            for s, name in subscriptions
        ],
        "deliveries": [
            {
                "email_id": d.email_id,
                "email": name,
                "subject": subject,
                "status": d.status,
                "sent_at": _iso(d.sent_at),
            }
            for d, name, subject in deliveries
        ],
        "personalized_links": [{"delivery_id": d, "url": url} for d, url in link_urls],
        "activities": [
            {
                "type": a.type,
                "email_id": a.email_id,
                "link_id": a.link_id,
                "value": a.value,
                "details": a.details,
                "occurred_at": _iso(a.occurred_at),
            }
            for a in activities
        ],
    }
    groups = session.execute(
        select(ContactGroup.id, ContactGroup.name)
        .join(GroupMember, GroupMember.group_id == ContactGroup.id)
        .where(GroupMember.contact_id == contact_id)
    ).all()
    data["contact_groups"] = [{"id": gid, "name": name} for gid, name in groups]
    data["bounces"] = bounce_rows(session=session, contact_id=contact_id)
    held = find_suppression(session, contact.email)
    data["suppression"] = (
        {"reason": held.reason, "created_at": _iso(held.created_at)} if held else None
    )
    return data
