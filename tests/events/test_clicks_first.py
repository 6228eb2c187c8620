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
from tidings.jobs.pressure import BusyGauge, CpuIdle, HoldBack, busy_file, saturated
from tidings.runtime import Runtime


def _stat(path: Path, idle: int, busy: int) -> None:
    """A ``/proc/stat`` first line: user nice system idle iowait irq softirq steal."""
    path.write_text(f"cpu  {busy} 0 0 {idle} 0 0 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\n")


def test_many_events_on_busy_processors_mark_it_too(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    _stat(stat, idle=1000, busy=1000)
    cpu = CpuIdle(stat)
    mark = busy_file(tmp_path)
    gauge = BusyGauge(mark, cpu)
    time.sleep(pressure.WINDOW)
    _stat(stat, idle=1500, busy=1500)  # half idle since: room to spare
    gauge.written(1000)
    assert gauge.marks == 0
    time.sleep(pressure.WINDOW)
    _stat(stat, idle=1510, busy=2500)  # 1 % idle: the processors are full
    gauge.written(10)  # but few events: not the clicks' doing
    assert gauge.marks == 0
    time.sleep(pressure.WINDOW)
    _stat(stat, idle=1520, busy=3500)
    gauge.written(1000)  # thousands of events a second on full processors
    assert gauge.marks == 1 and saturated(mark)
    # Nobody renews it: it holds for HOLD seconds, then the machine is free again.
    assert not saturated(mark, now=time.time() + pressure.HOLD + 0.01)
    time.sleep(pressure.HOLD + 0.05)
    assert not saturated(mark)
    # Without a readable /proc/stat nothing is ever marked.
    assert CpuIdle(tmp_path / "missing").share() is None


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
