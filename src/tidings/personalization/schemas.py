"""API bodies and read models of sites and site widgets."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from tidings.personalization.models import Site, SiteWidget
from tidings.personalization.service import MAX_NAME, MAX_ORIGIN
from tidings.values import JsonTree, Text, Timestamp

WidgetKey = Annotated[Text, Field(min_length=1, max_length=64)]
Html = Annotated[Text, Field(max_length=200_000)]


class SiteCreate(BaseModel):
    """A new site: a name and its origin (``https://www.example.com``)."""

    name: Annotated[Text, Field(min_length=1, max_length=MAX_NAME)]
    origin: Annotated[Text, Field(min_length=1, max_length=MAX_ORIGIN)]


class SitePatch(BaseModel):
    """Changes to a site."""

    name: Annotated[Text, Field(min_length=1, max_length=MAX_NAME)] | None = None
    origin: Annotated[Text, Field(min_length=1, max_length=MAX_ORIGIN)] | None = None


class SiteOut(BaseModel):
    """A site and the public key its pages name it with."""

    id: int
    name: str
    origin: str
    site_key: str
    created_at: Timestamp

    @classmethod
    def of(cls, site: Site) -> SiteOut:
        """The read model of a stored site."""
        return cls(
            id=site.id,
            name=site.name,
            origin=site.origin,
            site_key=site.site_key,
            created_at=site.created_at,
        )


class SiteList(BaseModel):
    """Every site."""

    items: list[SiteOut]


class VariantIn(BaseModel):
    """A variant: a B11 condition and the HTML shown when it holds."""

    condition: JsonTree
    html: Html


class WidgetCreate(BaseModel):
    """A site widget: its key, default HTML and variants (first match wins)."""

    key: WidgetKey
    html: Html
    variants: Annotated[list[VariantIn], Field(max_length=20)] = []


class WidgetPut(BaseModel):
    """A widget's new default HTML and variants."""

    html: Html
    variants: Annotated[list[VariantIn], Field(max_length=20)] = []


class WidgetOut(BaseModel):
    """A stored site widget (conditions normalized)."""

    site_id: int
    key: str
    html: str
    variants: list[dict[str, object]]
    updated_at: Timestamp

    @classmethod
    def of(cls, widget: SiteWidget) -> WidgetOut:
        """The read model of a stored widget."""
        return cls(
            site_id=widget.site_id,
            key=widget.key,
            html=widget.html,
            variants=list(widget.variants or []),
            updated_at=widget.updated_at,
        )


class WidgetList(BaseModel):
    """A site's widgets."""

    items: list[WidgetOut]
