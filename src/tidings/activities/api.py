"""Query parameters shared by the activity listings of the REST API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query


@dataclass
class ActivityQuery:
    """``type``, ``link_id``, ``cursor`` and ``limit`` of an activity listing."""

    type: str | None = Query(default=None, max_length=100)
    link_id: int | None = Query(default=None)
    cursor: str | None = Query(default=None, max_length=200)
    limit: int = Query(default=50, ge=1, le=500)


ActivityQueryDep = Annotated[ActivityQuery, Depends()]
