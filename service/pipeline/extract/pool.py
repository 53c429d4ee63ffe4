"""Article extraction: trafilatura's main text and metadata plus a whole-page fallback text.

trafilatura is CPU-bound, GIL-bound and can be driven into tens of seconds of CPU by hostile HTML
(security.md §3), so it runs in a spawn process pool whose workers are SIGKILLed when a page
overruns its wall-clock limit: ``asyncio.wait_for`` alone only stops waiting, the CPU burn goes on.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import multiprocessing
import os
import signal
import time
from collections import OrderedDict
from collections.abc import MutableSequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import TracebackType
from urllib.parse import urljoin

from service.pipeline.errors import ExtractionError, ExtractionTimeout, InvalidURL, UnsupportedURL
from service.pipeline.extract.charset import declared_encoding
from service.pipeline.extract.launcher import worker_context
from service.pipeline.extract.reading import (
    DEFAULT_MAX_HTML,
    PageReading,
    init_worker,
    noop,
    read_limited,
    read_page,
    start_worker,
)
from service.pipeline.models import Extraction, SourceReason
from service.pipeline.urls import normalize_url
from service.settings import ExtractSettings

__all__ = ["ExtractorPool", "extract_article"]

_REAP_TIMEOUT_S = 5.0
_log = logging.getLogger(__name__)


def _normalize(url: str) -> str:
    """The page's canonical URL in the pipeline's one canonical form (``urls.normalize_url``)."""
    try:
        return normalize_url(url)
    except (UnsupportedURL, InvalidURL):
        return url


def _canonical(page: PageReading, url: str) -> str | None:
    """``rel=canonical``, else ``og:url``, else the URL itself, resolved against ``<base>``/``url``."""
    base = urljoin(url, page.base_href) if page.base_href else url
    for href in (page.canonical_href, page.og_url):
        if href:
            resolved = urljoin(base, href)
            if resolved.startswith(("http://", "https://")):
                return _normalize(resolved)
    return _normalize(url) if url else None


def _finish(page: PageReading, url: str) -> Extraction:
    return Extraction(
        main_text=page.main_text,
        page_text=page.page_text,
        title=page.title,
        author=page.author,
        published=page.published,
        canonical_url=_canonical(page, url),
        signals=page.signals,
        incomplete=page.incomplete,
    )


def extract_article(
    body: bytes, *, url: str, content_type: str | None = None, max_html_bytes: int = DEFAULT_MAX_HTML
) -> Extraction:
    """Extract one page, synchronously (CPU-bound: call it in a worker process, see ExtractorPool)."""
    return _finish(read_page(body, url, content_type, max_html_bytes), url)


def _reap(procs: list[multiprocessing.process.BaseProcess], timeout_s: float) -> None:
    """Block until every killed worker has exited: ``join`` waits on the sentinel, then ``waitpid``."""
    deadline = time.monotonic() + timeout_s
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))


def _rss_bytes(pid: int) -> int:
    """Resident memory of a process (0 where /proc can't tell)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE_BYTES
    except (OSError, ValueError, IndexError):
        return 0


_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _Generation:
    """One process pool; replaced wholesale when a page hangs it or a worker dies."""

    def __init__(self, workers: int, max_tasks_per_child: int | None, prestart: int, slots: int) -> None:
        self.workers = workers
        self.prestart = min(prestart, workers)
        context, parent = worker_context()
        # Slot i holds when a worker started the page given slot i (0: not started yet).
        self.starts = context.RawArray("d", slots)
        self.executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=start_worker if context.get_start_method() == "forkserver" else init_worker,
            initargs=(parent, self.starts),
            max_tasks_per_child=max_tasks_per_child,
        )
        self.killed = False
        self.running = 0
        self.done = 0
        self._ready: asyncio.Future[list[int]] | None = None

    def largest_rss(self) -> int:
        """The resident memory of the largest worker, in bytes."""
        return max(map(_rss_bytes, self.pids()), default=0)

    def pids(self) -> list[int]:
        # ProcessPoolExecutor has no public way to reach its children, and only SIGKILL stops a
        # worker stuck in libxml2; ``_processes`` (pid -> Process) has been there since 3.2.
        return list(getattr(self.executor, "_processes", None) or {})

    async def ready(self) -> None:
        """Start ``prestart`` workers once, so no page pays the fork server's imports inside its
        timeout; the others are forked when pages need them (a fork and the worker's set-up).

        Starting a worker blocks until the fork server has loaded the extraction stack: that wait
        happens in a thread, so the event loop goes on (fetching the first pages, say) meanwhile.
        """
        if self._ready is None:
            self._ready = asyncio.ensure_future(asyncio.to_thread(self._start_all))
        await asyncio.shield(self._ready)

    def _start_all(self) -> list[int]:
        futures = [self.executor.submit(noop) for _ in range(self.prestart)]
        return [future.result() for future in futures]

    async def close(self) -> None:
        """Shut down: gracefully when idle, else SIGKILL (a running page may be hostile)."""
        if self.running or self.killed:
            await self.kill()
        else:
            await asyncio.to_thread(self.executor.shutdown, wait=True, cancel_futures=True)

    async def kill(self) -> None:
        """SIGKILL every worker and wait until they are gone; pending futures see BrokenProcessPool."""
        self.killed = True
        procs = list((getattr(self.executor, "_processes", None) or {}).values())
        for proc in procs:
            if proc.is_alive():
                proc.kill()
        self.executor.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(_reap, procs, _REAP_TIMEOUT_S)


