"""REST routes for sites and their widgets (SPEC "Personalization")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from tidings.personalization import service
from tidings.personalization.directory import directory
from tidings.personalization.schemas import (
    SiteCreate,
    SiteList,
    SiteOut,
    SitePatch,
    WidgetCreate,
    WidgetList,
    WidgetOut,
    WidgetPut,
)
from tidings.values import Id
from tidings.web.deps import SessionDep, require_api_key
from tidings.web.errors import API_RESPONSES, BODY_RESPONSES, responses

router = APIRouter(
    prefix="/api/v1/sites",
    tags=["sites"],
    dependencies=[Depends(require_api_key)],
    responses=API_RESPONSES,
)
KeyPath = Annotated[str, Path(min_length=1, max_length=64)]


def _changed(request: Request) -> None:
    directory(request.app.state.runtime).invalidate()


@router.post("", status_code=201, response_model=SiteOut, responses=BODY_RESPONSES | responses(409))
def create_site(body: SiteCreate, session: SessionDep, request: Request) -> SiteOut:
    """Register a site; answers its public ``site_key``. 409 when the origin is taken."""
    site = service.create_site(session=session, name=body.name, origin=body.origin)
    _changed(request)
    return SiteOut.of(site)


@router.get("", response_model=SiteList)
def list_sites(session: SessionDep) -> SiteList:
    """Every site."""
    return SiteList(items=[SiteOut.of(s) for s in service.list_sites(session=session)])


@router.get("/{site_id}", response_model=SiteOut, responses=responses(404))
def get_site(site_id: Id, session: SessionDep) -> SiteOut:
    """One site."""
    return SiteOut.of(service.get_site(session=session, site_id=site_id))


@router.patch("/{site_id}", response_model=SiteOut, responses=BODY_RESPONSES | responses(404, 409))
def patch_site(site_id: Id, body: SitePatch, session: SessionDep, request: Request) -> SiteOut:
    """Rename a site or change its origin."""
    site = service.get_site(session=session, site_id=site_id)
    service.update_site(session=session, site=site, name=body.name, origin=body.origin)
    _changed(request)
    return SiteOut.of(site)


@router.delete("/{site_id}", status_code=204, responses=responses(404))
def delete_site(site_id: Id, session: SessionDep, request: Request) -> Response:
    """Delete a site and its widgets."""
    service.delete_site(session=session, site=service.get_site(session=session, site_id=site_id))
    _changed(request)
    return Response(status_code=204)


@router.post(
    "/{site_id}/widgets",
    status_code=201,
    response_model=WidgetOut,
    responses=BODY_RESPONSES | responses(404, 409),
)
def create_widget(
    site_id: Id, body: WidgetCreate, session: SessionDep, request: Request
) -> WidgetOut:
    """Add a widget to a site; conditions are checked (422 naming the path)."""
    site = service.get_site(session=session, site_id=site_id)
    widget = service.put_widget(
        session=session,
        site=site,
        key=body.key,
        html=body.html,
        variants=[v.model_dump() for v in body.variants],
        create=True,
    )
    _changed(request)
    return WidgetOut.of(widget)


@router.get("/{site_id}/widgets", response_model=WidgetList, responses=responses(404))
def list_widgets(site_id: Id, session: SessionDep) -> WidgetList:
    """A site's widgets."""
    site = service.get_site(session=session, site_id=site_id)
    return WidgetList(
        items=[WidgetOut.of(w) for w in service.widgets_of(session=session, site_id=site.id)]
    )


@router.get("/{site_id}/widgets/{key}", response_model=WidgetOut, responses=responses(404))
def get_widget(site_id: Id, key: KeyPath, session: SessionDep) -> WidgetOut:
    """One widget of a site."""
    site = service.get_site(session=session, site_id=site_id)
    return WidgetOut.of(service.get_widget(session=session, site=site, key=key))


@router.put(
    "/{site_id}/widgets/{key}",
    response_model=WidgetOut,
    responses=BODY_RESPONSES | responses(404),
)
def put_widget(
    site_id: Id, key: KeyPath, body: WidgetPut, session: SessionDep, request: Request
) -> WidgetOut:
    """Replace a widget's default HTML and variants."""
    site = service.get_site(session=session, site_id=site_id)
    widget = service.put_widget(
        session=session,
        site=site,
        key=key,
        html=body.html,
        variants=[v.model_dump() for v in body.variants],
        create=False,
    )
    _changed(request)
    return WidgetOut.of(widget)


@router.delete("/{site_id}/widgets/{key}", status_code=204, responses=responses(404))
def delete_widget(site_id: Id, key: KeyPath, session: SessionDep, request: Request) -> Response:
    """Delete a widget."""
    site = service.get_site(session=session, site_id=site_id)
    service.delete_widget(
        session=session, widget=service.get_widget(session=session, site=site, key=key)
    )
    _changed(request)
    return Response(status_code=204)
