"""Article extraction: trafilatura's main text and metadata plus a whole-page fallback text.

trafilatura is CPU-bound, GIL-bound and can be driven into tens of seconds of CPU by hostile HTML
(security.md §3), so it runs in worker processes (forked by ``launcher``'s fork server) that are
SIGKILLed when a page overruns its wall-clock limit: ``asyncio.wait_for`` alone only stops waiting,
the CPU burn goes on. The pool is ours, not ``concurrent.futures``': the event loop writes each
page to a worker's socket and reads the answer back (``reading.serve`` is the other end), with no
manager or feeder thread in this process (``_Generation``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import time
from collections import OrderedDict, deque
from collections.abc import Callable, MutableSequence
from dataclasses import replace
from multiprocessing.context import ForkServerContext, SpawnContext
from pathlib import Path
from types import TracebackType
from typing import TypeVar
from urllib.parse import urljoin

from service.pipeline.errors import ExtractionError, ExtractionTimeout, InvalidURL, UnsupportedURL
from service.pipeline.extract.captures import CaptureReading, read_capture_page
from service.pipeline.extract.charset import declared_encoding
from service.pipeline.extract.launcher import worker_context
from service.pipeline.extract.reading import (
    DEFAULT_MAX_HTML,
    FRAME,
    PageReading,
    read_limited,
    read_page,
    serve,
)
from service.pipeline.fetch.warc_reader import Capture, StoredAnswer, read_capture
from service.pipeline.models import Extraction, SourceReason, header_value
from service.pipeline.urls import normalize_url
from service.settings import ExtractSettings

__all__ = ["ExtractorPool", "extract_article"]

_REAP_TIMEOUT_S = 5.0
_T = TypeVar("_T")
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


def _absolute(capture: Capture | None) -> Capture | None:
    """The capture with its file's absolute path, for a worker: a relative one is this process's
    view, which need not stay the fork server's."""
    if capture is None or capture.path.is_absolute():
        return capture
    return replace(capture, path=capture.path.absolute())


def _content_type(answer: StoredAnswer) -> str | None:
    return header_value(answer.headers, "content-type")


# What either end of a worker's socket may hold unread. A replayed page's answer (its body and
# texts) is 134 KB at the median of the corpus batch and 314 KB at the 90th percentile; Linux's
# default (208 KiB) held less than two, so a worker whose answers the event loop had not read yet
# waited in ``sendall`` instead of starting its next page (the batch's wall: 8.66 s against 7.82 s
# with these, alternate runs).
_SOCKET_BUFFER_BYTES = 4 * 1024 * 1024


def _widen(end: socket.socket) -> None:
    """Ask for ``_SOCKET_BUFFER_BYTES`` each way; the kernel caps it (``net.core.wmem_max``)."""
    for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        with contextlib.suppress(OSError):
            end.setsockopt(socket.SOL_SOCKET, option, _SOCKET_BUFFER_BYTES)


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


class _WorkerDied(Exception):
    """The worker running this call died under it (``exitcode``: as ``Process.exitcode`` gives it)."""

    def __init__(self, exitcode: int | None) -> None:
        super().__init__(f"extraction worker died (exit code {exitcode})")
        self.exitcode = exitcode


class _PoolKilled(Exception):
    """This call's pool was killed, or its worker died under another call, before it was answered."""


class _Frames(asyncio.BufferedProtocol):
    """The parent's end of a worker's socket, reading each answer (``FRAME``-sized length, then
    the pickle) straight into a buffer of the answer's own size: one copy out of the kernel.

    asyncio's ``StreamReader`` copied every answer into its own buffer, then out of it (and
    moved what followed), before pickle copied the body once more: with a replayed page's body in
    each answer (134 KB median), 12% of the main process's CPU over the corpus batch."""

    def __init__(self) -> None:
        self._header = bytearray(FRAME.size)
        self._answer: bytearray | None = None  # the answer being read, once its length is known
        self._filled = 0
        self._frames: deque[bytearray] = deque()
        self._ended: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    def get_buffer(self, sizehint: int) -> memoryview:
        # Never past the end of the length or of the answer: one read holds one of them at most.
        return memoryview(self._header if self._answer is None else self._answer)[self._filled :]

    def buffer_updated(self, nbytes: int) -> None:
        self._filled += nbytes
        if self._answer is None:
            if self._filled < FRAME.size:
                return
            self._answer, self._filled = bytearray(FRAME.unpack(self._header)[0]), 0
        if self._filled < len(self._answer):
            return
        self._frames.append(self._answer)
        self._answer, self._filled = None, 0
        self._wake()

    def eof_received(self) -> bool:
        self._end(asyncio.IncompleteReadError(bytes(self._answer or b""), None))
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(exc if isinstance(exc, ConnectionError) else asyncio.IncompleteReadError(b"", None))

    def _end(self, error: BaseException) -> None:
        if self._ended is None:
            self._ended = error
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def frame(self) -> bytearray:
        """The next answer's pickle; ``IncompleteReadError`` (or the connection's error) once the
        worker's end is closed and every whole answer has been taken."""
        while not self._frames:
            if self._ended is not None:
                raise self._ended
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._frames.popleft()


