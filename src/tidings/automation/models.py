"""Automations, each contact's run through one, and per-step counts."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, BigId, UTCDateTime, utcnow


class Recurrence(enum.StrEnum):
    """How often one contact may enter a process."""

    ONCE = "once"
    ALWAYS = "always"
    IF_NOT_RUNNING = "if_not_running"


class RunStatus(enum.StrEnum):
    """Where a contact's run stands: ``running`` between steps inside a transaction
    (never seen committed except by a step that failed to finish), ``waiting`` at a
    wait step, ``finished``, or ``failed`` (a step could not run: its ``error`` says
    why)."""

    RUNNING = "running"
    WAITING = "waiting"
    FINISHED = "finished"
    FAILED = "failed"


class Automation(Base):
    """A process: its trigger and steps as validated JSON (SPEC B13)."""

    __tablename__ = "automations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    trigger: Mapped[dict[str, Any]] = mapped_column(JSON)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    recurrence: Mapped[str] = mapped_column(String(20), default=Recurrence.ONCE.value)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AutomationRun(Base):
    """One contact's pass through one automation (``run_number`` counts their entries).

    Erasing the contact deletes their runs (cascade); the step counts stay."""

    __tablename__ = "automation_runs"
    __table_args__ = (
        UniqueConstraint("automation_id", "contact_id", "run_number"),
        Index("ix_automation_runs_place", "automation_id", "status", "step_id"),
        Index("ix_automation_runs_due", "status", "waiting_until"),
        Index("ix_automation_runs_contact", "contact_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    automation_id: Mapped[int] = mapped_column(
        ForeignKey("automations.id", ondelete="CASCADE"), index=False
    )
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    run_number: Mapped[int] = mapped_column(Integer, default=1)
    step_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default=RunStatus.RUNNING.value)
    # When the contact reached its current step (or finished).
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    waiting_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Steps entered so far: part of each send's idempotency key (a loop through a
    # wait sends again, a retried transaction does not).
    steps_taken: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class AutomationStepCount(Base):
    """How many times contacts entered one step: kept when a contact is erased."""

    __tablename__ = "automation_step_counts"

    automation_id: Mapped[int] = mapped_column(
        ForeignKey("automations.id", ondelete="CASCADE"), primary_key=True
    )
    step_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    entered: Mapped[int] = mapped_column(Integer, default=0)
