"""Sites and site widgets: the only writer of their tables."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tidings.emails import widgets as email_widgets
from tidings.errors import Conflict, Invalid, NotFound
from tidings.personalization.models import Site, SiteWidget

MAX_NAME = 200
MAX_ORIGIN = 300


def normalize_origin(value: str, path: str = "origin") -> str:
    """``scheme://host[:port]`` in lower case, without a default port or a path."""
    if not isinstance(value, str) or len(value) > MAX_ORIGIN:
        raise Invalid(f"{path}: an origin such as https://www.example.com")
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError as exc:
        raise Invalid(f"{path}: not an origin ({exc})") from exc
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host or parts.username or parts.password:
        raise Invalid(f"{path}: an origin such as https://www.example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise Invalid(f"{path}: only scheme, host and port (no path, query or fragment)")
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def origin_of(url: str) -> str | None:
    """The origin of a URL, normalized, or None when it has none."""
    try:
        return normalize_origin(urlsplit(url)._replace(path="", query="", fragment="").geturl())
    except Invalid:
        return None


def _name(value: str) -> str:
    name = value.strip()
    if not name or len(name) > MAX_NAME:
        raise Invalid(f"name: 1 to {MAX_NAME} characters")
    return name


def create_site(*, session: Session, name: str, origin: str) -> Site:
    """A new site with a fresh public key; 409 when the origin is registered."""
    site = Site(name=_name(name), origin=normalize_origin(origin), site_key=secrets.token_hex(16))
    _check_free(session, site.origin, None)
    session.add(site)
    session.flush()
    return site


def _check_free(session: Session, origin: str, site_id: int | None) -> None:
    other = session.scalars(select(Site).where(Site.origin == origin)).first()
    if other is not None and other.id != site_id:
        raise Conflict(f"origin {origin} is already registered (site {other.id})")


def get_site(*, session: Session, site_id: int) -> Site:
    """The site, or ``NotFound``."""
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound(f"site {site_id} not found")
    return site


def list_sites(*, session: Session) -> list[Site]:
    """Every site, oldest first."""
    return list(session.scalars(select(Site).order_by(Site.id)))


def update_site(
    *, session: Session, site: Site, name: str | None = None, origin: str | None = None
) -> Site:
    """Rename a site or move it to another origin."""
    if name is not None:
        site.name = _name(name)
    if origin is not None:
        normalized = normalize_origin(origin)
        _check_free(session, normalized, site.id)
        site.origin = normalized
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent registration of the same origin
        raise Conflict("origin is already registered") from exc
    return site


def delete_site(*, session: Session, site: Site) -> None:
    """Delete a site and its widgets."""
    session.execute(delete(SiteWidget).where(SiteWidget.site_id == site.id))
    session.execute(delete(Site).where(Site.id == site.id))
    session.expunge(site)


def widgets_of(*, session: Session, site_id: int) -> list[SiteWidget]:
    """A site's widgets by key."""
    return list(
        session.scalars(
            select(SiteWidget).where(SiteWidget.site_id == site_id).order_by(SiteWidget.key)
        )
    )


def _checked(key: str, html: Any, variants: Any) -> dict[str, Any]:
    email_widgets.check_key(key, "key")
    normalized = email_widgets.normalize(
        {key: {"html": html, "variants": variants or []}}, "widget"
    )
    return normalized[key]


def put_widget(
    *, session: Session, site: Site, key: str, html: str, variants: Any, create: bool
) -> SiteWidget:
    """Create a widget (409 if the key exists) or replace one (404 if it does not)."""
    checked = _checked(key, html, variants)
    widget = session.scalars(
        select(SiteWidget).where(SiteWidget.site_id == site.id, SiteWidget.key == key)
    ).first()
    if create and widget is not None:
        raise Conflict(f"site {site.id} already has a widget {key!r}")
    if not create and widget is None:
        raise NotFound(f"site {site.id} has no widget {key!r}")
    if widget is None:
        widget = SiteWidget(site_id=site.id, key=key)
        session.add(widget)
    widget.html = checked["html"]
    widget.variants = checked["variants"]
    session.flush()
    return widget


def get_widget(*, session: Session, site: Site, key: str) -> SiteWidget:
    """One widget of a site, or ``NotFound``."""
    widget = session.scalars(
        select(SiteWidget).where(SiteWidget.site_id == site.id, SiteWidget.key == key)
    ).first()
    if widget is None:
        raise NotFound(f"site {site.id} has no widget {key[:64]!r}")
    return widget


def delete_widget(*, session: Session, widget: SiteWidget) -> None:
    """Delete one widget."""
    session.delete(widget)
    session.flush()


def as_widgets(rows: list[SiteWidget]) -> dict[str, Mapping[str, Any]]:
    """Widgets in the shape the variant choice reads (``{key: {html, variants}}``)."""
    return {row.key: {"html": row.html, "variants": list(row.variants or [])} for row in rows}
