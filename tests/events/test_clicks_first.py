"""Clicks first (``jobs.pressure``): the tracking writer marks the machine busy when a
window was busy enough, the mark expires by itself, and the event dispatcher holds its
passes back while the mark is fresh, for a bounded time, then delivers a small batch
and looks again; once the mark is gone it catches up at full speed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from tidings.events import Event, EventType, Subscriber, dispatch, publish_many
from tidings.jobs import pressure
from tidings.jobs.pressure import BusyGauge, HoldBack, busy_file, saturated
from tidings.runtime import Runtime


def test_many_events_written_by_a_busy_writer_mark_it(tmp_path: Path) -> None:
    mark = busy_file(tmp_path)
    gauge = BusyGauge(mark)
    time.sleep(pressure.WINDOW)
    gauge.written(1000, 0.01)  # thousands a second in a few large batches: room to spare
    assert gauge.marks == 0
    time.sleep(pressure.WINDOW)
    gauge.written(10, pressure.WINDOW)  # busy the whole window, but with few events
    assert gauge.marks == 0  # (a few hundred clicks a second, committed one by one)
    time.sleep(pressure.WINDOW)
    gauge.written(1000, pressure.WINDOW * 0.9)  # thousands a second, the writer full
    assert gauge.marks == 1 and saturated(mark)
    # Nobody renews it: it holds for HOLD seconds, then the machine is free again.
    assert not saturated(mark, now=time.time() + pressure.HOLD + 0.01)
    time.sleep(pressure.HOLD + 0.05)
    assert not saturated(mark)


def test_a_mark_that_cannot_be_written_changes_nothing(tmp_path: Path) -> None:
    gauge = BusyGauge(tmp_path / "missing" / pressure.FILE_NAME)
    time.sleep(pressure.WINDOW)
    gauge.written(1000, pressure.WINDOW)
    assert gauge.marks == 0 and not saturated(gauge.path)


class Recorder:
    def __init__(self, name: str) -> None:
        self.batches: list[int] = []
        self.subscriber = Subscriber(
            name=name, types=frozenset({EventType.CONTACT_CHANGED}), handle=self.handle
        )

    def handle(self, session: Session, events: Sequence[Event]) -> None:
        self.batches.append(len(events))

    @property
    def got(self) -> int:
        return sum(self.batches)


@pytest.fixture
def busy(runtime: Runtime) -> Iterator[threading.Event]:
    """A burst that lasts until the event is set: the mark renewed every 50 ms."""
    mark = busy_file(runtime.settings.resolved_data_dir())
    over = threading.Event()

    def renew() -> None:
        while not over.is_set():
            mark.touch()  # what the writer's gauge does while the burst lasts
            over.wait(0.05)

    thread = threading.Thread(target=renew, daemon=True)
    thread.start()
    while not saturated(mark):
        time.sleep(0.01)
    yield over
    over.set()
    thread.join(5)


def test_the_dispatcher_stands_back_during_a_burst_and_catches_up_after(
    runtime: Runtime, busy: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pressure, "MAX_HOLD_BACK", 0.6)
    rec = Recorder("held")
    total = 5 * pressure.FORCED_BATCH
    with runtime.session() as session:
        publish_many(
            session, [(EventType.CONTACT_CHANGED, {"contact_id": i}) for i in range(total)]
        )
    with dispatch.dispatching(runtime, [rec.subscriber]) as loop:
        time.sleep(0.4)
        assert rec.got == 0  # held back: the burst goes first
        time.sleep(0.6)
        # Past the longest wait: one small batch, then it stands back again.
        assert rec.batches[:1] == [pressure.FORCED_BATCH]
        assert rec.got < total
        assert loop.hold_back.held >= 0.5
        busy.set()
        deadline = time.monotonic() + 5
        while rec.got < total and time.monotonic() < deadline:
            time.sleep(0.05)
    assert rec.got == total  # the burst over: the rest at once, nothing twice
    assert max(rec.batches[1:]) > pressure.FORCED_BATCH


def test_without_a_burst_nothing_is_held_back(tmp_path: Path) -> None:
    hold = HoldBack(busy_file(tmp_path))
    started = time.monotonic()
    assert hold.now() is False and hold.forced is False
    assert time.monotonic() - started < 0.05 and hold.held == 0.0
