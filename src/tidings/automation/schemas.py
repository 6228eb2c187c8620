"""API bodies and read models of automations."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from tidings.automation.models import Automation, AutomationRun, Recurrence
from tidings.automation.service import MAX_NAME, Figures
from tidings.values import JsonTree, Text, Timestamp

Trigger = Annotated[
    JsonTree,
    Field(description='Trigger object, e.g. {"type": "email_click", "email_id": 3}'),
]
Steps = Annotated[
    JsonTree,
    Field(description='List of steps, each {"id", "type", ..., "next"?}'),
]


class AutomationCreate(BaseModel):
    """A new automation (SPEC "API contract v1, part 2": Automation)."""

    name: Annotated[Text, Field(max_length=MAX_NAME)]
    trigger: Trigger
    steps: Steps
    recurrence: Recurrence | None = None
    enabled: bool = True


class AutomationPatch(BaseModel):
    """Changes to an automation: any of its fields."""

    name: Annotated[Text, Field(max_length=MAX_NAME)] | None = None
    trigger: Trigger = None
    steps: Steps = None
    recurrence: Recurrence | None = None
    enabled: bool | None = None


class StepOut(BaseModel):
    """One step as defined (its own keys), with how many contacts entered it and how
    many stand at it now (``waiting``)."""

    model_config = ConfigDict(extra="allow")

    id: str
    type: str
    entered: int
    waiting: int


class AutomationOut(BaseModel):
    """An automation with per-step figures and run totals (``running`` counts the
    contacts inside it now; ``finished`` those done, ``failed`` those stopped by a
    step that could not run)."""

    id: int
    name: str
    trigger: dict[str, Any]
    steps: list[StepOut]
    recurrence: Recurrence
    enabled: bool
    running: int
    finished: int
    failed: int
    created_at: Timestamp
    updated_at: Timestamp
    webhook_secret: str = Field(
        description="Signs the requests of this automation's webhook steps (Tidings-Signature)"
    )

    @classmethod
    def of(cls, automation: Automation, figures: Figures, *, secret: str) -> AutomationOut:
        """The read model of a stored automation and its figures."""
        return cls(
            id=automation.id,
            name=automation.name,
            trigger=automation.trigger,
            steps=[
                StepOut(**dict(f.step), entered=f.entered, waiting=f.waiting) for f in figures.steps
            ],
            recurrence=Recurrence(automation.recurrence),
            enabled=automation.enabled,
            running=figures.running,
            finished=figures.finished,
            failed=figures.failed,
            created_at=automation.created_at,
            updated_at=automation.updated_at,
            webhook_secret=secret,
        )


class AutomationList(BaseModel):
    """Every automation, newest first."""

    items: list[AutomationOut]


class RunOut(BaseModel):
    """Where one contact stands in the process (``step_id``: their current step, or
    the last one when finished)."""

    contact_id: int
    step_id: str | None
    status: str
    since: Timestamp
    run_number: int
    waiting_until: Timestamp | None
    error: str | None

    @classmethod
    def of(cls, run: AutomationRun) -> RunOut:
        """The read model of a run."""
        return cls(
            contact_id=run.contact_id,
            step_id=run.step_id,
            status=run.status,
            since=run.since,
            run_number=run.run_number,
            waiting_until=run.waiting_until,
            error=run.error,
        )


class RunsPage(BaseModel):
    """Contacts in the process by run id; pass ``next_cursor`` back as ``cursor``."""

    items: list[RunOut]
    next_cursor: str | None
