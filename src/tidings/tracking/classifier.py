"""Classify an interaction as human or automated, with a reason (B7).

This is the interface the tracking endpoints call, per request: HEAD requests, the
IP ranges and user agents of ``botdata`` (scanners; prefetching privacy proxies for
opens) and crawlerdetect's list. The honeypot link and bursts (every link of a
message within seconds) are decided by the honeypot route and the event writer,
which see more than one request.

Each verdict on a user agent is cached (bounded), so crawlerdetect's large
expression runs once per distinct user agent, not per click.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import crawlerdetect.crawlerdetect as crawlerdetect  # type: ignore[import-untyped]

from tidings.tracking import botdata


class Reason(StrEnum):
    """Why an interaction is automated; stored with it and counted per email."""

    HEAD = "head"
    USER_AGENT = "user_agent"
    IP_RANGE = "ip_range"
    HONEYPOT = "honeypot"
    BURST = "burst"
    PREFETCH = "prefetch"


REASONS = tuple(Reason)


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

UA_CACHE = 8192


def crawler_agent(user_agent: str) -> bool:
    """Whether crawlerdetect's list names ``user_agent`` (its own steps, uncached)."""
    agent = crawlerdetect.get_compiled_exclusions_regex().sub("", user_agent)
    return bool(agent) and crawlerdetect.get_compiled_crawler_regex().search(agent) is not None


class Classifier:
    """The request-time rules, in order; the first that fires names the reason."""

    def __init__(self, data: botdata.BotData | None = None) -> None:
        self.data = data or botdata.load()
        self._agent = functools.lru_cache(maxsize=UA_CACHE)(self._agent_verdict)

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> Classifier:
        """With the bot data files in force for ``data_dir``."""
        return cls(botdata.load(data_dir))

    def _agent_verdict(self, user_agent: str) -> tuple[str | None, str | None]:
        """(reason for a click, reason for an open) by user agent alone."""
        agent = user_agent.strip()
        if not agent:
            return Reason.USER_AGENT.value, Reason.USER_AGENT.value
        rules = self.data.user_agents
        if rules.matches(botdata.SCANNER, agent):
            return Reason.USER_AGENT.value, Reason.USER_AGENT.value
        prefetch = Reason.PREFETCH.value if rules.matches(botdata.PREFETCH, agent) else None
        if rules.matches(botdata.PERSON, agent) or not crawler_agent(agent):
            return None, prefetch
        return Reason.USER_AGENT.value, prefetch or Reason.USER_AGENT.value

    def classify(self, interaction: Interaction) -> Classification:
        """Human, or automated with the first matching rule's reason."""
        if interaction.method == "HEAD":
            return Classification(automated=True, reason=Reason.HEAD.value)
        network = self.data.ip_ranges.category(interaction.ip) if interaction.ip else None
        if network == botdata.SCANNER:
            return Classification(automated=True, reason=Reason.IP_RANGE.value)
        is_open = interaction.kind == "open"
        if is_open and network == botdata.PREFETCH:
            return Classification(automated=True, reason=Reason.PREFETCH.value)
        on_click, on_open = self._agent(interaction.user_agent)
        reason = on_open if is_open else on_click
        if reason is None:
            return HUMAN
        return Classification(automated=True, reason=reason)
