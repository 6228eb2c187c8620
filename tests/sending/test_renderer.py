"""Render processes: the messages they compose are the runner's own, in order, and a
render process that dies loses or duplicates nothing (B15)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests.support import world
from tests.support.smtp import SmtpServer, SmtpSink
from tidings.config import Settings
from tidings.emails import links
from tidings.runtime import Runtime
from tidings.sending.compose import Composer, MailoutSpec, NotComposed, Outgoing, Recipient
from tidings.sending.renderer import MAX_RESTARTS, RenderPool
from tidings.sending.runner import MailoutRunner
from tidings.sending.service import start_mailout

SENT_AT = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)
HTML = """<html><body><h1>Hi {{ contact.first_name or "there" }}</h1>
<p><a href="https://example.com/u/{{ contact.id }}?x=1&amp;y=2">your page</a></p>
<p><a href="https://example.com/blog">blog</a> and {{ 100 // contact.fields.divisor }}</p>
{% if contact.fields.plan == "pro" %}<p>Pro</p>{% endif %}</body></html>"""
PREPARED, FOUND = links.prepare(HTML)
SPEC = MailoutSpec(
    email_id=7,
    subject="News for {{ contact.first_name }} ✓",
    prepared_html=PREPARED,
    plain_text=None,
    link_ids={link.position: 100 + link.position for link in FOUND},
    link_urls={link.position: link.url for link in FOUND},
    sender_name="Tidings News",
    sender_address="news@example.com",
    base_url="https://t.example",
    secret_key="test-secret-key-0123456789",
)
BROKEN = 13  # this recipient's divisor is 0: its message cannot be rendered
RANDOM_PART = re.compile(rb"(Message-ID: <d\d+\.)[0-9a-f]{16}@")


def _recipients(count: int) -> list[Recipient]:
    return [
        Recipient(
            delivery_id=1000 + index,
            contact={
                "id": index,
                "email": f"r{index}@example.com",
                "first_name": f"Zoë{index}" if index % 3 else None,
                "last_name": "Lee",
                "fields": {"divisor": 0 if index == BROKEN else 1 + index % 4, "plan": "pro"},
            },
        )
        for index in range(count)
    ]


def _comparable(item: Outgoing | NotComposed) -> object:
    """The message with its Message-ID's random part (unique per build) blanked."""
    if isinstance(item, NotComposed):
        return item
    return item._replace(data=RANDOM_PART.sub(rb"\1RANDOM@", item.data))


def _expected(recipients: list[Recipient]) -> list[object]:
    return [_comparable(m) for m in Composer(SPEC).compose_chunk(recipients, SENT_AT)]


def _gone(pid: int) -> bool:
    """True once the process has exited (gone, or a zombie nobody has reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}


def _wait_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not _gone(pid):
        assert time.monotonic() < deadline, f"process {pid} still runs"
        time.sleep(0.01)


@pytest.fixture
def pool_factory() -> Iterator[list[RenderPool]]:
    pools: list[RenderPool] = []
    yield pools
    for pool in pools:
        pool.close()


def test_composed_message_is_complete() -> None:
    recipient = _recipients(2)[1]
    message = Composer(SPEC).compose(recipient, SENT_AT)
    assert (message.delivery_id, message.address) == (1001, "r1@example.com")
    # The personalized destination is kept, as rendered, for its link id.
    assert message.personalized == {101: "https://example.com/u/1?x=1&y=2"}
    assert message.data.endswith(b"\r\n")
    parsed = message_from_bytes(message.data, policy=policy.default)
    assert parsed["To"] == "Zoë1 Lee <r1@example.com>"
    assert parsed["Subject"] == "News for Zoë1 ✓"
    html = parsed.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert html.count("https://t.example/t/c/") == 2 and "example.com/blog" not in html
    assert "https://t.example/t/o/" in html
    assert parsed["List-Unsubscribe"].startswith("<https://t.example/u/")


@pytest.mark.parametrize("processes", [1, 2])
def test_render_processes_compose_the_same_messages_in_order(
    pool_factory: list[RenderPool], processes: int
) -> None:
    recipients = _recipients(120)
    pool = RenderPool(SPEC, processes=processes, chunk=7, clock=lambda: SENT_AT)
    pool_factory.append(pool)
    assert len(pool.pids) == processes and os.getpid() not in pool.pids
    got = [_comparable(m) for m in pool.compose(recipients)]
    assert got == _expected(recipients)
    assert isinstance(got[BROKEN], NotComposed) and "ZeroDivisionError" in got[BROKEN].error  # type: ignore[attr-defined]
    assert (pool.restarts, pool.recomposed) == (0, 0)
    pids = pool.pids
    pool.close()
    for pid in pids:
        _wait_gone(pid)


def test_a_pass_stopped_early_leaves_the_pool_in_step(pool_factory: list[RenderPool]) -> None:
    recipients = _recipients(100)
    pool = RenderPool(SPEC, processes=1, chunk=10, clock=lambda: SENT_AT)
    pool_factory.append(pool)
    stream = pool.compose(recipients)
    assert _comparable(next(stream)) == _expected(recipients[:1])[0]
    stream.close()  # chunks were still in flight
    again = recipients[50:]
    assert [_comparable(m) for m in pool.compose(again)] == _expected(again)
    assert pool.restarts == 0


def test_killed_render_process_is_replaced_without_losing_a_message(
    pool_factory: list[RenderPool],
) -> None:
    recipients = _recipients(200)
    pool = RenderPool(SPEC, processes=1, chunk=10, clock=lambda: SENT_AT)
    pool_factory.append(pool)
    stream = pool.compose(recipients)
    got = [_comparable(next(stream))]  # three more chunks are in flight now
    (first,) = pool.pids
    os.kill(first, signal.SIGKILL)
    _wait_gone(first)
    got += [_comparable(m) for m in stream]
    assert got == _expected(recipients)  # each message once, in order
    assert pool.restarts == 1 and pool.recomposed >= 10
    (second,) = pool.pids
    assert second != first


def test_render_process_that_stops_answering_is_replaced(
    pool_factory: list[RenderPool],
) -> None:
    recipients = _recipients(100)
    pool = RenderPool(SPEC, processes=1, chunk=10, timeout=1.0, clock=lambda: SENT_AT)
    pool_factory.append(pool)
    stream = pool.compose(recipients)
    got = [_comparable(next(stream))]
    (stuck,) = pool.pids
    os.kill(stuck, signal.SIGSTOP)  # alive, but composing nothing
    try:
        got += [_comparable(m) for m in stream]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(stuck, signal.SIGCONT)
    assert got == _expected(recipients)
    assert pool.restarts == 1 and stuck not in pool.pids
    _wait_gone(stuck)  # killed, not left behind


def test_render_processes_that_keep_dying_leave_the_work_to_the_runner(
    pool_factory: list[RenderPool],
) -> None:
    recipients = _recipients(300)
    pool = RenderPool(SPEC, processes=1, chunk=10, clock=lambda: SENT_AT)
    pool_factory.append(pool)
    got = []
    killed = 0
    for message in pool.compose(recipients):
        got.append(_comparable(message))
        if len(got) % 40 == 0 and pool.pids:
            os.kill(pool.pids[0], signal.SIGKILL)
            _wait_gone(pool.pids[0])
            killed += 1
    assert killed == MAX_RESTARTS + 1
    assert pool.restarts == MAX_RESTARTS and pool.pids == []
    assert got == _expected(recipients)


def test_render_process_exits_when_the_runner_process_is_killed(tmp_path: Path) -> None:
    # The runner's process dies without any cleanup: its render process must not
    # stay behind.
    script = tmp_path / "runner.py"
    script.write_text(
        textwrap.dedent(
            """
            import time
            from tests.sending.test_renderer import SPEC
            from tidings.sending.renderer import RenderPool

            if __name__ == "__main__":
                pool = RenderPool(SPEC, processes=1)
                print(pool.pids[0], flush=True)
                time.sleep(60)
            """
        )
    )
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        render_pid = int(process.stdout.readline())
        assert not _gone(render_pid)
    finally:
        process.kill()
        process.wait(10)
    _wait_gone(render_pid)


# -- through a real mailout ---------------------------------------------------------

RECIPIENTS = 600


def test_mailout_survives_its_render_process_being_killed(
    runtime: Runtime, settings: Settings
) -> None:
    sink = SmtpSink(delay=0.003)  # a few hundred messages/s over two connections
    with SmtpServer(sink) as server:
        sending = Runtime(
            settings.model_copy(update={"smtp_url": server.url, "smtp_connections": 2})
        )
        try:
            with sending.session() as session:
                w = world.build(session, consenting=10, anonymous=RECIPIENTS - 10)
                mailout_id = start_mailout(session=session, email_id=w.email_id).id
            runner = MailoutRunner(sending)
            outcome: list[str] = []
            thread = threading.Thread(target=lambda: outcome.append(runner.run(mailout_id)))
            thread.start()
            try:
                deadline = time.monotonic() + 30
                # Early: most chunks are still to be handed to the render process.
                while len(sink.messages) < RECIPIENTS // 6:
                    assert time.monotonic() < deadline and thread.is_alive()
                    time.sleep(0.005)
                pool = runner.render_pool
                assert pool is not None
                (render_pid,) = pool.pids
                os.kill(render_pid, signal.SIGKILL)
            finally:
                thread.join(60)
            assert not thread.is_alive()
        finally:
            sending.close()
    assert outcome == ["finished"]
    assert runner.render_restarts == 1
    # One pass: nothing was left pending for a second one to pick up.
    assert runner.passes == 1
    counts = sink.per_recipient()
    assert counts == {f"person{i}@example.com": 1 for i in range(RECIPIENTS)}
    assert world.delivery_statuses(runtime, mailout_id) == {"sent": RECIPIENTS}
