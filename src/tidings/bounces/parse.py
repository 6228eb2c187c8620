"""Read returned mail: DSN (RFC 3464), ARF complaints (RFC 5965), the common
non-standard bounce bodies (flufl.bounce), and auto-replies, which are not bounces.

The delivery is known from the VERP address the mail came to, so parsing only has
to say *what* happened. The order matters:

1. an ARF report (``message/feedback-report``) is a complaint, unless its
   Feedback-Type is ``not-spam``, ``auth-failure`` or ``virus`` (a report without
   the field counts only inside a ``multipart/report`` declaring
   ``report-type=feedback-report``);
2. a DSN (``message/delivery-status``): the recipient block with the strongest
   Action decides; ``failed`` with a 5.x.x Status is a hard bounce, with a 4.x.x
   Status a soft one; ``delayed`` is a warning, ``delivered``/``relayed``/``expanded``
   a success notice, neither changes anything;
3. an auto-reply (Auto-Submitted: auto-replied, X-Autoreply, an out-of-office
   subject) not sent by a mailer daemon is ignored;
4. otherwise flufl.bounce's detectors (Exim, qmail, Yahoo, Exchange and others):
   a permanent failure is a bounce (hard unless an SMTP status in the text says
   soft), a temporary one a delay warning;
5. anything else is unknown and ignored.

Statuses that say nothing against the address itself count as soft even when
permanent: mailbox full (5.2.2, 5.2.3), mail system and content problems (5.3.x,
5.6.x), policy and spam refusals (5.7.x) and expired delivery (5.4.7). Soft bounces
suppress only after ``TIDINGS_SOFT_BOUNCE_LIMIT`` in a row.
"""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32

from flufl.bounce import all_failures

log = logging.getLogger(__name__)

# The reports and their fields come first in every format; what follows is the
# returned original, which can be large. Parsing stops here.
PARSE_LIMIT = 512 * 1024
DIAGNOSTIC_MAX = 500
NOT_COMPLAINTS = frozenset({"not-spam", "auth-failure", "virus"})
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SMTP_REPLY = re.compile(r"\b([45]\d\d)[ -]+(?:([245]\.\d{1,3}\.\d{1,3})\b)?")
_AUTO_SUBJECT = re.compile(
    r"out of (the )?office|automatic reply|auto(matic)?[- ]?(reply|response)|^auto:|"
    r"abwesenheit|absence|vacation|away from",
    re.IGNORECASE,
)
_DAEMON = re.compile(r"mailer-daemon|postmaster|mail delivery", re.IGNORECASE)
_ACTION_RANK = {"failed": 3, "delayed": 2, "delivered": 1, "relayed": 1, "expanded": 1}


class Outcome(enum.StrEnum):
    """What one piece of returned mail means."""

    HARD = "hard"
    SOFT = "soft"
    COMPLAINT = "complaint"
    DELAYED = "delayed"
    SUCCESS = "success"
    AUTO_REPLY = "auto_reply"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Verdict:
    """The reading of one message."""

    outcome: Outcome
    source: str  # "arf", "dsn", "heuristic" or "none"
    status: str | None = None
    diagnostic: str | None = None
    feedback_type: str | None = None

    @property
    def acts(self) -> bool:
        """True for a bounce or a complaint, the outcomes that change anything."""
        return self.outcome in (Outcome.HARD, Outcome.SOFT, Outcome.COMPLAINT)


def severity(status: str) -> Outcome:
    """Hard or soft for an enhanced status code such as ``5.1.1``."""
    klass, subject, detail = status.split(".")
    if klass != "5":
        return Outcome.SOFT
    if subject in {"3", "6", "7"}:
        return Outcome.SOFT
    if (subject, detail) in {("2", "2"), ("2", "3"), ("4", "7")}:
        return Outcome.SOFT
    return Outcome.HARD


def classify_smtp_reply(code: int, text: str) -> Outcome | None:
    """Hard, soft or None (not a refusal) for an SMTP reply, e.g. a 5xx at RCPT."""
    if code < 400:
        return None
    match = _STATUS.search(text)
    if match:
        return severity(match.group(0))
    return Outcome.SOFT if code < 500 else Outcome.HARD


def _clean(value: object, limit: int = DIAGNOSTIC_MAX) -> str | None:
    text = " ".join(str(value or "").replace("\x00", "").split())
    return text[:limit] or None


def _header(msg: Message, name: str) -> str:
    try:
        return str(msg.get(name, "") or "")
    except Exception:  # noqa: BLE001 - a malformed header reads as missing
        return ""


