"""Fixtures for the queue's fault tests: real Redis, real worker and batch processes, a slow origin.

Every test gets its own key prefix (``test-<hex>``) and every key under it is deleted at the end,
failed test or not. Processes are started by ``Processes`` and killed by it (by their own handle,
never by name) before the keys are deleted, so that no process writes a key after the clean-up.
The origin serves pages on loopback only: the workers run with ``--allow-private-addresses``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.exceptions import RedisError

from service.pipeline.streams import connect

SHARED_REDIS = "redis://127.0.0.1:6379/0"

# Small timings, so that a lease ends, a heartbeat expires and a drain ends within seconds.
QUEUE_ENV = {
    "PROVENANCE_LEASE": "2",
    "PROVENANCE_HEARTBEAT": "0.5",
    "PROVENANCE_MAX_DELIVERIES": "3",
    "PROVENANCE_DRAIN_GRACE": "5",
    # Far above what a test sends: slots held by a SIGKILLed worker (they lapse after the HTTP
    # timeout + 10 s) must not hold up the workers that take its jobs over.
    "PROVENANCE_HOST_CONCURRENCY": "64",
}


# ---------------------------------------------------------------- polling


async def until(check: Callable[[], Awaitable[bool]], *, within: float, what: str) -> None:
    """Poll ``check`` every 0.1 s until it holds; fail naming ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within:g} s waiting for {what}")
        await asyncio.sleep(0.1)


# ---------------------------------------------------------------- processes


@dataclass
class Proc:
    """A process a test started; its stdout and stderr go to files (never a pipe that fills up)."""

    label: str
    process: asyncio.subprocess.Process
    stdout: Path
    stderr: Path
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        """The exit code (minus the signal number when killed), None while it runs."""
        return self.process.returncode

    def signal(self, signum: int) -> None:
        """Send ``signum`` to this process (only to it, by its pid) unless it has exited."""
        if self.process.returncode is None:
            self.process.send_signal(signum)

    async def wait(self, within: float) -> int:
        """The exit code; fails the test (with the process's stderr) if it runs past ``within`` s."""
        try:
            return await asyncio.wait_for(self.process.wait(), within)
        except TimeoutError:
            pytest.fail(f"{self.label} still running after {within:g} s; stderr:\n{self.err_tail()}")

    def err(self) -> str:
        """Everything the process wrote to stderr so far."""
        return self.stderr.read_text(encoding="utf-8", errors="replace")

    def err_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of stderr, for failure messages."""
        return "\n".join(self.err().splitlines()[-lines:])

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        """The structlog events (JSON lines on stderr), those named ``name`` if given."""
        found = []
        for line in self.err().splitlines():
            if not line.startswith("{"):
                continue
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict) and (name is None or event.get("event") == name):
                    found.append(event)
        return found


class Processes:
    """Starts ``python -m service ...`` (or a script) with the test's environment, each process in a
    session of its own; kills leftovers, children included."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.directory = directory
        self.env = env
        self.started: list[Proc] = []

    async def start(
        self, label: str, *args: str, script: Path | None = None, env: dict[str, str] | None = None
    ) -> Proc:
        program = [str(script)] if script else ["-m", "service"]
        n = len(self.started)
        out = self.directory / f"{n:02d}-{label}.out"
        err = self.directory / f"{n:02d}-{label}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = await asyncio.create_subprocess_exec(
                sys.executable, *program, *args, stdout=stdout, stderr=stderr,
                env={**self.env, **(env or {})}, cwd=self.directory, start_new_session=True,
            )  # fmt: skip
        proc = Proc(label, process, out, err)
        self.started.append(proc)
        return proc

    async def stop_all(self) -> None:
        """SIGKILL every process group this object started, and reap its leader.

        Each process leads its own group, so this also ends what it spawned: the extraction pool
        of a worker outlives the worker when the worker is SIGKILLed (its children are orphaned).
        """
        for proc in self.started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.process.wait()


def _free_port() -> int:
    """A loopback port free a moment ago (the server binds it right after)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def prefix() -> str:
    """This test's key prefix: every key it (and its processes) writes starts with it."""
    return f"test-{secrets.token_hex(6)}"


@pytest.fixture
async def procs(tmp_path: Path, prefix: str) -> AsyncIterator[Processes]:
    """Process starter with the queue's small timings; kills what is left at the end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVENANCE_")}
    env.update(QUEUE_ENV, PROVENANCE_REDIS_PREFIX=prefix)
    directory = tmp_path / "run"
    directory.mkdir()
    processes = Processes(directory, env)
    yield processes
    await processes.stop_all()


async def delete_prefix(url: str, prefix: str) -> None:
    """SCAN + DEL of every key under ``prefix``."""
    redis = connect(url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}:*", count=500)]
        for start in range(0, len(keys), 500):
            await redis.delete(*keys[start : start + 500])
    finally:
        await redis.aclose()


async def _ping(url: str) -> str | None:
    """None when Redis answers at ``url``, else why not."""
    redis = connect(url)
    try:
        await asyncio.wait_for(redis.ping(), 5.0)
    except (RedisError, OSError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        await redis.aclose()
    return None


@pytest.fixture
async def redis_url(procs: Processes, prefix: str) -> AsyncIterator[str]:
    """The shared Redis at 127.0.0.1:6379 db 0 (skip if unreachable); this test's keys are deleted
    after its processes are killed."""
    problem = await _ping(SHARED_REDIS)
    if problem is not None:
        pytest.skip(f"Redis at 127.0.0.1:6379 is unreachable ({problem}); the fault tests need it")
    try:
        yield SHARED_REDIS
    finally:
        await procs.stop_all()
        await delete_prefix(SHARED_REDIS, prefix)


@dataclass
class OwnRedis:
    """A ``redis-server`` of this test alone (AOF, fsync always) that it may kill and restart."""

    directory: Path
    port: int
    server: Proc | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        """The server's URL, db 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        """Start the server (again: same port, same directory, so the AOF is read back)."""
        args = [
            "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
            "--appendonly", "yes", "--appendfsync", "always", "--save", "",
        ]  # fmt: skip
        self.starts += 1
        out = self.directory / f"server-{self.starts}.log"
        with out.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                "redis-server", *args, stdout=log, stderr=log, cwd=self.directory
            )
        self.server = Proc("redis-server", process, out, out)

        async def up() -> bool:
            return await _ping(self.url) is None

        await until(up, within=10, what=f"redis-server on port {self.port}")

    async def kill(self) -> None:
        """SIGKILL: no shutdown save, no goodbye to clients."""
        assert self.server is not None
        self.server.signal(signal.SIGKILL)
        await self.server.wait(10)