class _Worker:
    """One extraction process, the parent's end of its socket, and the calls sent to it in order:
    the first is running, the others wait in the socket (``reading.serve`` answers in order)."""

    def __init__(self, proc: multiprocessing.process.BaseProcess, writer: asyncio.Transport) -> None:
        self.proc = proc
        self.writer = writer
        self.pending: deque[asyncio.Future[object]] = deque()
        self.sent = 0
        self.reader_task: asyncio.Task[None] | None = None

    def send(self, function: Callable[..., object], args: tuple[object, ...]) -> asyncio.Future[object]:
        fut: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        data = pickle.dumps((function, args), pickle.HIGHEST_PROTOCOL)
        self.writer.write(FRAME.pack(len(data)) + data)  # buffered: never blocks the loop
        self.pending.append(fut)
        self.sent += 1
        return fut


def _spawn(
    context: ForkServerContext | SpawnContext, parent: int | None, starts: MutableSequence[float]
) -> tuple[multiprocessing.process.BaseProcess, socket.socket]:
    """Start one worker (blocking: the first start waits for the fork server's imports); the
    process and the parent's end of the socket to it."""
    mine, theirs = socket.socketpair()
    for end in (mine, theirs):
        _widen(end)
    forked = context.get_start_method() == "forkserver"
    # Daemonic: should one ever outlive its pool, the interpreter's exit ends it instead of
    # waiting for it (multiprocessing joins the other kind at exit).
    proc = context.Process(
        target=serve, args=(theirs, parent, starts, forked), name="provenance-extract", daemon=True
    )
    try:
        proc.start()
    except BaseException:
        mine.close()
        raise
    finally:
        theirs.close()  # the worker has its own copy: the parent keeps only its end, so it sees EOF
    return proc, mine


