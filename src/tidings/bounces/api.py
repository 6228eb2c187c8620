"""REST routes for the global suppression list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from tidings.bounces.schemas import SuppressionIn, SuppressionList, SuppressionOut
from tidings.errors import Conflict, NotFound
from tidings.suppression import service as suppression
from tidings.suppression.models import SuppressionReason
from tidings.values import MAX_ID
from tidings.web.deps import SessionDep, require_api_key
from tidings.web.errors import API_RESPONSES, BODY_RESPONSES, responses

router = APIRouter(
    prefix="/api/v1/suppressions",
    tags=["suppressions"],
    dependencies=[Depends(require_api_key)],
    responses=API_RESPONSES,
)
EmailPath = Annotated[str, Path(min_length=1, max_length=320)]


@router.get("", response_model=SuppressionList)
def list_suppressions(
    session: SessionDep,
    q: Annotated[str, Query(max_length=200)] = "",
    reason: SuppressionReason | None = None,
    cursor: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=suppression.PAGE_MAX)] = 50,
) -> SuppressionList:
    """Suppressed addresses, newest first; ``q`` matches part of the address."""
    page = suppression.list_page(
        session=session, q=q.replace("\x00", ""), reason=reason, cursor=cursor, limit=limit
    )
    return SuppressionList(
        items=[SuppressionOut.of(row) for row in page.items], next_cursor=page.next_cursor
    )


@router.post(
    "", status_code=201, response_model=SuppressionOut, responses=BODY_RESPONSES | responses(409)
)
def add_suppression(body: SuppressionIn, session: SessionDep) -> SuppressionOut:
    """Suppress an address for every later send; 409 if it already is."""
    address = suppression.checked_address(body.email)
    row, created = suppression.suppress(session=session, email=address, reason=body.reason)
    if not created:
        raise Conflict(f"{address} is already suppressed ({row.reason})")
    return SuppressionOut.of(row)


@router.get("/{email}", response_model=SuppressionOut, responses=responses(404))
def get_suppression(email: EmailPath, session: SessionDep) -> SuppressionOut:
    """The suppression of one address (also of an erased contact's); 404 if none."""
    row = suppression.find(session, email)
    if row is None:
        raise NotFound("this address is not suppressed")
    return SuppressionOut.of(row)


@router.delete("/{email}", status_code=204, response_class=Response, responses=responses(404))
def remove_suppression(email: EmailPath, session: SessionDep) -> Response:
    """Let sends reach the address again; 404 if it is not suppressed."""
    suppression.unsuppress(session=session, email=email)
    return Response(status_code=204)
