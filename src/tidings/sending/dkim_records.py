"""DKIM keys for operators: generate one, and the DNS record that publishes it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tidings.errors import Invalid
from tidings.sending.dkim import generate_key, public_key_record

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def check_domain(domain: str, what: str = "domain") -> str:
    """A lower-case DNS name, or ``Invalid``."""
    name = domain.strip().lower().rstrip(".")
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise Invalid(f"{what}: {domain[:260]!r} is not a domain name")
    return name


def txt_strings(value: str) -> str:
    """A TXT value as DNS zone files write it: quoted strings of at most 255 bytes."""
    chunks = [value[i : i + 255] for i in range(0, len(value), 255)]
    return " ".join(f'"{chunk}"' for chunk in chunks)


@dataclass(frozen=True)
class GeneratedKey:
    """A new key: where it is, its DNS record and the ``TIDINGS_DKIM`` value."""

    path: Path
    record_name: str
    record_value: str
    setting: str

    @property
    def dns_line(self) -> str:
        """The record as a zone file line."""
        return f"{self.record_name}. IN TXT {txt_strings(self.record_value)}"


def generate(*, domain: str, selector: str, out: Path | None, data_dir: Path) -> GeneratedKey:
    """Write a new 2048-bit key (never over an existing file)."""
    domain = check_domain(domain)
    selector = selector.strip().lower()
    if not all(_LABEL.match(label) for label in selector.split(".")):
        raise Invalid(f"selector: {selector[:100]!r} is not a DNS label")
    path = (out or data_dir / "dkim" / f"{selector}.{domain}.pem").expanduser().resolve()
    if path.exists():
        raise Invalid(f"{path} exists already; choose another --out or selector")
    if ":" in str(path) or "," in str(path):
        raise Invalid(f"{path}: choose a path without ':' or ',' (TIDINGS_DKIM separators)")
    key = generate_key(path)
    return GeneratedKey(
        path=path,
        record_name=f"{selector}._domainkey.{domain}",
        record_value=public_key_record(key),
        setting=f"{selector}:{domain}:{path}",
    )