class _Generation:
    """One set of worker processes; replaced wholesale when a page hangs it or a worker dies.

    The pool talks to its workers from the event loop (``reading.serve`` is the other end): a
    call is one write to a worker's socket, an answer one read, with no thread in between.
    """

    def __init__(self, workers: int, max_tasks_per_child: int | None, prestart: int, slots: int) -> None:
        self.workers = workers
        self.prestart = min(prestart, workers)
        self.context, self.parent = worker_context()
        # Slot i holds when a worker started the page given slot i (0: not started yet).
        self.starts = self.context.RawArray("d", slots)
        self.max_tasks_per_child = max_tasks_per_child
        self.live: list[_Worker] = []
        self.killed = False
        self.broken = False  # a worker died: no call goes here any more
        self.closing = False  # close() or kill() began: a worker that starts now is killed at once
        self.running = 0
        self.done = 0
        self._ready: asyncio.Future[None] | None = None
        self._spawning: asyncio.Future[_Worker] | None = None
        # Every worker started and not yet reaped (a retired one is reaped as it exits).
        self._procs: list[multiprocessing.process.BaseProcess] = []

    def largest_rss(self) -> int:
        """The resident memory of the largest worker, in bytes."""
        return max(map(_rss_bytes, self.pids()), default=0)

    def pids(self) -> list[int]:
        return [w.proc.pid for w in self.live if w.proc.pid is not None]

    async def ready(self) -> None:
        """Start ``prestart`` workers once, so no page pays the fork server's imports inside its
        timeout; the others are started when pages need them (a fork and the worker's set-up).

        Starting a worker blocks until the fork server has loaded the extraction stack: that wait
        happens in a thread, so the event loop goes on (fetching the first pages, say) meanwhile.
        """
        if self._ready is None:
            self._ready = asyncio.ensure_future(self._start(self.prestart))
        await asyncio.shield(self._ready)

    def _shutting(self) -> bool:
        """``closing``, read afresh after an ``await`` (a method, so no type checker narrows it)."""
        return self.closing

    async def _start(self, count: int) -> None:
        await asyncio.gather(*(self._start_one() for _ in range(count)))

    async def _start_one(self) -> _Worker:
        proc, sock = await asyncio.to_thread(_spawn, self.context, self.parent, self.starts)
        self._procs.append(proc)
        if self._shutting():  # the pool shut down while this worker was starting: it never serves
            proc.kill()
            sock.close()
            raise _PoolKilled
        writer, reader = await asyncio.get_running_loop().create_unix_connection(_Frames, sock=sock)
        worker = _Worker(proc, writer)
        try:
            await _read_answer(reader)  # "ready": its pid, once the worker is set up
        except (asyncio.IncompleteReadError, ConnectionError) as e:
            writer.close()
            raise _WorkerDied(await _exit_code(proc)) from e
        worker.reader_task = asyncio.ensure_future(self._answers(worker, reader))
        if self._shutting():  # shut down while it set up: it exits on EOF
            writer.close()
            raise _PoolKilled
        self.live.append(worker)
        return worker

    async def call(self, function: Callable[..., object], *args: object) -> asyncio.Future[object]:
        """Send ``function(*args)`` to a worker: an idle one, else a new one while there is room,
        else the one with the fewest calls waiting. The future is the answer."""
        await self.ready()
        if self.killed or self.broken:
            raise _PoolKilled
        worker = next((w for w in self.live if not w.pending and self._open(w)), None)
        if worker is None and len(self.live) < self.workers:
            worker = await self._grow()
        if worker is None:
            worker = min((w for w in self.live if self._open(w)), key=lambda w: len(w.pending), default=None)
        if worker is None:  # every worker has had its calls (max_tasks_per_child): a fresh one
            worker = await self._grow()
        return worker.send(function, args)  # a worker past its calls is closed once it answers them

    def _open(self, worker: _Worker) -> bool:
        """The worker takes more calls (it has not had its ``max_tasks_per_child``)."""
        return self.max_tasks_per_child is None or worker.sent < self.max_tasks_per_child

    async def _grow(self) -> _Worker:
        """One more worker (one start at a time: callers arriving meanwhile share it)."""
        if self._spawning is None:
            self._spawning = asyncio.ensure_future(self._start_one())
        spawning = self._spawning
        try:
            worker = await asyncio.shield(spawning)
        finally:
            if self._spawning is spawning and spawning.done():
                self._spawning = None
        if self.killed or self.broken:
            raise _PoolKilled
        return worker

    async def _answers(self, worker: _Worker, reader: _Frames) -> None:
        """Hand each answer to its call, in order; on EOF the worker is gone (killed or dead)."""
        try:
            while True:
                ok, value = await _read_answer(reader)
                fut = worker.pending.popleft()
                if not fut.done():  # a call given up on (timed out, cancelled) has no taker
                    if ok:
                        fut.set_result(value)
                    else:
                        fut.set_exception(value if isinstance(value, BaseException) else RuntimeError(value))
                if not worker.pending and not self._open(worker):
                    worker.writer.close()  # its last call answered: it exits on EOF
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        worker.writer.close()
        if worker in self.live:
            self.live.remove(worker)
        if not worker.pending:  # retired, or killed with nothing left to answer
            if not self.killed:  # retired: reaped here, so a long run keeps no list of them
                await _exit_code(worker.proc)
                with contextlib.suppress(ValueError):
                    self._procs.remove(worker.proc)
            return
        if not self.killed and not self.broken:
            # The call it was running killed it (a crash, its CPU limit): that call's failure. The
            # generation is broken; the pool replaces it, and every other call is retried there.
            self.broken = True
            code = await _exit_code(worker.proc)
            head = worker.pending.popleft()
            if not head.done():
                head.set_exception(_WorkerDied(code))
        for other in [worker, *self.live]:
            _fail(other.pending)

    async def close(self) -> None:
        """Shut down: gracefully when idle, else SIGKILL (a running page may be hostile)."""
        if self.running or self.killed:
            await self.kill()
            return
        await self._starts_settled()
        self.closing = True
        for worker in self.live:
            worker.writer.close()  # EOF: the worker's loop ends and it exits
        await asyncio.to_thread(_reap, list(self._procs), _REAP_TIMEOUT_S)
        await self.kill()  # any worker that did not exit in time

    async def retire(self) -> None:
        """Let the calls sent finish, then shut down (a generation replaced for memory)."""
        waiting = [f for w in self.live for f in w.pending]
        await asyncio.gather(*waiting, return_exceptions=True)
        await self.close()

    async def _starts_settled(self) -> None:
        """Wait for the workers being started (by ``ready`` or ``_grow``) to be up, or to fail."""
        for starting in (self._ready, self._spawning):
            if starting is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(starting)

    async def kill(self) -> None:
        """SIGKILL every worker and wait until they are gone; pending calls fail with _PoolKilled."""
        self.killed = self.closing = True
        for _ in range(2):  # the workers; then those that were starting (killed as they came up)
            for proc in self._procs:
                if proc.is_alive():
                    proc.kill()
            await self._starts_settled()
        live, self.live = self.live, []
        for worker in live:
            _fail(worker.pending)
            worker.writer.close()
        await asyncio.to_thread(_reap, list(self._procs), _REAP_TIMEOUT_S)
        tasks = [w.reader_task for w in live if w.reader_task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)


