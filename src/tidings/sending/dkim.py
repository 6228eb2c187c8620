"""DKIM signatures (RFC 6376): rsa-sha256, relaxed/relaxed, one RSA operation per message.

Messages are built by ``sending.message`` with a known header layout, so the signer
canonicalizes the few headers it signs and the body itself and hands only the RSA
operation to OpenSSL (``cryptography``). General-purpose signers parse every message
and do the RSA arithmetic in Python, many times slower per message, which would cap
a sender's rate (figures in bench/README.md). The test suite verifies every signed
message with dkimpy.

``TIDINGS_DKIM`` is ``selector:domain:path-to-private-key`` (several separated by
commas); a message is signed with the key of its From domain, or of its closest
parent domain, else with the first key. Keys are read once per process.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tidings.errors import Invalid

# What is signed, in this order, where present (From always is).
SIGNED_HEADERS = (
    "from",
    "subject",
    "date",
    "message-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "list-id",
    "mime-version",
    "content-type",
)
_WSP_RUN = re.compile(rb"[ \t]+")
_TRAILING_WSP = re.compile(rb" +(?=\r\n)")  # after runs and tabs became one space
_WSP_REWRITE = re.compile(rb"[ \t]{2,}|\t")
_FOLD = re.compile(rb"\r\n(?=[ \t])")


@dataclass(frozen=True)
class DkimKeyRef:
    """Where one signing key is: selector, domain and the PEM file (plain values)."""

    selector: str
    domain: str
    key_path: str


def parse_setting(value: str) -> list[DkimKeyRef]:
    """Parse ``TIDINGS_DKIM``; ``Invalid`` names what is wrong."""
    refs: list[DkimKeyRef] = []
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        pieces = entry.split(":", 2)
        if len(pieces) != 3 or not all(p.strip() for p in pieces):
            raise Invalid(
                f"TIDINGS_DKIM must be selector:domain:path-to-private-key, not {entry!r}"
            )
        selector, domain, path = (p.strip() for p in pieces)
        refs.append(DkimKeyRef(selector=selector, domain=domain.lower().rstrip("."), key_path=path))
    return refs


def key_for(refs: list[DkimKeyRef], sender_address: str) -> DkimKeyRef | None:
    """The key of the sender's domain or its closest parent, else the first one."""
    if not refs:
        return None
    domain = sender_address.rpartition("@")[2].lower().rstrip(".")
    best: DkimKeyRef | None = None
    for ref in refs:
        if (domain == ref.domain or domain.endswith("." + ref.domain)) and (
            best is None or len(ref.domain) > len(best.domain)
        ):
            best = ref
    return best or refs[0]


@lru_cache(maxsize=16)
def load_private_key(path: str) -> rsa.RSAPrivateKey:
    """Read an RSA private key (PEM) once per process."""
    try:
        data = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise Invalid(f"DKIM key {path} cannot be read: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise Invalid(f"DKIM key {path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise Invalid(f"DKIM key {path} is not an RSA key")
    return key


def public_key_record(key: rsa.RSAPrivateKey) -> str:
    """The DNS TXT value publishing the public half of ``key``."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def generate_key(path: Path, *, bits: int = 2048) -> rsa.RSAPrivateKey:
    """Write a new RSA key as PEM to ``path`` (mode 0600) and return it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_bytes(pem)
    return key


def _relaxed_header(name: bytes, value: bytes) -> bytes:
    value = _WSP_RUN.sub(b" ", _FOLD.sub(b"", value)).strip(b" ")
    return name.strip().lower() + b":" + value


def relaxed_body(body: bytes) -> bytes:
    """The body under relaxed canonicalization (RFC 6376 3.4.4).

    Single spaces stay as they are, so only runs and tabs are rewritten, and only
    when the body has any (checked at C speed first): quoted-printable bodies rarely
    do outside indented HTML.
    """
    if b"\t" in body or b"  " in body:
        body = _WSP_REWRITE.sub(b" ", body)
    if b" \r\n" in body:
        body = _TRAILING_WSP.sub(b"", body)
    body = body.rstrip(b"\r\n")
    return body + b"\r\n" if body else b""


class DkimSigner:
    """Signs messages for one selector and domain with a key loaded once."""

    def __init__(self, ref: DkimKeyRef) -> None:
        self.ref = ref
        self.key = load_private_key(ref.key_path)
        self._prefix = (
            f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={ref.domain}; s={ref.selector};\r\n\t"
        ).encode()

    def signature(self, message: bytes, *, now: float | None = None) -> bytes:
        """The ``DKIM-Signature`` header line (CRLF ended) to put above ``message``.

        ``message`` has CRLF line ends and is not dot-stuffed yet.
        """
        head, _, body = message.partition(b"\r\n\r\n")
        fields: dict[bytes, bytes] = {}
        for field in re.split(rb"\r\n(?![ \t])", head):
            name, sep, value = field.partition(b":")
            if sep:
                fields[name.strip().lower()] = value
        signed = [h.encode() for h in SIGNED_HEADERS if h.encode() in fields]
        body_hash = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest())
        stamp = int(now if now is not None else time.time())
        value = (
            self._prefix
            + f"t={stamp}; h=".encode()
            + b":".join(signed)
            + b";\r\n\tbh="
            + body_hash
            + b";\r\n\tb="
        )
        canonical = b"".join(_relaxed_header(h, fields[h]) + b"\r\n" for h in signed)
        canonical += _relaxed_header(b"DKIM-Signature", b" " + value)
        raw = self.key.sign(canonical, padding.PKCS1v15(), hashes.SHA256())
        encoded = base64.b64encode(raw)
        folded = b"\r\n\t".join(encoded[i : i + 72] for i in range(0, len(encoded), 72))
        return b"DKIM-Signature: " + value + folded + b"\r\n"

    def sign(self, message: bytes) -> bytes:
        """``message`` with its signature header on top."""
        return self.signature(message) + message
