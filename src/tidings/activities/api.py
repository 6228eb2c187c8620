"""Query parameters shared by the activity listings of the REST API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

from tidings.values import MAX_ID, Text


@dataclass
class ActivityQuery:
    """``type``, ``link_id``, ``cursor`` and ``limit`` of an activity listing."""

    type: Annotated[Text | None, Query(max_length=100)] = None
    link_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None
    cursor: Annotated[Text | None, Query(max_length=200)] = None
    limit: Annotated[int, Query(ge=1, le=500)] = 50


ActivityQueryDep = Annotated[ActivityQuery, Depends()]