_CacheKey = tuple[str, str | None, int]
# Workers are recycled on memory, not on a task count: a worker whose resident memory has grown
# past this (lxml and trafilatura keep what a huge page made them allocate) is retired.
_RECYCLE_RSS_BYTES = 512 * 1024 * 1024
_RECYCLE_CHECK_EVERY = 32  # pages between two looks at the workers' memory
# Pages handed to the workers at once, per worker: one running and one waiting in the pool's
# queue, so that a worker finishing a page starts the next at once instead of waiting for this
# process to hand it over (on 2 busy cores that hand-off left the workers idle a sixth of the time).
_IN_FLIGHT_PER_WORKER = 2


async def _await_page(
    fut: asyncio.Future[PageReading], starts: MutableSequence[float], slot: int, timeout_s: float
) -> PageReading:
    """The page's reading, or TimeoutError once ``timeout_s`` has passed since a worker *started*
    it (its stamp in ``starts``): time spent queued behind another page is not the page's own.

    A page queued forever cannot happen: each page ahead of it is under the same bound, and a
    page that overruns has its pool killed (this one then fails as innocent and is retried).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s  # loop.time() is time.monotonic(), the workers' clock too
    try:
        while True:
            try:
                # Shielded: a wait that runs out must not cancel the page before its stamp is read.
                return await asyncio.wait_for(asyncio.shield(fut), max(0.0, deadline - loop.time()))
            except TimeoutError:
                started = starts[slot]
                if started and started + timeout_s <= loop.time():
                    raise
                deadline = (started or loop.time()) + timeout_s
    except BaseException:
        fut.cancel()  # a page still queued is dropped (as an unshielded wait would have done)
        raise


async def _exit_codes(executor: ProcessPoolExecutor) -> list[int | None]:
    """The exit codes of a broken pool's workers, read once its manager thread has joined them.

    Read earlier, a code can be lost: with the fork server, ``Process.exitcode`` reads the status
    from a pipe, and the manager thread, joining the same processes, may read it first (the loser
    sees 255 or None, and a CPU-limit kill would pass for a crash).
    """
    processes = list((getattr(executor, "_processes", None) or {}).values())
    manager = getattr(executor, "_executor_manager_thread", None)
    if manager is not None:
        await asyncio.to_thread(manager.join, 10.0)
    return [p.exitcode for p in processes]


def _quietly(task: asyncio.Future[None]) -> None:
    """A background start's failure is the first page's to report: read here, so never logged twice."""
    if not task.cancelled():
        task.exception()


class _Innocent(Exception):
    """This task's pool was killed for another task's timeout: it deserves one retry."""


class ExtractorPool:
    """Runs ``extract_article`` in killable worker processes, with a small per-run result cache.

    The cache is keyed by the body's sha256 and charset, so a page served under several URLs is
    extracted once; the URL-dependent canonical URL is filled in per call. ``workers=0`` runs
    inline (tests, tiny jobs) with no timeout. ``extractions`` counts pages actually extracted.
    """

    def __init__(
        self,
        settings: ExtractSettings,
        *,
        max_tasks_per_child: int | None = None,
        cache_size: int = 256,
        recycle_rss_bytes: int = _RECYCLE_RSS_BYTES,
        eager: bool = True,
    ):
        """``eager=False``: entering starts the workers without waiting for them (the caller has
        pages to fetch first); a worker that fails to start then fails the first extraction."""
        self.settings = settings
        self._eager = eager
        self._starting: asyncio.Future[None] | None = None
        self.extractions = 0
        self._max_tasks_per_child = max_tasks_per_child
        self._recycle_rss_bytes = recycle_rss_bytes
        self._retiring: set[asyncio.Task[None]] = set()
        self._cache_size = cache_size
        self._cache: OrderedDict[_CacheKey, asyncio.Task[PageReading]] = OrderedDict()
        self._gen: _Generation | None = None
        # A page waits in the pool's queue behind each running one, so that a worker finishing a
        # page starts the next at once instead of waiting for this process to hand it over (on 2
        # busy cores that hand-off left the workers idle a sixth of the time).
        self._in_flight = max(_IN_FLIGHT_PER_WORKER * settings.workers, 1)
        self._slots = asyncio.Semaphore(self._in_flight)
        self._free_slots = list(range(self._in_flight))  # indexes into each generation's ``starts``

    @property
    def worker_pids(self) -> list[int]:
        """PIDs of the current pool's workers (empty inline)."""
        return self._gen.pids() if self._gen else []

    @property
    def alive(self) -> bool:
        """Ready to extract: inline, or a worker pool that is open and has not been killed."""
        if self.settings.workers <= 0:
            return True
        return self._gen is not None and not self._gen.killed

    @property
    def running(self) -> int:
        """Extractions submitted to the current worker processes and not yet finished."""
        return self._gen.running if self._gen else 0

    async def __aenter__(self) -> ExtractorPool:
        if self.settings.workers > 0:
            self._gen = self._new_generation()
            if not self._eager:  # started now, waited for by the first page (outside its timeout)
                self._starting = asyncio.ensure_future(self._gen.ready())
                self._starting.add_done_callback(_quietly)
                return self
            try:
                await self._gen.ready()
            except BrokenProcessPool as e:
                await self._gen.kill()
                raise ExtractionError(
                    "extraction workers failed to start", reason=SourceReason.EXTRACTION_CRASHED
                ) from e
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for task in self._cache.values():
            task.cancel()
        self._cache.clear()
        gen, self._gen = self._gen, None
        if self._starting is not None and not self._starting.done():
            await asyncio.wait([self._starting])  # a shutdown while the workers start waits for them
        if gen is not None:
            await gen.close()
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)

    async def restart(self) -> None:
        """Kill the workers and start afresh (memory hygiene); running extractions are retried once."""
        if self._gen is not None:
            await self._replace(self._gen)

    def _new_generation(self) -> _Generation:
        # Lazy (``eager=False``): one worker waited for, so a one-page run does not share its two
        # cores with a second worker's set-up while its page is read; the second comes with the
        # second page at once.
        prestart = self.settings.workers if self._eager else 1
        return _Generation(self.settings.workers, self._max_tasks_per_child, prestart, self._in_flight)

    async def extract(
        self, body: bytes, *, url: str, content_type: str | None = None, digest: str | None = None
    ) -> Extraction:
        """Extract ``body``; raises ExtractionTimeout past ``timeout_s``, ExtractionError on a crash.

        ``digest`` is the body's sha256 when the caller has it already.
        """
        charset = declared_encoding(b"", content_type)
        key: _CacheKey = (digest or hashlib.sha256(body).hexdigest(), charset, self.settings.max_html_bytes)
        task = self._cache.get(key)
        if task is None:
            task = asyncio.ensure_future(self._read(body, url, content_type))
            task.add_done_callback(lambda t: self._settle(key, t))
            self._cache[key] = task
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        page = await asyncio.shield(task)
        return _finish(page, url)

    def _settle(self, key: _CacheKey, task: asyncio.Task[PageReading]) -> None:
        """Forget failures, except timeouts: a hostile page stays hostile under another URL."""
        keep = not task.cancelled() and isinstance(task.exception(), (ExtractionTimeout, type(None)))
        if not keep and self._cache.get(key) is task:
            del self._cache[key]

    async def _read(self, body: bytes, url: str, content_type: str | None) -> PageReading:
        self.extractions += 1
        if self.settings.workers <= 0:
            return read_page(body, url, content_type, self.settings.max_html_bytes)
        async with self._slots:  # waiting for a free worker must not count against the timeout
            slot = self._free_slots.pop()
            try:
                try:
                    return await self._submit(body, url, content_type, slot)
                except _Innocent:
                    pass
                try:
                    return await self._submit(body, url, content_type, slot)
                except _Innocent as e:
                    raise ExtractionError(
                        "extraction pool killed twice", reason=SourceReason.EXTRACTION_CRASHED
                    ) from e
            finally:
                self._free_slots.append(slot)

    async def _submit(self, body: bytes, url: str, content_type: str | None, slot: int) -> PageReading:
        gen = self._gen
        if gen is None:
            raise ExtractionError("extractor pool is not running", reason=SourceReason.EXTRACTION_CRASHED)
        loop = asyncio.get_running_loop()
        try:
            await gen.ready()
            gen.running += 1
            try:
                gen.starts[slot] = 0.0
                fut = loop.run_in_executor(
                    gen.executor, read_limited, body, url, content_type, self.settings.max_html_bytes,
                    self.settings.cpu_limit_s, slot,
                )  # fmt: skip
                page = await _await_page(fut, gen.starts, slot, self.settings.timeout_s)
            finally:
                gen.running -= 1
            gen.done += 1
            if gen.done % _RECYCLE_CHECK_EVERY == 0:
                self._recycle_if_large(gen)
            return page
        except TimeoutError as e:
            await self._replace(gen)
            raise ExtractionTimeout(f"extraction took over {self.settings.timeout_s:g} s") from e
        except asyncio.CancelledError as e:
            task = asyncio.current_task()
            if gen.killed and task is not None and not task.cancelling():
                raise _Innocent from e  # the kill cancelled this page's queued work item
            raise
        except BrokenProcessPool as e:
            if gen.killed:
                raise _Innocent from e  # another page's timeout killed this pool
            codes = await _exit_codes(gen.executor)  # a CPU-limit kill must not pass for a crash
            await self._replace(gen)
            if -signal.SIGXCPU in codes:  # its CPU-time limit ended it: a hostile page, like a timeout
                raise ExtractionTimeout(f"extraction used over {self.settings.cpu_limit_s:g} s of CPU") from e
            raise ExtractionError("an extraction worker died", reason=SourceReason.EXTRACTION_CRASHED) from e
        except Exception as e:  # anything the worker raised, or failed to send back
            raise ExtractionError(f"extraction failed: {e!r}") from e

    def _recycle_if_large(self, gen: _Generation) -> None:
        """Retire ``gen`` for a fresh pool when a worker has grown past ``recycle_rss_bytes``: new
        pages go to the new pool at once; the old one finishes what it runs, then shuts down."""
        if self._gen is not gen or gen.largest_rss() <= self._recycle_rss_bytes:
            return
        _log.info("extraction workers recycled: %d bytes resident", gen.largest_rss())
        self._gen = self._new_generation()
        task = asyncio.ensure_future(asyncio.to_thread(gen.executor.shutdown, wait=True))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _replace(self, gen: _Generation) -> None:
        """Kill ``gen`` and put a fresh pool in its place, once, however many tasks notice."""
        if self._gen is gen:
            self._gen = self._new_generation()
        if not gen.killed:
            await gen.kill()
