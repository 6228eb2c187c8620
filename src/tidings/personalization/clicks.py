"""The visitor token on a tracked click to a registered site (SPEC "Personalization").

The click redirect asks ``wants(url)`` for every human click: a set look-up of the
destination's origin in memory (``SiteDirectory``), no database. Only for a
destination on a registered origin does ``decorate`` read the delivery's contact and
their current consent (the writer's "identified" answer comes later, asynchronously,
so the redirect checks the consent itself, in one small query), and add
``tdg=<token>`` for a consenting contact. Anyone else, and every automated
interaction, is redirected to the destination unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.concurrency import run_in_threadpool

from tidings.personalization import visitors
from tidings.personalization.directory import directory
from tidings.personalization.service import origin_of
from tidings.sending.models import Delivery

if TYPE_CHECKING:
    from tidings.runtime import Runtime

PARAM = "tdg"


def with_token(url: str, token: str) -> str:
    """``url`` with ``tdg=token`` added to its query (an existing ``tdg`` replaced)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != PARAM]
    query.append((PARAM, token))
    return urlunsplit(parts._replace(query=urlencode(query)))


class VisitorLinks:
    """Adds visitor tokens to click redirects; installed by the assembly on the app
    (``app.state.click_destination``)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def wants(self, url: str) -> bool:
        """Whether ``url`` is on a registered site's origin: a set look-up in memory
        (the sites are reloaded, off the event loop, every few seconds)."""
        sites = directory(self.runtime)
        origin = origin_of(url)
        if sites.stale:
            return await run_in_threadpool(sites.is_registered_origin, origin)
        return sites.is_registered_origin(origin)

    def decorate(self, delivery_id: int, url: str) -> str:
        """``url`` with a visitor token when the delivery's contact consents."""
        sites = directory(self.runtime)
        with self.runtime.session() as session:
            delivery = session.get(Delivery, delivery_id)
            if delivery is None or delivery.contact_id is None:
                return url
            token = visitors.issue(session, sites.signer, delivery.contact_id)
        return with_token(url, token) if token is not None else url