def _blocks(part: Message) -> list[Message]:
    """The header blocks of a ``message/delivery-status`` or feedback-report part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    if isinstance(payload, str):
        text = payload.replace("\r\n", "\n")
        return [HeaderParser().parsestr(chunk) for chunk in text.split("\n\n") if chunk.strip()]
    return []


def _status_of(block: Message) -> str | None:
    for name in ("status", "diagnostic-code"):
        match = _STATUS.search(_header(block, name))
        if match:
            return match.group(0)
    reply = _SMTP_REPLY.search(_header(block, "diagnostic-code"))
    if reply:
        return f"{reply.group(1)[0]}.0.0"
    return None


def _declared_report(msg: Message, report_type: str) -> bool:
    """True when some ``multipart/report`` of ``msg`` declares ``report_type``."""
    for part in msg.walk():
        if part.get_content_type() == "multipart/report":
            declared = str(part.get_param("report-type", "") or "").strip().lower()
            if declared == report_type:
                return True
    return False


def _read_arf(msg: Message) -> Verdict | None:
    for part in msg.walk():
        if part.get_content_type() != "message/feedback-report":
            continue
        fields: Message | None = next(iter(_blocks(part)), None)
        feedback = _header(fields, "feedback-type").strip().lower()[:40] if fields else ""
        if not feedback:
            # Feedback-Type is required; a report without one counts only when its
            # container says it is a feedback report.
            if not _declared_report(msg, "feedback-report"):
                return Verdict(Outcome.UNKNOWN, "arf")
            feedback = "abuse"
        outcome = Outcome.UNKNOWN if feedback in NOT_COMPLAINTS else Outcome.COMPLAINT
        return Verdict(outcome, "arf", feedback_type=feedback)
    return None


def _read_dsn(msg: Message) -> Verdict | None:
    best: tuple[int, Message] | None = None
    found = False
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        found = True
        for block in _blocks(part)[1:] or _blocks(part):
            action = _header(block, "action").strip().lower().split(" ")[0]
            rank = _ACTION_RANK.get(action, 0)
            if action in {"error", "failure"}:  # seen from non-compliant servers
                rank = 3
            if rank and (best is None or rank > best[0]):
                best = (rank, block)
    if not found or best is None:
        return None
    rank, block = best
    status = _status_of(block)
    diagnostic = _clean(_header(block, "diagnostic-code"))
    if rank == 2:
        return Verdict(Outcome.DELAYED, "dsn", status, diagnostic)
    if rank == 1:
        return Verdict(Outcome.SUCCESS, "dsn", status, diagnostic)
    if status is None:
        # "failed" without a usable status is still a permanent failure.
        return Verdict(Outcome.HARD, "dsn", "5.0.0", diagnostic)
    return Verdict(severity(status), "dsn", status, diagnostic)


def _is_auto_reply(msg: Message) -> bool:
    sender = _header(msg, "from")
    if _DAEMON.search(sender) or _header(msg, "x-failed-recipients"):
        return False
    auto = _header(msg, "auto-submitted").strip().lower()
    if auto.startswith("auto-replied"):
        return True
    if _header(msg, "x-autoreply") or _header(msg, "x-autorespond"):
        return True
    if _header(msg, "precedence").strip().lower() == "auto_reply":
        return True
    return bool(_AUTO_SUBJECT.search(_header(msg, "subject")))


def _body_text(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload[:20_000].decode("utf-8", "replace")
    return ""


def _read_heuristic(msg: Message) -> Verdict | None:
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # a detector failing on odd input means "not found"
        log.info("bounce detectors could not read a message", exc_info=True)
        return None
    if not temporary and not permanent:
        return None
    if not permanent:
        return Verdict(Outcome.DELAYED, "heuristic")
    text = _body_text(msg)
    status = None
    diagnostic = None
    match = _SMTP_REPLY.search(text)
    if match:
        status = match.group(2) or f"{match.group(1)[0]}.0.0"
        line_start = text.rfind("\n", 0, match.start()) + 1
        line_end = text.find("\n", match.end())
        diagnostic = _clean(text[line_start : line_end if line_end != -1 else None])
    outcome = severity(status) if status else Outcome.HARD
    return Verdict(outcome, "heuristic", status or "5.0.0", diagnostic)


def read(raw: bytes) -> Verdict:
    """What ``raw`` (a whole message as received) says about its delivery."""
    try:
        msg = message_from_bytes(raw[:PARSE_LIMIT], policy=compat32)
        for reader in (_read_arf, _read_dsn):
            verdict = reader(msg)
            if verdict is not None:
                return verdict
        if _is_auto_reply(msg):
            return Verdict(Outcome.AUTO_REPLY, "none")
        return _read_heuristic(msg) or Verdict(Outcome.UNKNOWN, "none")
    except Exception:  # hostile input reads as unknown, never as an error
        log.info("could not parse returned mail", exc_info=True)
        return Verdict(Outcome.UNKNOWN, "none")
