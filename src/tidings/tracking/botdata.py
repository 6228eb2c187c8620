"""The data files that tell machines from people (B7): IP ranges and user agents.

Shipped in ``tracking/bot_data/``; a file of the same name in ``<data dir>/bot_data/``
(written by ``tidings bot-data update``) replaces the shipped one. Files are read and
validated once per process; nothing is fetched at run time.

Lookups are what the click path pays for on every request, so both are cheap: IP
ranges become disjoint integer intervals searched with ``bisect``, and the user-agent
patterns one compiled alternation per category.
"""

from __future__ import annotations

import bisect
import ipaddress
import itertools
import os
import re
import socket
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SHIPPED_DIR = Path(__file__).parent / "bot_data"
IP_RANGES = "ip_ranges.txt"
USER_AGENTS = "user_agents.txt"
FILES = (IP_RANGES, USER_AGENTS)

SCANNER = "scanner"
PREFETCH = "prefetch"
PERSON = "person"
IP_CATEGORIES = (SCANNER, PREFETCH)
UA_CATEGORIES = (SCANNER, PREFETCH, PERSON)

MAX_BYTES = 1_000_000
MAX_LINES = 20_000
MAX_PATTERN = 200
MIN_PREFIX = {4: 8, 6: 16}
_V4_MAPPED = bytes(10) + b"\xff\xff"

# A rule that fires on any of these would take real people for machines.
BROWSER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.6367.82 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 OPR/109.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
)


class BotDataError(ValueError):
    """A data file that cannot be used; the message says which line and why."""


@dataclass(frozen=True)
class IpRanges:
    """Disjoint networks per IP version, as sorted integer intervals."""

    starts: dict[int, list[int]]
    ends: dict[int, list[int]]
    categories: dict[int, list[str]]

    def category(self, ip: str) -> str | None:
        """The category of the network holding ``ip``; None if none does or ``ip`` is
        not an address."""
        try:
            packed = socket.inet_pton(socket.AF_INET, ip)
            version = 4
        except OSError:
            try:
                packed = socket.inet_pton(socket.AF_INET6, ip)
            except (OSError, ValueError):
                return None
            version = 6
            if packed[:12] == _V4_MAPPED:
                packed, version = packed[12:], 4
        except ValueError:  # NUL in the text
            return None
        value = int.from_bytes(packed, "big")
        starts = self.starts[version]
        index = bisect.bisect_right(starts, value) - 1
        if index >= 0 and value <= self.ends[version][index]:
            return self.categories[version][index]
        return None


@dataclass(frozen=True)
class UserAgentRules:
    """One compiled alternation per category (None when a category has no rule)."""

    patterns: dict[str, re.Pattern[str] | None]

    def matches(self, category: str, user_agent: str) -> bool:
        """Whether a rule of ``category`` matches ``user_agent``."""
        pattern = self.patterns[category]
        return pattern is not None and pattern.search(user_agent) is not None


def _lines(text: str) -> Iterable[tuple[int, str]]:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise BotDataError(f"the file is larger than {MAX_BYTES} bytes")
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise BotDataError(f"the file has more than {MAX_LINES} lines")
    for number, raw in enumerate(lines, start=1):
        if "\x00" in raw:
            raise BotDataError(f"line {number}: NUL character")
        line = raw.strip()
        if line and not line.startswith("#"):
            yield number, line


