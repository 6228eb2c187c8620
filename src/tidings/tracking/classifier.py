"""Classify an interaction as human or automated, with a reason (B7).

This is the interface the tracking endpoints call. The rules here are the first,
cheap ones; richer signals (honeypot links, IP ranges, burst detection) plug in as
further ``Rule`` functions without touching the endpoints.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Interaction:
    """What the classifier may look at. Nothing here is stored for anonymous events."""

    kind: str  # "open" or "click"
    method: str
    user_agent: str
    ip: str


@dataclass(frozen=True)
class Classification:
    """The verdict: automated or not, and why."""

    automated: bool
    reason: str | None = None


HUMAN = Classification(automated=False)

Rule = Callable[[Interaction], str | None]

_SCANNER_UA = re.compile(
    r"bot\b|crawler|spider|python-requests|curl/|wget/|go-http-client|libwww|"
    r"barracuda|proofpoint|mimecast|symantec|messagelabs|safelinks|urldefense|"
    r"googleimageproxy|yahoomailproxy",
    re.IGNORECASE,
)


def head_request(interaction: Interaction) -> str | None:
    """Link scanners check links with HEAD; people's browsers use GET."""
    return "head_request" if interaction.method == "HEAD" else None


def known_scanner_agent(interaction: Interaction) -> str | None:
    """User agents of security scanners, crawlers and image proxies."""
    return "scanner_user_agent" if _SCANNER_UA.search(interaction.user_agent) else None


def empty_agent(interaction: Interaction) -> str | None:
    """Browsers always send a user agent."""
    return "no_user_agent" if not interaction.user_agent.strip() else None


DEFAULT_RULES: tuple[Rule, ...] = (head_request, known_scanner_agent, empty_agent)


class Classifier:
    """Runs rules in order; the first that fires names the reason."""

    def __init__(self, rules: Sequence[Rule] = DEFAULT_RULES) -> None:
        self.rules = tuple(rules)

    def classify(self, interaction: Interaction) -> Classification:
        """Human, or automated with the first matching rule's reason."""
        for rule in self.rules:
            reason = rule(interaction)
            if reason:
                return Classification(automated=True, reason=reason)
        return HUMAN
