"""Widget answers for website visitors: what ``GET /p/v1/widgets`` sends.

An unknown visitor gets the defaults, from memory. A known visitor's answer is kept
per (site, visitor, keys) for ``ANSWER_TTL`` seconds (``SiteDirectory``), so most
requests are answered on the event loop without touching the database.

The misses (a visitor not seen for a while) are answered in rounds: a miss that
arrives while a round is running waits for the next one, which answers every miss
gathered meanwhile in one transaction: one query resolving all their tokens and one
facts query per site and set of keys. A burst of new visitors (a newsletter sent,
everyone arriving at once) then costs a few queries per round instead of three per
visitor, and two requests of one visitor share one answer.

If the database cannot be read, the visitor gets the defaults (the page keeps its
content), the error is logged and nothing of it is kept.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool

from tidings.emails import variants as email_variants
from tidings.personalization import visitors
from tidings.personalization.directory import SiteEntry, directory

if TYPE_CHECKING:
    from tidings.runtime import Runtime

log = logging.getLogger(__name__)

Answer = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Ask:
    """One visitor's question: ``wanted`` widgets of ``site`` for the checked key."""

    site: SiteEntry
    visitor_key: bytes
    wanted: tuple[str, ...]

    @property
    def cache_key(self) -> tuple[Any, ...]:
        return (self.site.id, self.visitor_key, self.wanted)


def shaped(site: SiteEntry, wanted: Sequence[str], chosen: dict[str, int]) -> Answer:
    """``{key: {variant, html}}``: the chosen variants, the defaults elsewhere."""
    answer: Answer = {}
    for name in wanted:
        index = chosen.get(name)
        widget = site.widgets[name]
        html = widget["variants"][index]["html"] if index is not None else widget["html"]
        answer[name] = {"variant": index, "html": html}
    return answer


def answer_all(runtime: Runtime, asks: Sequence[Ask]) -> list[Answer]:
    """The answers to ``asks``, in order, in one transaction (a worker thread's)."""
    with runtime.session() as session:
        known = visitors.resolve_keys(session, [a.visitor_key for a in asks])
        chosen: dict[tuple[int, tuple[str, ...]], dict[int, dict[str, int]]] = {}
        for ask in asks:
            found = known.get(ask.visitor_key)
            if found is None:
                continue
            group = chosen.setdefault((ask.site.id, ask.wanted), {})
            group[found.contact_id] = {}
        for (site_id, wanted), group in chosen.items():
            site = next(a.site for a in asks if a.site.id == site_id)
            widgets = {k: site.widgets[k] for k in wanted}
            group.update(email_variants.choose_each(session, widgets, list(group)))
    answers: list[Answer] = []
    for ask in asks:
        found = known.get(ask.visitor_key)
        picked = chosen[(ask.site.id, ask.wanted)][found.contact_id] if found else {}
        answers.append(shaped(ask.site, ask.wanted, picked))
    return answers


@dataclass
class _Rounds:
    """The misses of one event loop: those waiting for the next round, those in the
    running one."""

    waiting: dict[tuple[Any, ...], tuple[Ask, asyncio.Future[Answer | None]]] = field(
        default_factory=dict
    )
    running: dict[tuple[Any, ...], asyncio.Future[Answer | None]] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None


class VisitorAnswers:
    """A known visitor's answer: from the cache, else from the next round."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        # Futures belong to one event loop; a runtime may serve from several.
        self._rounds: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Rounds] = (
            weakref.WeakKeyDictionary()
        )

    async def answer(self, ask: Ask) -> Answer:
        """The answer for ``ask``; the defaults when the database failed."""
        sites = directory(self.runtime)
        cached: Answer | None = sites.cached_answer(ask.cache_key)
        if cached is not None:
            return cached
        loop = asyncio.get_running_loop()
        rounds = self._rounds.get(loop)
        if rounds is None:
            rounds = self._rounds[loop] = _Rounds()
        future = rounds.running.get(ask.cache_key)
        if future is None:
            waiting = rounds.waiting.get(ask.cache_key)
            if waiting is None:
                future = loop.create_future()
                rounds.waiting[ask.cache_key] = (ask, future)
            else:
                future = waiting[1]
        if rounds.task is None:
            rounds.task = loop.create_task(self._run(rounds))
        # Shielded: a visitor who leaves does not cancel the answer others wait for.
        answer = await asyncio.shield(future)
        return answer if answer is not None else shaped(ask.site, ask.wanted, {})

    async def _run(self, rounds: _Rounds) -> None:
        sites = directory(self.runtime)
        try:
            while rounds.waiting:
                batch = list(rounds.waiting.values())
                rounds.running = {ask.cache_key: future for ask, future in batch}
                rounds.waiting = {}
                asks = [ask for ask, _ in batch]
                answers: Sequence[Answer | None]
                try:
                    answers = await run_in_threadpool(answer_all, self.runtime, asks)
                except Exception:
                    log.exception("widget answers for %d visitors failed", len(asks))
                    answers = [None] * len(asks)
                for (ask, future), answer in zip(batch, answers, strict=True):
                    if answer is not None:
                        sites.keep_answer(ask.cache_key, answer)
                    if not future.done():
                        future.set_result(answer)
                rounds.running = {}
        finally:
            for _, future in rounds.waiting.values():
                if not future.done():
                    future.set_result(None)
            for future in rounds.running.values():
                if not future.done():
                    future.set_result(None)
            rounds.waiting, rounds.running, rounds.task = {}, {}, None


def visitor_answers(runtime: Runtime) -> VisitorAnswers:
    """This runtime's visitor answers."""
    return runtime.shared(VisitorAnswers)
