"""Reading returned mail: DSN, ARF, non-standard bounce bodies, auto-replies, garbage."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import compat32

import pytest
from flufl.bounce import all_failures

from tests.bounces.fixtures import load
from tidings.bounces.parse import Outcome, classify_smtp_reply, read, severity


@pytest.mark.parametrize(
    ("name", "outcome", "source", "status"),
    [
        ("postfix_user_unknown.eml", Outcome.HARD, "dsn", "5.1.1"),
        ("exchange_recipient_not_found.eml", Outcome.HARD, "dsn", "5.1.10"),
        ("gmail_mailbox_full.eml", Outcome.SOFT, "dsn", "5.2.2"),
        ("postfix_expired.eml", Outcome.SOFT, "dsn", "4.4.1"),
        ("postfix_delayed.eml", Outcome.DELAYED, "dsn", "4.4.1"),
        ("exim_plain.eml", Outcome.HARD, "heuristic", "5.1.1"),
        ("qmail_plain.eml", Outcome.HARD, "heuristic", "5.1.1"),
        ("arf_abuse.eml", Outcome.COMPLAINT, "arf", None),
        ("out_of_office.eml", Outcome.AUTO_REPLY, "none", None),
    ],
)
def test_each_fixture_reads_as_what_it_is(
    name: str, outcome: Outcome, source: str, status: str | None
) -> None:
    verdict = read(load(name))
    assert verdict.outcome is outcome
    assert verdict.source == source
    assert verdict.status == status
    assert verdict.acts == (outcome in (Outcome.HARD, Outcome.SOFT, Outcome.COMPLAINT))


def test_a_dsn_keeps_its_diagnostic_on_one_line() -> None:
    verdict = read(load("postfix_user_unknown.eml", recipient="pat@recipient.test"))
    assert verdict.diagnostic is not None
    assert verdict.diagnostic.startswith("smtp; 550 5.1.1 <pat@recipient.test>")
    assert "\n" not in verdict.diagnostic
    assert "User unknown in local recipient table" in verdict.diagnostic


def test_the_arf_feedback_type_is_kept() -> None:
    assert read(load("arf_abuse.eml")).feedback_type == "abuse"


def test_arf_reports_that_are_not_complaints_change_nothing() -> None:
    raw = load("arf_abuse.eml").replace(b"Feedback-Type: abuse", b"Feedback-Type: not-spam")
    verdict = read(raw)
    assert verdict.outcome is Outcome.UNKNOWN
    assert not verdict.acts


def test_an_out_of_office_is_not_a_bounce_for_the_detectors_either() -> None:
    # Not only the auto-reply rule: the bounce detectors find nothing in it.
    msg = message_from_bytes(load("out_of_office.eml"), policy=compat32)
    assert all_failures(msg) == (frozenset(), frozenset())


def test_a_mailer_daemon_bounce_is_never_taken_for_an_auto_reply() -> None:
    # Exim marks its bounces auto-replied too; the failure still counts.
    raw = load("exim_plain.eml")
    assert b"Auto-Submitted: auto-replied" in raw
    assert read(raw).outcome is Outcome.HARD


def test_a_failed_action_without_a_status_is_hard() -> None:
    raw = load("postfix_user_unknown.eml")
    for gone in (b"Status: 5.1.1\r\n", b"550 5.1.1 ", b"550\r\n    5.1.1"):
        raw = raw.replace(gone, b"")
    assert b"5.1.1" not in raw.split(b"Content-Type: message/delivery-status")[1][:400]
    assert read(raw).outcome is Outcome.HARD


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("5.1.1", Outcome.HARD),
        ("5.1.10", Outcome.HARD),
        ("5.0.0", Outcome.HARD),
        ("5.2.1", Outcome.HARD),
        ("5.4.4", Outcome.HARD),
        ("5.2.2", Outcome.SOFT),
        ("5.2.3", Outcome.SOFT),
        ("5.4.7", Outcome.SOFT),
        ("5.3.4", Outcome.SOFT),
        ("5.7.1", Outcome.SOFT),
        ("5.7.26", Outcome.SOFT),
        ("4.2.2", Outcome.SOFT),
        ("4.4.7", Outcome.SOFT),
    ],
)
def test_severity_of_status_codes(status: str, outcome: Outcome) -> None:
    assert severity(status) is outcome


def test_smtp_replies_at_rcpt() -> None:
    assert classify_smtp_reply(550, "5.1.1 mailbox unavailable") is Outcome.HARD
    assert classify_smtp_reply(550, "5.7.1 message refused as spam") is Outcome.SOFT
    assert classify_smtp_reply(554, "no such user") is Outcome.HARD
    assert classify_smtp_reply(451, "try later") is Outcome.SOFT
    assert classify_smtp_reply(250, "ok") is None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\x01\x02garbage\xff\xfe",
        b"Subject: hi\r\n\r\n" + bytes(range(256)) * 100,
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\n"
        b"Content-Type: message/delivery-status\r\n\r\nAction: \xff\xfe\r\nStatus: 9.9.9\r\n--x",
        b"Content-Type: message/feedback-report\r\n\r\n\xff" * 3,
        b"From: \xe9\xe8 <a@b>\r\nSubject: =?utf-8?q?broken\r\n\r\nbody \xc3(",
        b"Content-Type: multipart/mixed; boundary=" + b"a" * 5000 + b"\r\n\r\n" + b"--a\r\n" * 3000,
    ],
)
def test_hostile_input_reads_as_nothing(raw: bytes) -> None:
    verdict = read(raw)
    assert not verdict.acts


def test_a_feedback_report_without_fields_is_still_a_complaint() -> None:
    raw = (
        b"Content-Type: multipart/report; report-type=feedback-report; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: message/feedback-report\r\n\r\n\r\n--b--\r\n"
    )
    verdict = read(raw)
    assert verdict.outcome is Outcome.COMPLAINT
    assert verdict.feedback_type == "abuse"
