"""Every domain's routes and the kind of each: the one table the app is built from.

A kind (``web.kinds``) decides how a route is reached: admin pages need a signed-in
user and CSRF, the API a bearer key, public routes no login. Domains expose their
routers; only this table says which kind each is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter

from tidings.activities import api as activities_api
from tidings.assembly import contact_screens, email_screens, screens
from tidings.auth import admin as auth_admin
from tidings.auth import routes as auth_routes
from tidings.automation import admin as automation_admin
from tidings.automation import api as automation_api
from tidings.bounces import admin as bounces_admin
from tidings.bounces import api as bounces_api
from tidings.consent import admin as consent_admin
from tidings.consent import api as consent_api
from tidings.contacts import api as contacts_api
from tidings.emails import api as emails_api
from tidings.forms import admin as forms_admin
from tidings.forms import api as forms_api
from tidings.forms import preferences as forms_preferences
from tidings.forms import public as forms_public
from tidings.groups import admin as groups_admin
from tidings.groups import api as groups_api
from tidings.lists import admin as lists_admin
from tidings.lists import api as lists_api
from tidings.mailcatcher import admin as inbox_admin
from tidings.personalization import admin as sites_admin
from tidings.personalization import api as sites_api
from tidings.personalization import public as sites_public
from tidings.privacy import api as privacy_api
from tidings.sending import admin as sending_admin
from tidings.sending import api as sending_api
from tidings.stats import api as stats_api
from tidings.web import basics
from tidings.web.kinds import RouterKind
from tidings.webhooks import admin as webhooks_admin
from tidings.webhooks import api as webhooks_api

ADMIN, API, PUBLIC = RouterKind.ADMIN, RouterKind.API, RouterKind.PUBLIC


@dataclass(frozen=True)
class Routes:
    """One domain's router and its kind."""

    domain: str
    kind: RouterKind
    router: APIRouter


# Order matters only where paths overlap; none do across entries.
ROUTERS: tuple[Routes, ...] = (
    # Public: no login. Tracking and unsubscribe (/t/, /u/) are public too; they are
    # served ahead of the app by ``tracking.routes.TrackingFastPath`` (see app.py).
    Routes("web", PUBLIC, basics.router),  # /healthz, /favicon.ico
    Routes("auth", PUBLIC, auth_routes.router),  # /login, /logout
    Routes("personalization", PUBLIC, sites_public.router),  # /p/: snippet, visits, widgets
    Routes("forms", PUBLIC, forms_public.router),  # /f/ (forms, confirmation)
    Routes("forms", PUBLIC, forms_preferences.router),  # /preferences/
    # Admin pages.
    Routes("assembly", ADMIN, screens.router),  # /, /settings
    Routes("auth", ADMIN, auth_admin.router),  # /settings/users, /settings/api-keys
    Routes("assembly", ADMIN, email_screens.router),  # /emails
    Routes("assembly", ADMIN, contact_screens.router),  # /contacts
    Routes("consent", ADMIN, consent_admin.router),
    Routes("lists", ADMIN, lists_admin.router),
    Routes("forms", ADMIN, forms_admin.router),  # /forms
    Routes("groups", ADMIN, groups_admin.router),
    Routes("automation", ADMIN, automation_admin.router),
    Routes("mailcatcher", ADMIN, inbox_admin.router),  # /inbox
    Routes("bounces", ADMIN, bounces_admin.router),  # /suppressions
    Routes("sending", ADMIN, sending_admin.router),  # mailout controls, test sends, senders
    Routes("personalization", ADMIN, sites_admin.router),  # /sites
    Routes("webhooks", ADMIN, webhooks_admin.router),  # /settings/webhooks
    # REST API under /api/v1.
    Routes("contacts", API, contacts_api.router),
    Routes("activities", API, activities_api.timeline_router),  # a contact's timeline
    Routes("privacy", API, privacy_api.router),  # a contact's export and erasure
    Routes("activities", API, activities_api.router),  # custom activities
    Routes("consent", API, consent_api.router),
    Routes("lists", API, lists_api.router),
    Routes("emails", API, emails_api.router),
    Routes("sending", API, sending_api.email_router),  # an email's send, its mailouts
    Routes("stats", API, stats_api.email_router),  # an email's statistics and timeline
    Routes("groups", API, groups_api.router),
    Routes("bounces", API, bounces_api.router),  # /api/v1/suppressions
    Routes("sending", API, sending_api.router),  # mailout controls, test sends
    Routes("automation", API, automation_api.router),
    Routes("webhooks", API, webhooks_api.router),
    Routes("personalization", API, sites_api.router),  # /api/v1/sites
    Routes("forms", API, forms_api.router),  # /api/v1/forms
)

# Domains whose screens keep their templates in a folder of their own.
TEMPLATE_DIRS: tuple[Path, ...] = (
    sites_admin.TEMPLATES,
    auth_admin.TEMPLATES,
    inbox_admin.TEMPLATES,
    screens.TEMPLATES,
    automation_admin.TEMPLATES,
    forms_public.TEMPLATES,
    webhooks_admin.TEMPLATES,
)