@pytest.fixture
async def own_redis(procs: Processes, prefix: str, tmp_path: Path) -> AsyncIterator[OwnRedis]:
    """A private ``redis-server`` with ``appendonly yes``, ``appendfsync always`` and no RDB saves."""
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server binary on PATH")
    directory = tmp_path / "redis"
    directory.mkdir()
    server = OwnRedis(directory, _free_port())
    await server.start()
    try:
        yield server
    finally:
        await procs.stop_all()
        if server.server is None or server.server.returncode is not None:
            await server.start()  # a test that failed with the server down: up again to clean it
        await delete_prefix(server.url, prefix)
        await server.kill()


# ---------------------------------------------------------------- the origin


@dataclass
class Page:
    """How slowly one page answers."""

    delay_s: float = 0.0
    first_delay_s: float | None = None
    """The delay of the first request only (a page slow once, quick when asked again)."""


@dataclass
class SlowOrigin:
    """Article pages on loopback, each delayed; ``hits`` counts requests per path (probes too)."""

    base: str = ""
    pages: dict[str, Page] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)

    def add(self, slug: str, delay_s: float = 0.0, *, first_delay_s: float | None = None) -> str:
        """Serve page ``slug`` after ``delay_s`` (``first_delay_s`` for its first request); its URL."""
        self.pages[slug] = Page(delay_s, first_delay_s)
        return self.url(slug)

    def url(self, slug: str) -> str:
        """The address of page ``slug``."""
        return f"{self.base}/articles/{slug}"

    def page_hits(self, slug: str) -> int:
        """Requests for page ``slug`` itself (not its soft-404 probe)."""
        return self.hits[f"/articles/{slug}"]

    async def handle(self, request: web.Request) -> web.Response:
        """Count the request; a known page after its delay, anything else 404 at once."""
        slug = request.match_info["slug"]
        self.hits[request.path] += 1
        page = self.pages.get(slug)
        if page is None:  # the soft-404 probe's made-up sibling path
            raise web.HTTPNotFound(text="no such article")
        first = self.hits[request.path] == 1 and page.first_delay_s is not None
        await asyncio.sleep(page.first_delay_s if first and page.first_delay_s is not None else page.delay_s)
        return web.Response(text=article(slug), content_type="text/html")


def sentence(slug: str) -> str:
    """The sentence page ``slug`` holds; a post quotes part of it."""
    return f"the harbour called {slug} would reopen on Monday after the long repairs"


def article(slug: str) -> str:
    """The HTML of page ``slug``: an article holding ``sentence(slug)``."""
    return (
        f"<!doctype html><html><head><title>Harbour report {slug}</title></head><body><article>"
        f"<h1>Harbour report {slug}</h1><p>The minister said that {sentence(slug)} were finished "
        f"by the crews of the port.</p><p>Other news of the day followed in the evening edition "
        f"of the paper ({slug}).</p></article></body></html>"
    )


def post_line(post_id: str, origin: SlowOrigin, slug: str) -> str:
    """One input line: a post quoting page ``slug`` word for word and citing it."""
    text = f'A spokesperson confirmed: "{sentence(slug)}". Source: {origin.url(slug)}'
    return json.dumps({"id": post_id, "text": text})


@pytest.fixture
async def origin() -> AsyncIterator[SlowOrigin]:
    """The slow origin on 127.0.0.1 at a free port (pages are added by each test)."""
    state = SlowOrigin()
    app = web.Application()
    app.router.add_get("/articles/{slug}", state.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    state.base = f"http://127.0.0.1:{server.port}"
    try:
        yield state
    finally:
        await server.close()


# ---------------------------------------------------------------- reports


def read_reports(path: Path) -> list[dict[str, Any]]:
    """The report lines of a batch output."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def check_reports(path: Path, expected: Sequence[tuple[str | None, str]]) -> list[dict[str, Any]]:
    """The output holds one report per input line, in input order, none twice, each with the
    expected verdict (or, for ``"bad_json"`` / ``"dead_lettered"``, that error code)."""
    reports = read_reports(path)
    ids = [r.get("id") for r in reports]
    assert ids == [post_id for post_id, _ in expected], ids
    named = [i for i in ids if i is not None]
    assert len(named) == len(set(named)), f"a report twice: {ids}"
    for report, (post_id, outcome) in zip(reports, expected, strict=True):
        error = report.get("error")
        if outcome in {"bad_json", "dead_lettered"}:
            assert isinstance(error, dict), report
            assert error["code"] == outcome, (post_id, error)
        else:
            assert error is None, (post_id, error)
            assert report["verdict"] == outcome, (post_id, report["verdict"], report["sources"])
    return reports
