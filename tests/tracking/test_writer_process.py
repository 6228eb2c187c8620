"""The tracking writer in its own process: the same counts as in-process, a commit
before every acknowledgement, and a web process that survives the writer's death."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from tests.tracking.test_writer import EXPECTED, _click, _counters, _scenario, _sent
from tidings.activities.models import Activity
from tidings.runtime import Runtime
from tidings.tracking.writer import WriterUnavailable
from tidings.tracking.writer_client import RemoteWriter
from tidings.tracking.writer_process import WriterProcess


@pytest.fixture
def remote(runtime: Runtime) -> Iterator[RemoteWriter]:
    """A writer process on the test database and the web side's client for it."""
    writer = RemoteWriter(WriterProcess(runtime.settings))
    writer.start()
    yield writer
    writer.stop()


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


def test_counts_and_activities_match_the_in_process_writer(
    runtime: Runtime, remote: RemoteWriter
) -> None:
    sent = _sent(runtime, consenting=1, anonymous=1, prefix="remote")

    async def main() -> None:
        await asyncio.gather(*(remote.record(event) for event in _scenario(sent)))

    asyncio.run(main())
    counters = _counters(runtime, sent)
    activities = counters.pop("activities")
    assert counters == EXPECTED
    assert len(activities) == 4


def test_a_click_without_an_open_logs_an_inferred_open(
    runtime: Runtime, remote: RemoteWriter
) -> None:
    sent = _sent(runtime, consenting=1, anonymous=0, prefix="inferred")
    asyncio.run(remote.record(_click(sent, sent.consenting[0], 1)))
    with runtime.session() as session:
        rows = session.execute(
            select(Activity.type, Activity.details, Activity.value).where(
                Activity.email_id == sent.email_id
            )
        ).all()
    assert sorted(rows) == [
        ("email_click", None, sent.links[1][1]),
        ("email_open", {"inferred_from_click": True}, None),
    ]


def test_many_concurrent_clicks_are_all_stored(runtime: Runtime, remote: RemoteWriter) -> None:
    sent = _sent(runtime, consenting=3, anonymous=7, prefix="crowd")
    deliveries = sent.consenting + sent.anonymous
    # Two links each: a person clicking around, not every link at once (B7).
    events = [_click(sent, deliveries[i % 10], 1 + i % 2) for i in range(500)]

    async def main() -> None:
        await asyncio.gather(*(remote.record(event) for event in events))

    asyncio.run(main())
    counters = _counters(runtime, sent)
    assert counters["events"] == counters["clicks_total"] == 500
    assert counters["clicks_unique"] == 10


def test_a_killed_writer_fails_the_waiting_clicks_and_comes_back(
    runtime: Runtime, remote: RemoteWriter
) -> None:
    sent = _sent(runtime, consenting=1, anonymous=1, prefix="killed")
    delivery = sent.anonymous[0]

    async def main() -> tuple[int, int]:
        await remote.record(_click(sent, delivery, 1))
        first_pid = remote.process.pid
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        while not _gone(first_pid):
            await asyncio.sleep(0.01)
        failures = 0
        # The first clicks after the kill may find the old connection; they fail
        # loudly instead of claiming a stored click. Then the writer starts again.
        for _ in range(50):
            try:
                await remote.record(_click(sent, delivery, 2))
                break
            except WriterUnavailable:
                failures += 1
                await asyncio.sleep(0.05)
        else:
            pytest.fail("the writer process did not come back")
        second_pid = remote.process.pid
        assert second_pid is not None and second_pid != first_pid
        return failures, second_pid

    failures, _ = asyncio.run(main())
    assert failures <= 1
    counters = _counters(runtime, sent)
    assert counters["events"] == counters["clicks_total"] == 2
    assert counters["link1"][0] == counters["link2"][0] == 1


def test_a_bad_frame_drops_only_that_peer(runtime: Runtime, remote: RemoteWriter) -> None:
    sent = _sent(runtime, consenting=0, anonymous=1, prefix="frame")
    stranger = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stranger.connect(remote.process.socket_path)
    stranger.sendall(b"\x00\x00\x00\x05garbage")
    stranger.settimeout(10)
    assert stranger.recv(100) == b""  # the writer hung up on it
    stranger.close()
    asyncio.run(remote.record(_click(sent, sent.anonymous[0], 1)))
    assert _counters(runtime, sent)["events"] == 1


def test_the_socket_is_private_and_removed_on_stop(runtime: Runtime) -> None:
    process = WriterProcess(runtime.settings)
    process.ensure_running()
    folder = Path(process.socket_path).parent
    assert folder.stat().st_mode & 0o777 == 0o700
    assert Path(process.socket_path).stat().st_mode & 0o777 == 0o600
    pid = process.pid
    assert pid is not None
    process.stop()
    assert _gone(pid)
    assert not folder.exists()


PARENT = """
import json, sys, time
from tidings.config import Settings
from tidings.tracking.writer_process import WriterProcess
process = WriterProcess(Settings(**json.loads(sys.argv[1])))
process.ensure_running()
print(process.pid, flush=True)
time.sleep(600)
"""


def test_the_writer_process_ends_when_its_parent_is_killed(runtime: Runtime) -> None:
    fields = runtime.settings.model_dump(mode="json")
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, json.dumps(fields)], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert not _gone(child)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 20
    while not _gone(child):
        assert time.monotonic() < deadline, "the writer process outlived its parent"
        time.sleep(0.05)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_lost_database_connection_is_replaced_without_failing_a_click(
    runtime: Runtime, remote: RemoteWriter
) -> None:
    # The writer process does not ping connections on checkout: a batch that finds
    # its connection gone must invalidate it and succeed on a new one.
    sent = _sent(runtime, consenting=0, anonymous=1, prefix="lost")
    delivery = sent.anonymous[0]
    asyncio.run(remote.record(_click(sent, delivery, 1)))
    with runtime.engine.connect() as conn:
        killed = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    assert killed >= 1
    asyncio.run(remote.record(_click(sent, delivery, 2)))
    runtime.engine.dispose()
    counters = _counters(runtime, sent)
    assert counters["events"] == counters["clicks_total"] == 2
