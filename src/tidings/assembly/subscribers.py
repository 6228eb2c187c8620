"""Every subscriber of the event stream, in one table (like ``routers.py`` for routers).

A domain exposes its ``Subscriber``; it never calls another domain by hand. The
dispatcher delivers each subscriber's events in id order, exactly once, each batch
in one transaction with the subscriber's cursor (docs/events.md).
"""

from __future__ import annotations

from tidings.automation.triggers import SUBSCRIBER as AUTOMATION
from tidings.events import Subscriber
from tidings.groups.events import MOVES_SUBSCRIBER as GROUP_MOVES
from tidings.groups.events import SUBSCRIBER as GROUPS
from tidings.webhooks.service import SUBSCRIBER as WEBHOOKS

SUBSCRIBERS: tuple[Subscriber, ...] = (GROUPS, GROUP_MOVES, AUTOMATION, WEBHOOKS)
