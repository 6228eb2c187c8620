"""Sending benchmark: a personalized, tracked mailout to postfix's ``smtp-sink``.

    python -m bench.send.run [--db sqlite,postgresql] [--recipients 10000] [--connections 8]
                             [--render-processes 1] [--dkim off,on] [--runs 1]

For each database: 10,000 subscribed contacts and a newsletter (20 tracked links, two
of them personalized, merge fields, a condition), ``start_mailout``, then the real
``MailoutRunner`` in its own process (``bench.send.worker``) delivering to
``smtp-sink -u postfix -c 127.0.0.1:2526 1000``. Reports messages per second, the CPU
time and peak RSS of the runner process and of its render processes, and checks
exactly once: every delivery row says sent, and smtp-sink counted exactly as many
messages. ``--dkim on`` signs every message (``TIDINGS_DKIM`` with a 2048-bit key
made for the run); ``--dkim off,on`` measures both, one after the other.
``--variants on`` adds two widgets of three variants each (conditions on a custom
field, the tracking consent and the company) chosen per recipient, set-based, when
the mailout starts; ``--variants off,on`` measures both in the same run (the
issue's budget: within 15 % of the messages/s without variants).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

from sqlalchemy import func, select

from bench.common import (
    OUT,
    SECRET_KEY,
    Database,
    free_port,
    fresh_database,
    log,
    machine,
    port_is_free,
    postgres_available,
    stop,
    tidings_env,
    wait_for_port,
    write_result,
)
from bench.population import add_contacts, newsletter_html
from tidings.config import Settings
from tidings.db.session import session_scope
from tidings.emails import service as emails
from tidings.runtime import Runtime
from tidings.sending.models import Delivery, DeliveryLinkUrl
from tidings.sending.service import start_mailout

TARGET_PER_SECOND = 500
SUBJECT = 'News for {{ contact.first_name or "you" }} at {{ contact.fields.company }}'
SINK_PORT = 2526
_COUNTER = re.compile(rb"mesg=(\d+)")


class SmtpSinkProcess:
    """Postfix's ``smtp-sink``: accepts and discards mail, counts messages."""

    def __init__(self, label: str) -> None:
        self.port = SINK_PORT if port_is_free(SINK_PORT) else free_port()
        OUT.mkdir(parents=True, exist_ok=True)
        self.out_path = OUT / f"send-{label}-smtp-sink.out"
        self._out = self.out_path.open("wb")
        self.process = subprocess.Popen(
            ["smtp-sink", "-u", "postfix", "-c", f"127.0.0.1:{self.port}", "1000"],
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def __enter__(self) -> SmtpSinkProcess:
        try:
            wait_for_port(self.port, self.process, timeout=10)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        stop(self.process)
        self._out.close()

    def messages(self) -> int:
        """Messages received so far (smtp-sink's running counter)."""
        self._out.flush()
        counts = _COUNTER.findall(self.out_path.read_bytes())
        return int(counts[-1]) if counts else 0


def variant_widgets() -> dict[str, Any]:
    """Two widgets of three variants each, with a link in every part."""

    def part(name: str) -> str:
        return f'<p>{name} for {{{{ contact.first_name }}}}: <a href="https://bench.example.com/{name}">more</a></p>'

    def widget(key: str, conditions: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "html": part(f"{key}-default"),
            "variants": [
                {"condition": c, "html": part(f"{key}-v{i}")} for i, c in enumerate(conditions)
            ],
        }

    pro = {"type": "field", "field": "plan", "op": "eq", "value": "pro"}
    tracking = {"type": "consent", "code_name": "tracking"}
    acme = {"type": "field", "field": "company", "op": "contains", "value": "a"}
    return {
        "hero": widget("hero", [{"all": [pro, tracking]}, pro, tracking]),
        "offer": widget("offer", [acme, {"not": tracking}, {"any": [pro, acme]}]),
    }


def prepare(db: Database, recipients: int, variants: bool = False) -> int:
    """Contacts, the newsletter and a started mailout; returns the mailout id."""
    started = time.perf_counter()
    runtime = Runtime(Settings(data_dir=db.data_dir, database_url=db.url, secret_key=SECRET_KEY))
    try:
        # A session without the runtime: start_mailout enqueues no job, the
        # benchmark runs the mailout itself.
        with session_scope(runtime.sessions) as session:
            list_id, _ = add_contacts(session, recipients, prefix="snd")
            email = emails.create(
                session=session,
                name="Send benchmark",
                subject=SUBJECT,
                html=newsletter_html(20, personalized=2)
                + ('{{ widget("hero") }}{{ widget("offer") }}' if variants else ""),
                sender_name="Tidings Bench",
                sender_address="news@bench.example.com",
                recipient_list_id=list_id,
                widgets=variant_widgets() if variants else None,
            )
            mailout_id = start_mailout(session=session, email_id=email.id).id
    finally:
        runtime.close()
    log(
        f"{db.kind}: {recipients} recipients and mailout {mailout_id} in "
        f"{time.perf_counter() - started:.1f}s"
    )
    return mailout_id


def dkim_setting() -> str:
    """``TIDINGS_DKIM`` for a key made once for the benchmark's sender domain."""
    from tidings.sending.dkim import generate_key

    path = OUT / "send-dkim.pem"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        generate_key(path)
    return f"bench:bench.example.com:{path}"


def send(
    db: Database,
    mailout_id: int,
    connections: int,
    renderers: int,
    sink: SmtpSinkProcess,
    dkim: bool = False,
) -> dict[str, Any]:
    """Run the mailout in a child process; its figures."""
    env = tidings_env(
        db,
        TIDINGS_SMTP_URL=f"smtp://127.0.0.1:{sink.port}",
        TIDINGS_BASE_URL="https://track.bench.example.com",
        TIDINGS_SMTP_CONNECTIONS=str(connections),
        **({} if renderers < 0 else {"TIDINGS_SEND_RENDER_PROCESSES": str(renderers)}),
        TIDINGS_DKIM=dkim_setting() if dkim else "",
    )
    done = subprocess.run(
        [sys.executable, "-m", "bench.send.worker", "--mailout", str(mailout_id),
         "--connections", str(connections)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            result: dict[str, Any] = json.loads(line.removeprefix("BENCH_RESULT "))
            return result
    raise RuntimeError(f"send worker failed:\n{done.stdout}\n{done.stderr[-3000:]}")


def verify(db: Database, mailout_id: int) -> dict[str, Any]:
    """Delivery rows by status, and personalized destinations kept."""
    runtime = Runtime(Settings(data_dir=db.data_dir, database_url=db.url, secret_key=SECRET_KEY))
    try:
        with runtime.session() as session:
            statuses = dict(
                session.execute(
                    select(Delivery.status, func.count())
                    .where(Delivery.mailout_id == mailout_id)
                    .group_by(Delivery.status)
                ).all()
            )
            link_urls = session.scalar(select(func.count()).select_from(DeliveryLinkUrl))
    finally:
        runtime.close()
    return {"statuses": statuses, "personalized_destinations": link_urls}


def bench_once(
    kind: str,
    recipients: int,
    connections: int,
    renderers: int,
    dkim: bool = False,
    variants: bool = False,
) -> dict[str, Any]:
    """One fresh database, one mailout, one set of figures."""
    db = fresh_database(kind, "send")
    mailout_id = prepare(db, recipients, variants)
    with SmtpSinkProcess(f"{kind}-{connections}-{renderers}") as sink:
        log(
            f"{kind}: sending with {connections} SMTP connections to smtp-sink :{sink.port}"
            f"{', DKIM on' if dkim else ''}"
        )
        figures = send(db, mailout_id, connections, renderers, sink, dkim)
        figures["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        time.sleep(0.5)
        received = sink.messages()
    checked = verify(db, mailout_id)
    problems = []
    if figures["outcome"] != "finished":
        problems.append(f"runner ended {figures['outcome']}")
    if checked["statuses"] != {"sent": recipients}:
        problems.append(f"delivery rows {checked['statuses']}")
    if received != recipients:
        problems.append(f"smtp-sink received {received} messages for {recipients} recipients")
    if checked["personalized_destinations"] != 2 * recipients:
        problems.append(f"{checked['personalized_destinations']} personalized destinations kept")
    result = {
        "database": kind,
        "recipients": recipients,
        "connections": connections,
        "render_processes": "auto" if renderers < 0 else renderers,
        "dkim": dkim,
        "variants": variants,
        "per_second": round(recipients / figures["seconds"]),
        "cpu_ms_per_message": round(figures["cpu_seconds"] / recipients * 1000, 2),
        "render_cpu_ms_per_message": round(figures["render_cpu_seconds"] / recipients * 1000, 2),
        "received_by_sink": received,
        **figures,
        **checked,
        "problems": problems,
    }
    log(
        f"{kind}/{connections}/r{renderers}: {result['per_second']} msgs/s, {figures['seconds']}s, "
        f"CPU {figures['cpu_seconds']}s (render processes {figures['render_cpu_seconds']}s), "
        f"peak RSS {figures['max_rss_mib']} MiB (render {figures['render_max_rss_mib']} MiB); "
        f"problems: {problems or 'none'}"
    )
    return result


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    """Run the send benchmark; prints a summary and writes ``bench/out/send.json``."""
    parser = argparse.ArgumentParser(description="Tidings sending benchmark")
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--connections", default="8", help="comma-separated values to compare")
    parser.add_argument(
        "--render-processes",
        default="auto",
        help="comma-separated values to compare (0: none; auto: the product's default, "
        "1, or 2 with DKIM)",
    )
    parser.add_argument(
        "--dkim", default="off", help="off, on, or off,on to compare signing with not signing"
    )
    parser.add_argument(
        "--variants", default="off", help="off, on, or off,on: two widgets of three variants"
    )
    parser.add_argument("--runs", type=int, default=1, help="repetitions of each combination")
    args = parser.parse_args(argv)
    if shutil.which("smtp-sink") is None:
        log(
            "smtp-sink is not installed (Debian package 'postfix'): send benchmark skipped. "
            "Install it with: apt-get install postfix"
        )
        return None
    results: dict[str, Any] = {"machine": machine(), "runs": []}
    for kind in args.db.split(","):
        if kind == "postgresql" and (reason := postgres_available()) is not None:
            log(f"PostgreSQL not reachable, skipped: {reason}")
            continue
        for connections in (int(c) for c in args.connections.split(",")):
            for renderers in (
                -1 if r.strip() == "auto" else int(r) for r in args.render_processes.split(",")
            ):
                for _ in range(args.runs):
                    for dkim in (d.strip() == "on" for d in args.dkim.split(",")):
                        for variants in (v.strip() == "on" for v in args.variants.split(",")):
                            results["runs"].append(
                                bench_once(
                                    kind, args.recipients, connections, renderers, dkim, variants
                                )
                            )
    write_result("send", results)
    print(summary(results))
    return results


def summary(results: dict[str, Any]) -> str:
    """A Markdown table of the runs."""
    lines = [
        "| database | SMTP connections | render processes | DKIM | variants | messages/s | seconds "
        "| runner CPU per message | render CPU per message | claims per commit "
        "| peak RSS (runner / render) | load after | checks |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in results["runs"]:
        lines.append(
            f"| {run['database']} | {run['connections']} | {run['render_processes']} | "
            f"{'on' if run.get('dkim') else 'off'} | {'on' if run.get('variants') else 'off'} | "
            f"{run['per_second']:,} | "
            f"{run['seconds']} | {run['cpu_ms_per_message']} ms | "
            f"{run['render_cpu_ms_per_message']} ms | {run['claims_per_transaction']} | "
            f"{run['max_rss_mib']} / {run['render_max_rss_mib']} MiB | "
            f"{run['load_average_after'][0]} | "
            f"{'; '.join(run['problems']) or 'exactly once'} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
