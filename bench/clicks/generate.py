"""Create a sent email with 20 links and N deliveries, and list every valid click URL.

    python -m bench.clicks.generate --db sqlite --deliveries 200000

Writes ``bench/out/clicks-<db>-paths.txt`` (one ``/t/c/<token>`` path a line: two
links of every delivery) for the load generator.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from bench.common import OUT, SECRET_KEY, Database, fresh_database, log
from bench.population import add_contacts, insert_rows, newsletter_html
from tidings.config import Settings
from tidings.db.base import utcnow
from tidings.emails import service as emails
from tidings.runtime import Runtime
from tidings.sending.models import Delivery, Mailout
from tidings.sending.tokens import click_path
from tidings.tracking.services import signer as tracking_signer

LINKS = 20
PATHS_PER_DELIVERY = 2  # two links of each delivery, in a row of the paths file


@dataclass(frozen=True)
class ClickData:
    """What the click benchmark needs to know about the generated data."""

    email_id: int
    deliveries: int
    links: int
    paths_file: Path


def generate(db: Database, deliveries: int, *, consenting_every: int = 2) -> ClickData:
    """Fill ``db`` and write the click paths; half the recipients agree to tracking."""
    started = time.perf_counter()
    runtime = Runtime(Settings(data_dir=db.data_dir, database_url=db.url, secret_key=SECRET_KEY))
    try:
        with runtime.session() as session:
            list_id, contact_ids = add_contacts(
                session, deliveries, prefix="clk", consenting_every=consenting_every
            )
            email = emails.create(
                session=session,
                name="Click benchmark",
                subject="News for {{ contact.first_name }}",
                html=newsletter_html(LINKS),
                sender_name="Bench",
                sender_address="news@bench.example.com",
                recipient_list_id=list_id,
            )
            now = utcnow()
            mailout = Mailout(
                email_id=email.id,
                recipient_list_id=list_id,
                status="finished",
                total=deliveries,
                started_at=now,
                finished_at=now,
            )
            session.add(mailout)
            session.flush()
            insert_rows(
                session,
                Delivery,
                [
                    {
                        "mailout_id": mailout.id,
                        "email_id": email.id,
                        "contact_id": cid,
                        "status": "sent",
                        "attempts": 1,
                        "sent_at": now,
                        "created_at": now,
                    }
                    for cid in contact_ids
                ],
            )
            delivery_ids = list(
                session.scalars(
                    select(Delivery.id)
                    .where(Delivery.mailout_id == mailout.id)
                    .order_by(Delivery.id)
                )
            )
            link_ids = [link.id for link in emails.links(session=session, email_id=email.id)]
            email_id = email.id
        assert len(link_ids) == LINKS, link_ids
        OUT.mkdir(parents=True, exist_ok=True)
        paths_file = OUT / f"clicks-{db.kind}-paths.txt"
        signer = tracking_signer(runtime)
        with paths_file.open("w") as out:
            # Two links per recipient, as a person clicks: a recipient clicking three
            # links within seconds is a burst, counted as a machine (B7).
            for index, delivery_id in enumerate(delivery_ids):
                picked = (link_ids[index % LINKS], link_ids[(index + LINKS // 2) % LINKS])
                out.write("".join(f"{click_path(signer, delivery_id, link)}\n" for link in picked))
    finally:
        runtime.close()
    log(
        f"{db.kind}: email {email_id} with {LINKS} links, {deliveries} deliveries, "
        f"{deliveries * PATHS_PER_DELIVERY} click URLs in {time.perf_counter() - started:.1f}s"
    )
    return ClickData(email_id=email_id, deliveries=deliveries, links=LINKS, paths_file=paths_file)


def main() -> None:
    """Command line entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--deliveries", type=int, default=20_000)
    args = parser.parse_args()
    data = generate(fresh_database(args.db, "clicks"), args.deliveries)
    print(data.paths_file)


if __name__ == "__main__":
    main()
