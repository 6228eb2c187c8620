"""Imports every model so the metadata (and Alembic) sees all tables."""

from __future__ import annotations

from tidings.activities.models import Activity
from tidings.auth.models import ApiKey, LoginThrottle, User, UserSession
from tidings.bounces.models import Bounce, Suppression
from tidings.consent.models import Consent, ConsentAgreement, ConsentText
from tidings.contacts.models import Contact
from tidings.db.base import Base
from tidings.emails.models import Email, Link
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
from tidings.sending.models import Delivery, DeliveryLinkUrl, Mailout, SenderIdentity, TestSend
from tidings.stats.models import EmailStats, LinkStats, TimelineBucket
from tidings.tracking.models import CountingWindow, TrackingEvent, UniqueMarker

metadata = Base.metadata

__all__ = [
    "Activity",
    "ApiKey",
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
    "RecipientList",
    "SenderIdentity",
    "SubmissionConsent",
    "Subscription",
    "Suppression",
    "TestSend",
    "TimelineBucket",
    "TrackingEvent",
    "UniqueMarker",
    "User",
    "UserSession",
    "metadata",
]
