"""The background loop every Tidings thread runs on: start, stop, errors, finish."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest

from tidings.jobs.loop import BackgroundLoop


class Counting(BackgroundLoop):
    def __init__(self, *, fail_at: int = 0, end_at: int = 0, delay_first: bool = False) -> None:
        super().__init__("tests-loop", 0.01, delay_first=delay_first)
        self.ticks = 0
        self.finished = 0
        self.fail_at = fail_at
        self.end_at = end_at
        self.threads: set[str] = set()

    def tick(self) -> bool | None:
        self.ticks += 1
        self.threads.add(threading.current_thread().name)
        if self.ticks == self.fail_at:
            raise RuntimeError("boom")
        return False if self.ticks == self.end_at else None

    def finish(self) -> None:
        self.finished += 1


def _until(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_failing_round_is_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    loop = Counting(fail_at=2)
    with caplog.at_level(logging.ERROR, logger="tidings.jobs.loop"):
        loop.start()
        loop.start()  # idempotent: still one thread
        _until(lambda: loop.ticks >= 5)
        loop.stop()
    assert loop.threads == {"tests-loop"}
    assert loop.finished == 1 and not loop.running()
    [record] = caplog.records
    assert "tests-loop" in record.getMessage() and record.exc_info is not None


def test_a_tick_ends_the_loop_and_finish_runs_in_its_thread() -> None:
    loop = Counting(end_at=3)
    loop.start()
    _until(lambda: not loop.running())
    assert (loop.ticks, loop.finished) == (3, 1)
    loop.stop()  # nothing left to stop
    assert loop.finished == 1


def test_stop_wakes_a_long_wait_and_the_loop_starts_again() -> None:
    loop = Counting(delay_first=True)
    loop.interval = 60.0
    loop.start()
    started = time.monotonic()
    loop.stop()
    assert time.monotonic() - started < 5
    assert (loop.ticks, loop.finished) == (0, 1)
    loop.interval = 0.01
    loop.start()
    _until(lambda: loop.ticks >= 2)
    loop.stop()
    assert loop.finished == 2
