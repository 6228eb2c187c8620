"""The client's address and scheme, behind trusted proxies only.

``X-Forwarded-For`` and ``X-Forwarded-Proto`` are read only when the connection comes
from an address in ``TIDINGS_TRUSTED_PROXIES`` (IPs and CIDR ranges, comma-separated;
none by default). Anyone else could write any address there and pass for another
client. ``TrustedProxies`` rewrites the request's client and scheme once, in front of
everything, so every part of the app reads the same answer (``client_address``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
DONE_KEY = "tidings.forwarded"


def _trusted(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def forwarded_client(peer: str, forwarded_for: str, networks: tuple[Network, ...]) -> str | None:
    """The client a trusted ``peer`` forwards for: the nearest address in
    ``forwarded_for`` that is not itself a trusted proxy (None: keep ``peer``)."""
    if not networks or not forwarded_for or not _trusted(peer, networks):
        return None
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop if _is_address(hop) else None
    return hops[0] if hops and _is_address(hops[0]) else None


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class TrustedProxies:
    """Sets the request's client and scheme from the forwarded headers of trusted
    proxies (pure ASGI; a no-op without trusted proxies)."""

    def __init__(self, app: ASGIApp, *, networks: tuple[Network, ...]) -> None:
        self.app = app
        self.networks = networks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.networks and not scope.get(DONE_KEY):
            scope[DONE_KEY] = True
            peer = scope.get("client")
            if peer and _trusted(peer[0], self.networks):
                xff = _joined(scope, b"x-forwarded-for")
                client = forwarded_client(peer[0], xff, self.networks)
                if client is not None:
                    scope["client"] = (client, 0)
                scheme = _joined(scope, b"x-forwarded-proto").split(",")[-1].strip().lower()
                if scheme in {"http", "https"}:
                    scope["scheme"] = scheme
        await self.app(scope, receive, send)


def _joined(scope: Scope, name: bytes) -> str:
    """Every value of header ``name``, in order, as one comma-separated list."""
    return ",".join(v.decode("latin-1") for k, v in scope["headers"] if k == name)


def client_address(request: HTTPConnection) -> str:
    """The address of the client (behind trusted proxies: the one they forward for);
    empty when unknown."""
    return request.client.host if request.client else ""