def parse_ip_ranges(text: str) -> IpRanges:
    """Validate and index an IP ranges file; raises ``BotDataError``."""
    by_category: dict[str, list[ipaddress.IPv4Network | ipaddress.IPv6Network]] = {
        category: [] for category in IP_CATEGORIES
    }
    for number, line in _lines(text):
        fields = line.split("#", 1)[0].split()
        if len(fields) != 2:
            raise BotDataError(f"line {number}: expected '<network> <category>'")
        spelled, category = fields
        if category not in IP_CATEGORIES:
            raise BotDataError(f"line {number}: unknown category {category[:40]!r}")
        try:
            network = ipaddress.ip_network(spelled, strict=True)
        except ValueError as exc:
            raise BotDataError(f"line {number}: {exc}") from None
        if network.prefixlen < MIN_PREFIX[network.version]:
            raise BotDataError(
                f"line {number}: {network} is too broad (at least /{MIN_PREFIX[network.version]})"
            )
        if not network.is_global:
            raise BotDataError(f"line {number}: {network} is not a public network")
        by_category[category].append(network)
    intervals: dict[int, list[tuple[int, int, str]]] = {4: [], 6: []}
    for category, networks in by_category.items():
        for version in (4, 6):
            same = [n for n in networks if n.version == version]
            for network in ipaddress.collapse_addresses(same):  # type: ignore[type-var]
                intervals[version].append(
                    (int(network.network_address), int(network.broadcast_address), category)
                )
    for version, spans in intervals.items():
        spans.sort()
        for before, after in itertools.pairwise(spans):
            if after[0] <= before[1]:
                raise BotDataError(
                    f"networks of {before[2]} and {after[2]} overlap "
                    f"(IPv{version}: {ipaddress.ip_address(after[0])})"
                )
    return IpRanges(
        starts={v: [s[0] for s in spans] for v, spans in intervals.items()},
        ends={v: [s[1] for s in spans] for v, spans in intervals.items()},
        categories={v: [s[2] for s in spans] for v, spans in intervals.items()},
    )


def parse_user_agents(text: str) -> UserAgentRules:
    """Validate and compile a user agents file; raises ``BotDataError``."""
    by_category: dict[str, list[str]] = {category: [] for category in UA_CATEGORIES}
    for number, line in _lines(text):
        category, _, pattern = line.partition(" ")
        pattern = pattern.strip()
        if category not in UA_CATEGORIES:
            raise BotDataError(f"line {number}: unknown category {category[:40]!r}")
        if not pattern:
            raise BotDataError(f"line {number}: no pattern")
        if len(pattern) > MAX_PATTERN:
            raise BotDataError(f"line {number}: pattern longer than {MAX_PATTERN} characters")
        try:
            compiled = re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise BotDataError(f"line {number}: {exc}") from None
        if compiled.search(""):
            raise BotDataError(f"line {number}: the pattern matches an empty user agent")
        if category != PERSON:
            for agent in BROWSER_AGENTS:
                if compiled.search(agent):
                    raise BotDataError(
                        f"line {number}: the pattern matches a browser's user agent ({agent})"
                    )
        by_category[category].append(pattern)
    return UserAgentRules(
        patterns={
            category: re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
            if patterns
            else None
            for category, patterns in by_category.items()
        }
    )


PARSERS = {IP_RANGES: parse_ip_ranges, USER_AGENTS: parse_user_agents}


def _read(path: Path) -> str:
    try:
        return path.read_bytes()[: MAX_BYTES + 1].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BotDataError(f"{path.name} is not UTF-8 text: {exc}") from None


def source(name: str, data_dir: Path | None) -> Path:
    """The file in force: the data dir's if there is one, else the shipped one."""
    if data_dir is not None:
        local = data_dir / "bot_data" / name
        if local.is_file():
            return local
    return SHIPPED_DIR / name


@dataclass(frozen=True)
class BotData:
    """Everything the classifier looks up."""

    ip_ranges: IpRanges
    user_agents: UserAgentRules


def load(data_dir: Path | None = None) -> BotData:
    """Read and validate the files in force; raises ``BotDataError``."""
    return BotData(
        ip_ranges=parse_ip_ranges(_read(source(IP_RANGES, data_dir))),
        user_agents=parse_user_agents(_read(source(USER_AGENTS, data_dir))),
    )


def install(file: Path, data_dir: Path, name: str | None = None) -> Path:
    """Validate ``file`` and put it in place of the data file ``name`` (by default
    the one of the same name) in ``data_dir``, atomically; returns where it went."""
    name = name or file.name
    if name not in PARSERS:
        raise BotDataError(f"unknown data file {name[:80]!r}: use one of {', '.join(FILES)}")
    text = _read(file)
    PARSERS[name](text)
    target_dir = data_dir / "bot_data"
    target_dir.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=target_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target_dir / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target_dir / name
