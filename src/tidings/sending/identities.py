"""Sender identities: the domains Tidings sends from, and the DNS records they need.

An identity is a domain with a default From name and address and the postal address
the footer of regular emails shows. It does not restrict which sender an email may
use; it is where an operator sees what to publish in DNS (SPF, DKIM, DMARC) for the
domain and whether it is in place.
"""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tidings.errors import Conflict, Invalid, NotFound
from tidings.runtime import Runtime
from tidings.sending.dkim import key_for, load_private_key, parse_setting, public_key_record
from tidings.sending.dkim_records import check_domain
from tidings.sending.models import SenderIdentity


def list_identities(*, session: Session) -> list[SenderIdentity]:
    """Every identity by domain."""
    return list(session.scalars(select(SenderIdentity).order_by(SenderIdentity.domain)))


def create(
    *,
    session: Session,
    domain: str,
    from_name: str,
    from_address: str,
    postal_address: str = "",
) -> SenderIdentity:
    """Add an identity; the From address must be in the domain or a subdomain."""
    name = check_domain(domain)
    from_name = " ".join(from_name.split())
    if not from_name or len(from_name) > 200:
        raise Invalid("from_name: 1 to 200 characters")
    try:
        address = validate_email(from_address.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise Invalid(f"from_address: {exc}") from None
    address_domain = address.rpartition("@")[2].lower()
    if address_domain != name and not address_domain.endswith("." + name):
        raise Invalid(f"from_address: {address} is not an address of {name}")
    postal = postal_address.strip()
    if len(postal) > 500:
        raise Invalid("postal_address: at most 500 characters")
    identity = SenderIdentity(
        domain=name, from_name=from_name, from_address=address, postal_address=postal
    )
    try:
        with session.begin_nested():
            session.add(identity)
    except IntegrityError:
        raise Conflict(f"there is already a sender identity for {name}") from None
    return identity


def delete(*, session: Session, identity_id: int) -> None:
    """Remove an identity (emails keep their sender; only the footer address goes)."""
    identity = session.get(SenderIdentity, identity_id)
    if identity is None:
        raise NotFound(f"sender identity {identity_id} not found")
    session.delete(identity)
    session.flush()


@dataclass(frozen=True)
class Record:
    """One DNS record an identity needs."""

    kind: str  # "SPF", "DKIM", "DMARC"
    name: str
    value: str | None  # None: nothing to publish yet (no DKIM key for the domain)
    note: str


def records(runtime: Runtime, identity: SenderIdentity) -> list[Record]:
    """The SPF, DKIM and DMARC records to publish for the identity's domain."""
    domain = identity.domain
    relay = _relay_host(runtime)
    spf = "v=spf1 mx ~all" if relay is None else f"v=spf1 mx a:{relay} ~all"
    spf_note = (
        "Lists the servers that may send for the domain. Add your relay provider's "
        "include: mechanism if it documents one; keep one SPF record per domain."
    )
    dkim_ref = key_for(
        [r for r in parse_setting(runtime.settings.dkim) if _covers(r.domain, domain)], domain
    )
    if dkim_ref is None:
        dkim = Record(
            "DKIM",
            f"<selector>._domainkey.{domain}",
            None,
            f"No signing key for {domain}: run `tidings dkim generate --domain {domain} "
            "--selector <selector>` and set TIDINGS_DKIM as it prints.",
        )
    else:
        try:
            value: str | None = public_key_record(load_private_key(dkim_ref.key_path))
            note = f"Messages from {domain} are signed with d={dkim_ref.domain}."
        except Invalid as exc:
            value, note = None, str(exc.detail)
        dkim = Record("DKIM", f"{dkim_ref.selector}._domainkey.{dkim_ref.domain}", value, note)
    dmarc = Record(
        "DMARC",
        f"_dmarc.{domain}",
        f"v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}",
        "Start with p=none and read the reports; move to quarantine once SPF and DKIM pass.",
    )
    return [Record("SPF", domain, spf, spf_note), dkim, dmarc]


def _covers(key_domain: str, domain: str) -> bool:
    return domain == key_domain or domain.endswith("." + key_domain)


def _relay_host(runtime: Runtime) -> str | None:
    from urllib.parse import urlsplit

    host = urlsplit(runtime.settings.smtp_url).hostname if runtime.settings.smtp_url else None
    if not host or host in {"localhost"} or host.replace(".", "").isdigit() or ":" in host:
        return None
    return host
