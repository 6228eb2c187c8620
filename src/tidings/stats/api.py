"""REST routes of an email's statistics and timeline (B2), listed with the emails' calls
under ``/api/v1/emails``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from tidings.emails import service as emails
from tidings.stats import service as stats
from tidings.stats.schemas import EmailStatistics, Timeline
from tidings.values import Id
from tidings.web.deps import SessionDep, require_api_key
from tidings.web.errors import API_RESPONSES, responses

email_router = APIRouter(
    prefix="/api/v1",
    tags=["emails"],
    dependencies=[Depends(require_api_key)],
    responses=API_RESPONSES,
)


@email_router.get("/emails/{email_id}/statistics", responses=responses(404))
def email_statistics(email_id: Id, session: SessionDep) -> EmailStatistics:
    """Counters, rates with denominators, per-link figures and reconciliation (B2)."""
    emails.get(session=session, email_id=email_id)
    return stats.email_statistics(session=session, email_id=email_id)


@email_router.get("/emails/{email_id}/timeline", responses=responses(404))
def email_timeline(
    email_id: Id,
    session: SessionDep,
    granularity: Annotated[str, Query(pattern="^(hour|day)$")] = "hour",
) -> Timeline:
    """Human opens and clicks per hour or day."""
    emails.get(session=session, email_id=email_id)
    return Timeline(
        granularity=granularity,
        items=stats.timeline(session=session, email_id=email_id, granularity=granularity),
    )
