"""The returned-mail fixtures in ``fixtures/``, written for these tests."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).with_name("fixtures")


def load(name: str, *, recipient: str = "pat@recipient.test", return_path: str = "") -> bytes:
    """A fixture as wire bytes (CRLF), addressed to ``recipient`` / ``return_path``."""
    text = (FIXTURES / name).read_text(encoding="utf-8")
    text = text.replace("{{RECIPIENT}}", recipient)
    text = text.replace("{{RETURN_PATH}}", return_path or "bounces+token@example.com")
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
