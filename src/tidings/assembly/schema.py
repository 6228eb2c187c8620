"""The table of contents of the schema: imports every model so the metadata (Alembic's
comparison, the tests) sees all tables. It names every domain's tables, so it belongs
to the assembly; a package adding a table adds it here."""

from __future__ import annotations

from tidings.activities.models import Activity
from tidings.auth.models import ApiKey, LoginThrottle, User, UserSession
from tidings.automation.models import Automation, AutomationRun, AutomationStepCount
from tidings.bounces.models import Bounce
from tidings.consent.models import Consent, ConsentAgreement, ConsentText
from tidings.contacts.models import Contact
from tidings.db.base import Base
from tidings.emails.models import Email, Link
from tidings.events.models import OutboxEvent, SubscriberCursor
from tidings.forms.models import (
    Form,
    FormConsent,
    FormRateLimit,
    FormSubmission,
    SubmissionConsent,
)
from tidings.groups.models import ContactGroup, GroupMember
from tidings.lists.models import RecipientList, Subscription
from tidings.mailcatcher.models import CaughtMessage
from tidings.personalization.models import Site, SiteVisitor, SiteWidget
from tidings.sending.models import (
    Delivery,
    DeliveryLinkUrl,
    DeliveryVariant,
    Mailout,
    SenderIdentity,
    TestSend,
)
from tidings.stats.models import EmailStats, LinkStats, TimelineBucket
from tidings.suppression.models import Suppression
from tidings.tracking.models import CountingWindow, TrackingEvent, UniqueMarker
from tidings.webhooks.models import Webhook, WebhookDelivery

metadata = Base.metadata

__all__ = [
    "Activity",
    "ApiKey",
    "Automation",
    "AutomationRun",
    "AutomationStepCount",
    "Bounce",
    "CaughtMessage",
    "Consent",
    "ConsentAgreement",
    "ConsentText",
    "Contact",
    "ContactGroup",
    "CountingWindow",
    "Delivery",
    "DeliveryLinkUrl",
    "DeliveryVariant",
    "Email",
    "EmailStats",
    "Form",
    "FormConsent",
    "FormRateLimit",
    "FormSubmission",
    "GroupMember",
    "Link",
    "LinkStats",
    "LoginThrottle",
    "Mailout",
    "OutboxEvent",
    "RecipientList",
    "SenderIdentity",
    "Site",
    "SiteVisitor",
    "SiteWidget",
    "SubmissionConsent",
    "SubscriberCursor",
    "Subscription",
    "Suppression",
    "TestSend",
    "TimelineBucket",
    "TrackingEvent",
    "UniqueMarker",
    "User",
    "UserSession",
    "Webhook",
    "WebhookDelivery",
    "metadata",
]
