"""DKIM: every message the SMTP server receives verifies with dkimpy against the public
key that ``tidings dkim generate`` prints (B15)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dkim
import pytest

from tests.support import world
from tests.support.smtp import SmtpSink
from tidings.assembly.bootstrap import ensure_defaults
from tidings.config import Settings
from tidings.emails import service as emails
from tidings.errors import Invalid
from tidings.runtime import Runtime
from tidings.sending import single
from tidings.sending.dkim import (
    DkimKeyRef,
    DkimSigner,
    key_for,
    load_private_key,
    parse_setting,
    public_key_record,
    relaxed_body,
)
from tidings.sending.message import MessageSkeleton
from tidings.sending.runner import MailoutRunner
from tidings.sending.service import start_mailout


def _generate(
    tmp_path: Path, domain: str = "example.com", selector: str = "tdg1"
) -> tuple[str, str]:
    """Run ``tidings dkim generate``; the ``TIDINGS_DKIM`` value and the TXT value."""
    done = subprocess.run(
        [sys.executable, "-c", "from tidings.cli import main; main()", "dkim", "generate",
         "--domain", domain, "--selector", selector, "--out", str(tmp_path / "dkim.pem")],
        env={**os.environ, "TIDINGS_DATA_DIR": str(tmp_path / "cli-data")},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = re.search(rf"^{selector}\._domainkey\.{domain}\. IN TXT (.+)$", done.stdout, re.M)
    setting = re.search(r"^TIDINGS_DKIM=(.+)$", done.stdout, re.M)
    assert record and setting, done.stdout
    txt = "".join(re.findall(r'"([^"]*)"', record.group(1)))  # the strings joined, as DNS does
    assert (tmp_path / "dkim.pem").stat().st_mode & 0o777 == 0o600
    again = subprocess.run(
        [sys.executable, "-c", "from tidings.cli import main; main()", "dkim", "generate",
         "--domain", domain, "--selector", selector, "--out", str(tmp_path / "dkim.pem")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert again.returncode == 2 and "exists already" in again.stderr  # never overwritten
    return setting.group(1), txt


def _dns(records: dict[str, str]):
    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        value = records.get(name.decode().rstrip("."))
        return value.encode() if value is not None else None

    return lookup


def _verifies(data: bytes, records: dict[str, str]) -> bool:
    return bool(dkim.verify(data, dnsfunc=_dns(records)))


def test_every_sent_message_verifies_with_dkimpy(
    tmp_path: Path, settings: Settings, smtp_sink: SmtpSink
) -> None:
    setting, txt = _generate(tmp_path)
    records = {"tdg1._domainkey.example.com": txt}
    runtime = Runtime(
        settings.model_copy(
            update={
                "smtp_url": smtp_sink.url,  # type: ignore[attr-defined]
                "dkim": setting,
                "send_render_processes": 1,  # the render process loads the key too
            }
        )
    )
    try:
        with runtime.session() as session:
            ensure_defaults(session)
            w = world.build(session, consenting=60, anonymous=60)
            mailout_id = start_mailout(session=session, email_id=w.email_id).id
            automation = emails.create(
                session=session,
                name="Welcome",
                subject="Welcome {{ contact.first_name }}",
                html='<p>Hi <a href="https://example.com/start">start</a></p>',
                sender_name="Example",
                sender_address="hello@example.com",
                purpose="automation",
            )
            single_id = single.send_one(
                session=session, email_id=automation.id, contact_id=w.consenting[0]
            ).id
            test_id = single.send_test(
                session=session, email_id=w.email_id, addresses=["qa@example.org"]
            )[0].id
        runner = MailoutRunner(runtime)
        assert runner.run(mailout_id) == "finished"
        assert runner.recomposed == 0  # composed (and signed) by the render process
        assert single.deliver_single(runtime, single_id) == "sent"
        assert single.deliver_test(runtime, test_id) == "sent"
    finally:
        runtime.close()
    assert len(smtp_sink.messages) == 122
    for received in smtp_sink.messages:
        assert received.data.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;")
        assert _verifies(received.data, records), received.data[:400]
    signature = smtp_sink.messages[0].message["DKIM-Signature"]
    signed = re.search(r"h=([^;]+);", signature)
    assert signed is not None
    assert signed.group(1).replace(" ", "").split(":") == [
        "from", "subject", "date", "message-id", "list-unsubscribe",
        "list-unsubscribe-post", "list-id", "mime-version", "content-type",
    ]  # fmt: skip
    # The verifier is real: a changed body or header fails, as does another key.
    data = smtp_sink.messages[0].data
    assert not _verifies(data.replace(b"Hi P", b"Hi Q", 1), records)
    assert not _verifies(data.replace(b"Subject: News", b"Subject: Newz", 1), records)
    _, other_txt = _generate(tmp_path / "other")
    assert other_txt != txt
    assert not _verifies(data, {"tdg1._domainkey.example.com": other_txt})


def test_signature_survives_relaxed_rewrites_by_relays(tmp_path: Path) -> None:
    setting, txt = _generate(tmp_path)
    signer = DkimSigner(parse_setting(setting)[0])
    skeleton = MessageSkeleton(sender_name="News", sender_address="news@example.com")
    data = skeleton.build(
        to_address="a@example.org",
        to_name="A",
        subject="Hello   there, " + "very long subject " * 80,  # folded: over 998 characters
        text="one  two \t\nthree\n\n\n",
        html="<p>x</p>",
        sent_at=datetime(2026, 5, 4, tzinfo=UTC),
        message_id="<m@example.com>",
        unsubscribe_url="https://t.example.com/u/x",
    )
    signed = signer.sign(data)
    records = {"tdg1._domainkey.example.com": txt}
    assert _verifies(signed, records)
    # What relays may do under relaxed canonicalization: refold, respace, trailing space.
    rewritten = signed.replace(b"Subject: Hello   there", b"Subject:  Hello there", 1)
    rewritten = rewritten.replace(b"MIME-Version: 1.0", b"MIME-Version:   1.0", 1)
    assert _verifies(rewritten, records)
    assert relaxed_body(b"a  b \t\r\n\r\n\r\n") == b"a b\r\n"
    assert relaxed_body(b"\r\n\r\n") == b""


def test_setting_and_key_choice() -> None:
    refs = parse_setting("s1:example.com:/k1.pem, s2:news.example.com:/k2.pem")
    assert refs == [
        DkimKeyRef("s1", "example.com", "/k1.pem"),
        DkimKeyRef("s2", "news.example.com", "/k2.pem"),
    ]
    assert key_for(refs, "a@news.example.com") == refs[1]
    assert key_for(refs, "a@mail.news.example.com") == refs[1]
    assert key_for(refs, "a@example.com") == refs[0]
    assert key_for(refs, "a@other.org") == refs[0]  # signed, though not aligned
    assert key_for([], "a@example.com") is None
    assert parse_setting("") == []
    for bad in ("s1:example.com", "::", "s1::/k.pem"):
        with pytest.raises(Invalid, match="TIDINGS_DKIM"):
            parse_setting(bad)


def test_unusable_keys_are_named(tmp_path: Path) -> None:
    with pytest.raises(Invalid, match="cannot be read"):
        load_private_key(str(tmp_path / "missing.pem"))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    with pytest.raises(Invalid, match="not an unencrypted PEM"):
        load_private_key(str(garbage))
    setting, txt = _generate(tmp_path)
    key = load_private_key(parse_setting(setting)[0].key_path)
    assert public_key_record(key) == txt
    assert load_private_key(parse_setting(setting)[0].key_path) is key  # read once
