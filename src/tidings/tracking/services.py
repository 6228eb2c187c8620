"""What tracking keeps per process: the token signer and the link cache."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tidings.sending.tokens import TokenSigner
from tidings.tracking.cache import LinkCache

if TYPE_CHECKING:
    from tidings.runtime import Runtime


class TrackingServices:
    """The signer of tracking and unsubscribe tokens and the cache of link
    destinations, one of each per runtime (``services``)."""

    def __init__(self, runtime: Runtime) -> None:
        self.signer = TokenSigner(runtime.secret_key)
        self.links = LinkCache(runtime.sessions)


def services(runtime: Runtime) -> TrackingServices:
    """This runtime's tracking services, made on first use."""
    return runtime.shared(TrackingServices)


def signer(runtime: Runtime) -> TokenSigner:
    """This runtime's token signer."""
    return runtime.shared(TrackingServices).signer
