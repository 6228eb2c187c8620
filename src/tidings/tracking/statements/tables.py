"""The tables a tracking batch touches, by name, for the dialects' driver SQL."""

from __future__ import annotations

from tidings.activities.models import Activity
from tidings.events.models import OutboxEvent
from tidings.groups.models import ContactGroup
from tidings.sending.models import Delivery
from tidings.stats.models import EmailStats, LinkStats, TimelineBucket
from tidings.tracking.models import TrackingEvent, UniqueMarker

EVENTS = TrackingEvent.__tablename__
ACTIVITIES = Activity.__tablename__
MARKERS = UniqueMarker.__tablename__
EMAIL_STATS = EmailStats.__tablename__
LINK_STATS = LinkStats.__tablename__
TIMELINE = TimelineBucket.__tablename__
DELIVERIES = Delivery.__tablename__
GROUPS = ContactGroup.__tablename__
OUTBOX = OutboxEvent.__tablename__

EVENT_COLUMNS = "email_id, link_id, type, occurred_at, automated, automated_reason, identified"
ACTIVITY_COLUMNS = "contact_id, type, email_id, link_id, value, details, consent_id, occurred_at"
MARKER_COLUMNS = "email_id, kind, link_id, recipient_key"
