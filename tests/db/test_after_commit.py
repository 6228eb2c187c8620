"""After-commit work runs only after the outermost commit: a savepoint's release runs
nothing, a savepoint's rollback drops only what was added inside it, and a callback
that raises does not keep the others from running. The outbox follows the same
rule (events of a rolled-back savepoint are dropped, the others kept)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from tidings.db.session import after_commit
from tidings.events import EventType, publish
from tidings.events.models import OutboxEvent
from tidings.runtime import Runtime


def test_a_released_savepoint_runs_nothing_before_the_outer_commit(runtime: Runtime) -> None:
    ran: list[str] = []
    with runtime.session() as session:
        with session.begin_nested():
            after_commit(session, lambda: ran.append("inner"))
            with session.begin_nested():
                after_commit(session, lambda: ran.append("innermost"))
        assert ran == []
        after_commit(session, lambda: ran.append("outer"))
        assert ran == []
    assert ran == ["inner", "innermost", "outer"]


def test_a_rolled_back_savepoint_drops_only_its_own_callbacks(runtime: Runtime) -> None:
    ran: list[str] = []
    with runtime.session() as session:
        after_commit(session, lambda: ran.append("before"))
        with pytest.raises(RuntimeError), session.begin_nested():
            after_commit(session, lambda: ran.append("dropped"))
            with session.begin_nested():
                after_commit(session, lambda: ran.append("released into the dropped one"))
            raise RuntimeError("the step failed")
        with session.begin_nested():
            after_commit(session, lambda: ran.append("kept"))
    assert ran == ["before", "kept"]


def test_a_rollback_of_the_whole_transaction_runs_nothing(runtime: Runtime) -> None:
    ran: list[str] = []
    with pytest.raises(RuntimeError), runtime.session() as session:
        after_commit(session, lambda: ran.append("outer"))
        with session.begin_nested():
            after_commit(session, lambda: ran.append("inner"))
        raise RuntimeError("rolled back")
    assert ran == []
    session = runtime.sessions()
    try:
        after_commit(session, lambda: ran.append("rolled back with a savepoint open"))
        session.begin_nested()
        after_commit(session, lambda: ran.append("inside it"))
        session.rollback()
        session.commit()  # the next transaction inherits nothing
    finally:
        session.close()
    assert ran == []


def test_a_raising_callback_is_logged_and_the_others_run(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    def broken() -> None:
        raise ValueError("callback broke")

    with caplog.at_level(logging.ERROR), runtime.session() as session:
        after_commit(session, lambda: ran.append("first"))
        after_commit(session, broken)
        after_commit(session, lambda: ran.append("last"))
    assert ran == ["first", "last"]
    assert "callback broke" in caplog.text


def test_events_of_a_rolled_back_savepoint_are_dropped_and_the_others_kept(
    runtime: Runtime,
) -> None:
    with runtime.session() as session:
        publish(session, EventType.CONTACT_CREATED, {"contact_id": 1})
        with pytest.raises(RuntimeError), session.begin_nested():
            publish(session, EventType.CONTACT_CREATED, {"contact_id": 2})
            raise RuntimeError("the step failed")
        with session.begin_nested():
            publish(session, EventType.CONTACT_CREATED, {"contact_id": 3})
        # A released savepoint writes nothing yet (the outbox is written at the
        # outermost commit, in commit order).
        assert session.scalar(select(func.count()).select_from(OutboxEvent)) == 0
    with runtime.session() as session:
        written = [e.data["contact_id"] for e in session.scalars(select(OutboxEvent))]
    assert written == [1, 3]
