"""Settings read once at start from the environment (``TIDINGS_*``)."""

from __future__ import annotations

import ipaddress
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything an operator can configure; defaults make the embedded mode work."""

    model_config = SettingsConfigDict(env_prefix="TIDINGS_", extra="ignore")

    data_dir: Path = Path("./tidings-data")
    database_url: str = ""
    base_url: str = ""
    secret_key: str = ""
    smtp_url: str = ""
    queue_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    # Sending
    smtp_connections: int = Field(default=4, ge=1, le=64)
    mailout_lease_seconds: float = Field(default=30.0, gt=0)
    mailout_recovery_interval: float = Field(default=5.0, gt=0)
    # a single message (automation, confirmation, test send) not sent by then is queued again
    single_requeue_seconds: float = Field(default=60.0, gt=0, le=86_400)
    send_rate_per_second: float = Field(default=0.0, ge=0)
    # 0: compose in the runner; unset: 1, or 2 when DKIM signs (signing doubles the work)
    send_render_processes: int | None = Field(default=None, ge=0, le=16)
    # Deliverability (docs/deliverability.md)
    send_domain_rates: str = ""  # "example.com=20,news.example.org=5": messages/s per From domain
    smtp_retry_delays: str = "60,300,1800"  # seconds before each retry after a 4xx answer
    dkim: str = ""  # selector:domain:path-to-private-key[,...]
    postal_address: str = ""  # footer address for domains without a sender identity
    # Bounces and complaints (docs/deliverability.md)
    bounce_smtp: str = ""  # host:port of the inbound bounce listener; off when empty
    bounce_domain: str = ""  # domain of the VERP return path; default the sender's
    bounce_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    soft_bounce_limit: int = Field(default=3, ge=1, le=100)
    # Tracking
    tracking_batch_max: int = Field(default=500, ge=1)
    # "process": a writer process beside the web server; "thread": inside it
    tracking_writer: Literal["process", "thread"] = "process"
    # The consent policy (B1) as module:object; empty for the default
    consent_policy: str = ""
    # Days after an email's first send its unique counts move; then its marker key goes
    counting_window_days: int = Field(default=30, ge=1, le=3650)
    # Embedded mail catcher
    mailcatcher_port: int = 1025
    # Housekeeping
    group_rebuild_interval: float = Field(default=3600.0, ge=0)
    retention_activity_days: int = Field(default=0, ge=0)
    retention_inactive_contact_days: int = Field(default=0, ge=0)
    # Webhooks (docs/automation.md): private, loopback and link-local addresses are
    # refused unless allowed (development, tests, a receiver on the same network)
    webhook_allow_private: bool = False
    webhook_retry_base: float = Field(default=30.0, gt=0)  # first retry delay, doubling
    webhook_retry_hours: float = Field(default=24.0, gt=0)  # retried this long
    webhook_timeout: float = Field(default=10.0, gt=0)
    # Forms: days a confirmation link works; unconfirmed submissions are purged then
    form_pending_days: int = Field(default=7, ge=1, le=365)
    # Forms: posts one client may make per hour, across every form
    form_rate_limit: int = Field(default=20, ge=1)
    # API: the largest request body accepted (413 above it)
    api_max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # Sessions
    session_max_age: int = Field(default=60 * 60 * 12, ge=60)
    secure_cookies: bool = False
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed: IPs and CIDR
    # ranges, comma-separated (none by default).
    trusted_proxies: str = ""

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_proxies(cls, value: str) -> str:
        _networks(value)
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """``trusted_proxies`` as networks (an address is a network of one)."""
        return _networks(self.trusted_proxies)

    def resolved_data_dir(self) -> Path:
        """The data directory, created if missing."""
        path = self.data_dir.expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path

    def resolved_database_url(self) -> str:
        """The database URL; SQLite in the data directory by default."""
        if self.database_url:
            url = self.database_url
            if url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url.removeprefix("postgres://")
            elif url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
            return url
        return f"sqlite:///{self.resolved_data_dir() / 'tidings.db'}"

    def resolved_base_url(self) -> str:
        """Public URL used in tracking links, without a trailing slash."""
        if self.base_url:
            return self.base_url.rstrip("/")
        return f"http://{self.host}:{self.port}"

    def resolved_secret_key(self) -> str:
        """The signing secret; generated once and kept in the data directory."""
        if self.secret_key:
            return self.secret_key
        path = self.resolved_data_dir() / "secret_key"
        if path.exists():
            return path.read_text().strip()
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key

    def retry_delays(self) -> list[float]:
        """Seconds to wait before each retry of a temporarily refused message."""
        delays = [float(part) for part in self.smtp_retry_delays.split(",") if part.strip()]
        if any(d < 0 for d in delays):
            raise ValueError("TIDINGS_SMTP_RETRY_DELAYS must be seconds >= 0")
        return delays

    @property
    def embedded_queue(self) -> bool:
        """True when jobs run in-process (no Redis URL)."""
        return not self.queue_url


def _networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for part in text.split(","):
        entry = part.strip()
        if entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"not an IP address or CIDR range: {entry!r}") from None
    return tuple(networks)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
