"""Background Save Page Now captures: rate-limited ones wait and go back in line, never lost.

One worker submits in arrival order at the limiter's pace; each accepted job is polled by its own
task, so slow captures never stop new submissions. A failure is applied to its scope
(``spn_errors.py``): an account-wide limit (429, no free session, the day's captures or bandwidth)
or a failure of SPN itself blocks every submitter through ``limiter.penalize`` until the stated
time (``Retry-After``, 00:00 UTC) or for an exponential back-off with jitter, and the URL goes
back in line; a target host's answer holds that host only (``limiter.hold``: its other URLs wait
or, for a final answer, land at once with the reason); a URL's own failure is retried alone after
its own back-off, or lands as final. Nothing about one URL or host ever pauses the rest.
"""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from types import TracebackType

from yarl import URL

from service.pipeline.errors import ArchiveError
from service.pipeline.evidence.spn_errors import Scope
from service.pipeline.evidence.wayback import BACKOFF_S, SaveOutcome, WaybackClient, WaybackStatus, failed
from service.pipeline.urls import URL_PARSE_ERRORS

OnResult = Callable[[SaveOutcome], Awaitable[None] | None]
HELD_WAIT = "held"  # an outcome that only says "its host or URL is held: try again later"


def _hold_keys(url: str) -> list[tuple[Scope, str]]:
    """The limiter keys that may hold ``url``: its host, and itself."""
    keys = [(Scope.URL, f"url:{url}")]
    try:
        host = URL(url).host
    except URL_PARSE_ERRORS:
        host = None
    if host:
        keys.insert(0, (Scope.HOST, f"host:{host.lower()}"))
    return keys


@dataclass(frozen=True, slots=True)
class _Item:
    url: str
    attempt: int = 0


