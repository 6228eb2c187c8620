"""Export everything Tidings holds about one contact, as JSON-ready data."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.activities.models import Activity
from tidings.bounces.service import export_rows as bounce_rows
from tidings.consent.models import Consent, ConsentAgreement, ConsentText
from tidings.contacts import service as contacts
from tidings.contacts.schemas import ContactOut
from tidings.emails.models import Email
from tidings.groups.models import ContactGroup, GroupMember
from tidings.lists.models import RecipientList, Subscription
from tidings.privacy.schemas import (
    ContactExport,
    ExportedActivity,
    ExportedAgreement,
    ExportedBounce,
    ExportedDelivery,
    ExportedGroup,
    ExportedLink,
    ExportedSubscription,
    ExportedSuppression,
)
from tidings.sending.models import Delivery, DeliveryLinkUrl
from tidings.suppression.service import find as find_suppression


def export_contact(*, session: Session, contact_id: int) -> ContactExport:
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
    groups = session.execute(
        select(ContactGroup.id, ContactGroup.name)
        .join(GroupMember, GroupMember.group_id == ContactGroup.id)
        .where(GroupMember.contact_id == contact_id)
    ).all()
    held = find_suppression(session, contact.email)
    return ContactExport(
        contact=ContactOut.of(contact),
        consent_agreements=[
            ExportedAgreement(
                consent=code,
                version=version,
                text=text,
                given_at=a.given_at,
                source=a.source,
                source_url=a.source_url,
                revoked_at=a.revoked_at,
                revoke_source=a.revoke_source,
            )
            for a, code, version, text in agreements
        ],
        subscriptions=[
            ExportedSubscription(
                list_id=s.list_id,
                list=name,
                status=s.status,
                source=s.source,
                created_at=s.created_at,
                updated_at=s.updated_at,
            )
            for s, name in subscriptions
        ],
        deliveries=[
            ExportedDelivery(
                email_id=d.email_id,
                email=name,
                subject=subject,
                status=d.status,
                sent_at=d.sent_at,
            )
            for d, name, subject in deliveries
        ],
        personalized_links=[ExportedLink(delivery_id=d, url=url) for d, url in link_urls],
        activities=[
            ExportedActivity(
                type=a.type,
                email_id=a.email_id,
                link_id=a.link_id,
                value=a.value,
                details=a.details,
                occurred_at=a.occurred_at,
            )
            for a in activities
        ],
        contact_groups=[ExportedGroup(id=gid, name=name) for gid, name in groups],
        bounces=[
            ExportedBounce.model_validate(row)
            for row in bounce_rows(session=session, contact_id=contact_id)
        ],
        suppression=(
            ExportedSuppression(reason=held.reason, created_at=held.created_at) if held else None
        ),
    )