def _fail(calls: deque[asyncio.Future[object]]) -> None:
    """Fail every call still waiting for its answer: its pool is gone, the call is innocent."""
    while calls:
        fut = calls.popleft()
        if not fut.done():
            fut.set_exception(_PoolKilled())


async def _read_answer(reader: _Frames) -> tuple[bool, object]:
    ok, value = pickle.loads(await reader.frame())
    return bool(ok), value


async def _exit_code(proc: multiprocessing.process.BaseProcess) -> int | None:
    """The exit code of a worker whose socket closed: it is exiting, or has exited."""
    await asyncio.to_thread(proc.join, _REAP_TIMEOUT_S)
    return proc.exitcode


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
    fut: asyncio.Future[_T], starts: MutableSequence[float], slot: int, timeout_s: float
) -> _T:
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
        self._cache: OrderedDict[_CacheKey, asyncio.Future[PageReading]] = OrderedDict()
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
            except (_WorkerDied, _PoolKilled, OSError) as e:
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
        key = self._key(digest or hashlib.sha256(body).hexdigest(), content_type)
        task = self._cache.get(key)
        if task is None:
            task = asyncio.ensure_future(self._read(body, url, content_type))
            task.add_done_callback(lambda t: self._settle(key, t))
            self._keep(key, task)
        else:
            self._cache.move_to_end(key)
        page = await asyncio.shield(task)
        return _finish(page, url)

    def _key(self, digest: str, content_type: str | None) -> _CacheKey:
        return (digest, declared_encoding(b"", content_type), self.settings.max_html_bytes)

    def _keep(self, key: _CacheKey, reading: asyncio.Future[PageReading]) -> None:
        self._cache[key] = reading
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def read_capture(
        self,
        capture: Capture,
        original: Capture | None,
        *,
        url: str,
        limit: int,
        accepted: tuple[str, ...],
        extract: bool,
    ) -> tuple[StoredAnswer, str | None]:
        """A replayed capture read, checked, and its page extracted, in a worker
        (``captures.py``): the reading goes into the cache, where ``extract`` of the same body
        finds it. Raises as ``warc_reader.read_capture`` does (``FetchError``).

        A call the pool cannot finish (the page overran its limits, a worker died) leaves the
        capture to be read here; an overrun is kept in the cache as the page's answer, as a
        timed-out extraction always is, so the page is not tried twice.
        """
        max_html = self.settings.max_html_bytes
        if self.settings.workers <= 0:
            done = read_capture_page(capture, original, url, limit, accepted, extract, max_html)
        else:
            try:
                args = (_absolute(capture), _absolute(original), url, limit, accepted, extract, max_html)
                done = await self._in_worker(read_capture_page, args, CaptureReading)
            except ExtractionTimeout as overrun:
                answer = await asyncio.to_thread(read_capture, capture, limit=limit, original=original)
                digest = hashlib.sha256(answer.body).hexdigest() if answer.body else None
                if digest is not None and extract:
                    self.extractions += 1  # tried, and overran (or its read did: the same page)
                    self._keep_answer(self._key(digest, _content_type(answer)), overrun)
                return answer, digest
            except ExtractionError:
                return await asyncio.to_thread(read_capture, capture, limit=limit, original=original), None
        if done.error is not None:
            raise done.error
        assert done.answer is not None
        if done.reading is not None and done.sha256 is not None:
            self.extractions += 1
            self._keep_answer(self._key(done.sha256, _content_type(done.answer)), done.reading)
        return done.answer, done.sha256

    def _keep_answer(self, key: _CacheKey, answer: PageReading | ExtractionTimeout) -> None:
        """A page read elsewhere, as the cache's answer for ``key`` (unless it has one)."""
        if key in self._cache:
            return
        kept: asyncio.Future[PageReading] = asyncio.get_running_loop().create_future()
        if isinstance(answer, PageReading):
            kept.set_result(answer)
        else:
            kept.set_exception(answer)
            kept.exception()  # read here: an answer no page asks for again is not an unread error
        self._keep(key, kept)

    def _settle(self, key: _CacheKey, task: asyncio.Future[PageReading]) -> None:
        """Forget failures, except timeouts: a hostile page stays hostile under another URL."""
        keep = not task.cancelled() and isinstance(task.exception(), (ExtractionTimeout, type(None)))
        if not keep and self._cache.get(key) is task:
            del self._cache[key]

    async def _read(self, body: bytes, url: str, content_type: str | None) -> PageReading:
        self.extractions += 1
        if self.settings.workers <= 0:
            return read_page(body, url, content_type, self.settings.max_html_bytes)
        args = (body, url, content_type, self.settings.max_html_bytes)
        return await self._in_worker(read_limited, args, PageReading)

    async def _in_worker(
        self, function: Callable[..., object], args: tuple[object, ...], kind: type[_T]
    ) -> _T:
        """``function(*args, cpu_limit_s, slot)`` in a worker, under the pool's limits, retried
        once when another page's overrun killed the pool under it; its answer must be a ``kind``."""
        async with self._slots:  # waiting for a free worker must not count against the timeout
            slot = self._free_slots.pop()
            try:
                try:
                    return await self._submit(function, args, kind, slot)
                except _Innocent:
                    pass
                try:
                    return await self._submit(function, args, kind, slot)
                except _Innocent as e:
                    raise ExtractionError(
                        "extraction pool killed twice", reason=SourceReason.EXTRACTION_CRASHED
                    ) from e
            finally:
                self._free_slots.append(slot)

    async def _submit(
        self, function: Callable[..., object], args: tuple[object, ...], kind: type[_T], slot: int
    ) -> _T:
        gen = self._gen
        if gen is None:
            raise ExtractionError("extractor pool is not running", reason=SourceReason.EXTRACTION_CRASHED)
        try:
            gen.running += 1
            try:
                gen.starts[slot] = 0.0
                fut = await gen.call(function, *args, self.settings.cpu_limit_s, slot)
                page = await _await_page(fut, gen.starts, slot, self.settings.timeout_s)
            finally:
                gen.running -= 1
            gen.done += 1
            if gen.done % _RECYCLE_CHECK_EVERY == 0:
                self._recycle_if_large(gen)
            if not isinstance(page, kind):
                raise TypeError(f"a worker answered {type(page).__name__}, not {kind.__name__}")
            return page
        except TimeoutError as e:
            await self._replace(gen)
            raise ExtractionTimeout(f"extraction took over {self.settings.timeout_s:g} s") from e
        except _PoolKilled as e:
            if gen.broken:
                await self._replace(gen)  # whichever call notices first puts a fresh pool in
            raise _Innocent from e  # another page's timeout or crash ended this pool
        except _WorkerDied as e:
            await self._replace(gen)
            if e.exitcode == -signal.SIGXCPU:  # its CPU-time limit ended it: a hostile page, like a timeout
                raise ExtractionTimeout(f"extraction used over {self.settings.cpu_limit_s:g} s of CPU") from e
            raise ExtractionError("an extraction worker died", reason=SourceReason.EXTRACTION_CRASHED) from e
        except OSError as e:  # a worker could not be started at all
            await self._replace(gen)
            raise ExtractionError(
                f"extraction workers failed to start: {e}", reason=SourceReason.EXTRACTION_CRASHED
            ) from e
        except Exception as e:  # anything the worker raised, or failed to send back
            raise ExtractionError(f"extraction failed: {e!r}") from e

    def _recycle_if_large(self, gen: _Generation) -> None:
        """Retire ``gen`` for a fresh pool when a worker has grown past ``recycle_rss_bytes``: new
        pages go to the new pool at once; the old one finishes what it runs, then shuts down."""
        if self._gen is not gen or gen.largest_rss() <= self._recycle_rss_bytes:
            return
        _log.info("extraction workers recycled: %d bytes resident", gen.largest_rss())
        self._gen = self._new_generation()
        task = asyncio.ensure_future(gen.retire())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _replace(self, gen: _Generation) -> None:
        """Kill ``gen`` and put a fresh pool in its place, once, however many tasks notice."""
        if self._gen is gen:
            self._gen = self._new_generation()
        if not gen.killed:
            await gen.kill()