class SaveQueue:
    """``async with SaveQueue(client) as q: q.put(url)``; leaving the block waits for every URL.

    Every URL ends as exactly one landed outcome (``results()`` and ``on_result``): success,
    skipped, error (permanent, or retries exhausted), or pending (still running after ``poll_for_s``,
    with its job id so it can be looked up later).
    """

    def __init__(
        self,
        client: WaybackClient,
        *,
        on_result: OnResult | None = None,
        on_submitted: Callable[[str, str], None] | None = None,
        on_retry: Callable[[SaveOutcome], None] | None = None,
        poll_for_s: float = 3600.0,
        backoff_s: float = BACKOFF_S,
        max_backoff_s: float = 900.0,
        jitter: float = 0.25,
        max_attempts: int = 12,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._client, self._on_result, self._on_submitted = client, on_result, on_submitted
        self._on_retry = on_retry
        self._poll_for_s, self._backoff_s, self._max_backoff_s = poll_for_s, backoff_s, max_backoff_s
        self._jitter, self._max_attempts, self._rng = jitter, max_attempts, rng
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._pollers: set[asyncio.Task[None]] = set()
        self._results: list[SaveOutcome] = []
        self._streak = 0  # retryable failures since the last landed capture: the backoff exponent
        self._outstanding = 0  # URLs put and not landed yet
        self._idle = asyncio.Event()
        self._idle.set()
        self._crash: BaseException | None = None
        self._worker: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SaveQueue:
        self._worker = self._spawn(self._run())
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None:
                await self.join()
        finally:
            await self._stop()

    def put(self, url: str) -> None:
        """Queue ``url`` for capture (inside ``async with``)."""
        if self._worker is None or self._worker.done():
            raise RuntimeError("SaveQueue is not running")
        self._outstanding += 1
        self._idle.clear()
        self._queue.put_nowait(_Item(url))

    def results(self) -> list[SaveOutcome]:
        """Every outcome landed so far, in landing order."""
        return list(self._results)

    @property
    def backlog(self) -> int:
        """URLs put and not landed yet: queued, being submitted (or waiting out a back-off), polled."""
        return self._outstanding

    async def join(self) -> None:
        """Wait until every queued URL has landed; raises if a task of the queue died of a bug."""
        await self._idle.wait()
        if self._crash is not None:
            raise RuntimeError("SaveQueue task failed") from self._crash

    def _spawn(self, work: Coroutine[None, None, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._pollers.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._crash = task.exception()
            self._idle.set()  # wake join() so it can raise instead of hanging

    async def _stop(self) -> None:
        tasks = [t for t in (self._worker, *self._pollers) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # crashes were recorded by _done

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                outcome = await self._held(item)
                if outcome is not None:
                    await self._settle(item, outcome)
                    continue
                outcome = await self._client.save(item.url, wait_s=0)
                await self._settle(item, outcome)
            finally:
                self._queue.task_done()

    async def _held(self, item: _Item) -> SaveOutcome | None:
        """The answer for a URL whose host or self is held: final holds land an error, others wait
        (``HELD_WAIT``); None when nothing holds it."""
        for scope, key in _hold_keys(item.url):
            held = await self._client.limiter.held(key)
            if held is None:
                continue
            code = held.reason.removesuffix("!")
            if held.reason.endswith("!"):
                message = f"{code}: this {scope} is left alone for another {held.seconds:.0f} s"
                return SaveOutcome(item.url, WaybackStatus.ERROR, message=message, code=code, scope=scope)
            wait = f"{code}: waiting on this {scope}"
            return SaveOutcome(item.url, WaybackStatus.ERROR, message=wait, retryable=True,
                               retry_after_s=held.seconds, code=HELD_WAIT, scope=scope)  # fmt: skip
        return None

    async def _hold(self, item: _Item, outcome: SaveOutcome) -> None:
        """Record a host's or a URL's answer for that host or URL alone."""
        if outcome.code == HELD_WAIT or not outcome.hold_s or outcome.scope not in (Scope.HOST, Scope.URL):
            return
        reason = (outcome.code or "error") + ("" if outcome.retryable else "!")
        for scope, key in _hold_keys(item.url):
            if scope is outcome.scope:
                await self._client.limiter.hold(key, outcome.hold_s, reason)

    async def _later(self, item: _Item, delay: float) -> None:
        await self._client.sleep(delay)
        self._queue.put_nowait(item)

    async def _settle(self, item: _Item, outcome: SaveOutcome, *, polled: bool = False) -> None:
        """Land an outcome, start polling a running job, or put a retryable failure back in line."""
        if outcome.status is WaybackStatus.PENDING and outcome.job_id is not None and not polled:
            if self._on_submitted is not None:
                self._on_submitted(item.url, outcome.job_id)
            self._pollers.add(self._spawn(self._poll(item, outcome.job_id)))
            return
        if outcome.status is WaybackStatus.ERROR:
            await self._hold(item, outcome)
        if outcome.status is WaybackStatus.ERROR and outcome.code == HELD_WAIT:
            self._pollers.add(self._spawn(self._later(item, outcome.retry_after_s or self._backoff_s)))
            return
        retry = outcome.retryable and item.attempt + 1 < self._max_attempts
        if outcome.status is WaybackStatus.ERROR and retry:
            if self._on_retry is not None:
                self._on_retry(outcome)
            again = replace(item, attempt=item.attempt + 1)
            if outcome.scope in (Scope.URL, Scope.HOST):  # this URL waits alone
                delay = max(outcome.retry_after_s or 0.0, self._own_backoff(item.attempt))
                self._pollers.add(self._spawn(self._later(again, delay)))
                return
            await self._client.limiter.penalize(self.backoff_for(outcome))
            self._streak += 1
            self._queue.put_nowait(again)
            return
        if outcome.status is not WaybackStatus.ERROR:
            self._streak = 0
        self._results.append(outcome)
        if self._on_result is not None:
            landed = self._on_result(outcome)
            if inspect.isawaitable(landed):
                await landed
        self._outstanding -= 1  # only once the callback is done, so join() never returns early
        if self._outstanding == 0:
            self._idle.set()

    def backoff_for(self, outcome: SaveOutcome) -> float:
        """Exponential from ``backoff_s`` with up to ``jitter`` extra, never below the server's wish."""
        base = min(self._max_backoff_s, self._backoff_s * 2.0 ** min(self._streak, 30))
        return max(base * (1 + self._jitter * self._rng()), outcome.retry_after_s or 0.0)

    def _own_backoff(self, attempt: int) -> float:
        """One URL's own exponential back-off (its host's or its own failures), with jitter."""
        base = min(self._max_backoff_s, self._backoff_s * 2.0 ** min(attempt, 30))
        return base * (1 + self._jitter * self._rng())

    async def _poll(self, item: _Item, job_id: str) -> None:
        client = self._client
        since = client.utcnow()
        try:
            status = await client.wait(job_id, wait_s=self._poll_for_s)
            outcome = await client.outcome(item.url, job_id, status, since)
        except ArchiveError as e:
            outcome = failed(item.url, e, job_id, now=client.utcnow())
        await self._settle(item, outcome, polled=True)
