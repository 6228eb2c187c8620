"""Sender identities, their DNS records and the checks against a real (local) DNS server."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import dns.message
import dns.rcode
import dns.rrset
import pytest

from tidings.errors import Conflict, Invalid
from tidings.runtime import Runtime
from tidings.sending import identities
from tidings.sending.dkim import generate_key, public_key_record
from tidings.sending.dnscheck import DnsChecker
from tidings.sending.identities import Record


class TxtServer:
    """A DNS server on loopback (UDP) answering TXT queries from a table."""

    def __init__(self, records: dict[str, list[str]]) -> None:
        self.records = records
        self.queries: list[str] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            answer = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().rstrip(".")
            self.queries.append(name)
            if name in self.records:
                texts = [
                    " ".join(f'"{t[i : i + 255]}"' for i in range(0, len(t), 255))
                    for t in self.records[name]
                ]
                answer.answer.append(
                    dns.rrset.from_text_list(question.name, 300, "IN", "TXT", texts)
                )
            else:
                answer.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(answer.to_wire(), peer)

    def __enter__(self) -> TxtServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def dkim_key(tmp_path: Path) -> tuple[str, str]:
    path = tmp_path / "k.pem"
    return str(path), public_key_record(generate_key(path))


def test_identity_rules(runtime: Runtime) -> None:
    with runtime.session() as session:
        identity = identities.create(
            session=session,
            domain="Example.COM.",
            from_name="  Example   Widgets ",
            from_address="news@mail.example.com",
            postal_address="1 Example Street",
        )
        assert (identity.domain, identity.from_name) == ("example.com", "Example Widgets")
        for domain, address, message in (
            ("not a domain", "a@example.org", "domain"),
            ("example.org", "a@example.net", "not an address of example.org"),
            ("example.org", "nope", "from_address"),
        ):
            with pytest.raises(Invalid, match=message):
                identities.create(
                    session=session, domain=domain, from_name="X", from_address=address
                )
        with pytest.raises(Conflict):
            identities.create(
                session=session, domain="example.com", from_name="X", from_address="a@example.com"
            )
        assert [i.domain for i in identities.list_identities(session=session)] == ["example.com"]


def test_records_to_publish(runtime: Runtime, dkim_key: tuple[str, str]) -> None:
    path, txt = dkim_key
    with runtime.session() as session:
        identity = identities.create(
            session=session, domain="example.com", from_name="X", from_address="a@example.com"
        )
        without = {r.kind: r for r in identities.records(runtime, identity)}
        assert without["DKIM"].value is None and "tidings dkim generate" in without["DKIM"].note
        assert without["SPF"] == Record("SPF", "example.com", "v=spf1 mx ~all", without["SPF"].note)
        assert without["DMARC"].name == "_dmarc.example.com"
        assert without["DMARC"].value is not None and without["DMARC"].value.startswith("v=DMARC1;")
        runtime.settings = runtime.settings.model_copy(
            update={
                "dkim": f"s1:example.com:{path}",
                "smtp_url": "smtp://u:p@relay.example.net:587",
            }
        )
        signed = {r.kind: r for r in identities.records(runtime, identity)}
        assert signed["DKIM"] == Record(
            "DKIM", "s1._domainkey.example.com", txt, signed["DKIM"].note
        )
        assert signed["SPF"].value == "v=spf1 mx a:relay.example.net ~all"


def test_dns_checks_against_a_real_server(dkim_key: tuple[str, str]) -> None:
    _, txt = dkim_key
    records = [
        Record("SPF", "example.com", "v=spf1 mx ~all", ""),
        Record("DKIM", "s1._domainkey.example.com", txt, ""),
        Record("DMARC", "_dmarc.example.com", "v=DMARC1; p=none", ""),
    ]
    published = {
        "example.com": ["v=spf1 mx include:relay.example.net ~all", "google-site-verification=x"],
        "s1._domainkey.example.com": [txt.replace("; p=", ";\tp=")],
    }
    with TxtServer(published) as server:
        checker = DnsChecker(nameservers=["127.0.0.1"], port=server.port, timeout=1.0)
        checks = checker.check(records)
        assert {k: c.status for k, c in checks.items()} == {
            "SPF": "ok",
            "DKIM": "ok",
            "DMARC": "missing",
        }
        asked = len(server.queries)
        assert checker.check(records) == checks  # cached: DNS is not asked again
        assert len(server.queries) == asked
        server.records["s1._domainkey.example.com"] = ["v=DKIM1; k=rsa; p=AAAA"]
        server.records["example.com"] = ["v=spf1 -all", "v=spf1 mx ~all"]
        fresh = DnsChecker(nameservers=["127.0.0.1"], port=server.port, timeout=1.0).check(records)
        assert fresh["DKIM"].status == "different" and fresh["SPF"].status == "different"
    no_key = Record("DKIM", "<selector>._domainkey.example.com", None, "run tidings dkim generate")
    assert checker.check([no_key])["DKIM"].status == "no_key"


def test_dns_that_does_not_answer_gives_unknown_quickly() -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))  # receives, never answers
    try:
        checker = DnsChecker(nameservers=["127.0.0.1"], port=silent.getsockname()[1], timeout=0.5)
        records = [Record("DMARC", "_dmarc.example.com", "v=DMARC1; p=none", "")]
        started = time.monotonic()
        assert checker.check(records)["DMARC"].status == "unknown"
        assert time.monotonic() - started < 2.0
        started = time.monotonic()
        assert checker.check(records)["DMARC"].status == "unknown"  # cached for a while
        assert time.monotonic() - started < 0.2
    finally:
        silent.close()


def test_txt_record_strings() -> None:
    from tidings.sending.dkim_records import txt_strings

    value = "v=DKIM1; k=rsa; p=" + "A" * 400
    quoted = txt_strings(value)
    assert quoted.count('"') == 4 and "".join(quoted.split('"')[1::2]) == value
