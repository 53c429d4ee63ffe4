#!/usr/bin/env python3
"""Load benchmark of the HTTP API (`provenance serve`) on loopback: requests/s, p50 and p99 latency.

usage:
  .venv/bin/python tests/bench/bench_api.py [--concurrency 32] [--seconds 10] [--warmup 2] [--sse-clients 50]

Each row runs against a fresh `provenance serve` subprocess (`--archive none`, a temp `--data-dir`, a
free port, PROVENANCE_RATE_LIMIT=1000000/second so the rate limiter never refuses, and
PROVENANCE_MAX_JOBS_PER_KEY=1000000 because every request comes from one address, i.e. one key, and
the default of 8 running jobs would answer 429 to the verify load and the SSE jobs). With two CPUs or
more the server (and its extraction workers) is pinned to one CPU and this load generator to another.
The load: `--concurrency` workers sharing one aiohttp connection pool, each sending its next request
when the previous one is answered; `--warmup` seconds are not counted, then `--seconds` are. Latency is
measured per request at the client (send to body read), over every request completed in the window.

Scenarios:
  check hits  POST /v1/check with a handful of distinct (quote, url) pairs from the seed post, each
              judged once before the clock starts: every counted request is a cache hit (the /metrics
              hit and miss counters are checked), so this measures the lookup path (middlewares, body
              parsing, the cache, JSON), not judging.
  verify      POST /v1/verify of the seed post (tests/data/seed/post.txt, posted_at 2023-12-10T14:23:38Z),
              a new id per request. The first request reads both cited pages; every later one finds them
              in the server's source cache, so this measures parsing, judging 11 quotes against cached
              texts and building the report, not fetching or extraction.
  + N SSE     the same with N clients on GET /v1/jobs/<id>/events of jobs waiting on a URL that never
              answers (one loopback address per client: the server's pool queues requests to one host).

Servers:
  replay      `--replay tests/data/seed/seed.warc.gz`: the check and verify figures.
  live        `--allow-private-addresses`, no replay, pages served by an origin on loopback in this
              process (the bytes of the seed WARC's captures; the post's two URLs rewritten to it). A
              replay server answers every URL at once, so no job there stays open for a stream: the SSE
              jobs cite a URL of this origin that never answers. The server gives such a fetch up after
              HttpSettings.total_timeout (20 s); the job then ends and its client starts another, so
              clients are started staggered over that time and some streams restart during a window
              (counted). Keep-alives come every ApiSettings.keepalive_s (15 s) per stream (counted).
              Rows with and without SSE on this server are the comparison.

Prints one row per scenario: requests, errors (non-2xx or no answer), req/s, p50 and p99 ms, then the
server's CPU share of the window, the share its event loop was runnable but waited for a CPU held by
another process (high on a shared machine: latency then says more about the neighbours than about the
server), server CPU µs per request (the figure least moved by neighbours), and the same CPU and wait
shares for this load generator. Then the with/without-SSE ratios, and whether the goal "/v1/check cache
hits >= 1000 req/s with p99 < 50 ms" is met on every check row; exits 1 when it is not (or a server
fails).
`--py-spy DIR` records a py-spy profile of the server during each window (the figures then carry its
overhead).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "tests" / "data" / "seed"
SEED_WARC = SEED / "seed.warc.gz"
SEED_POST = SEED / "post.txt"
POSTED_AT = "2023-12-10T14:23:38Z"
PAIRS_PER_URL = 3
JOB_GIVES_UP_S = 20.0  # HttpSettings.total_timeout: a live fetch (every hop) ends by then
KEEPALIVE_S = 15.0  # ApiSettings.keepalive_s
GOAL_RPS = 1000.0
GOAL_P99_MS = 50.0
SERVER_ENV = {"PROVENANCE_RATE_LIMIT": "1000000/second", "PROVENANCE_MAX_JOBS_PER_KEY": "1000000"}
JSON_HEADERS = {"Content-Type": "application/json"}
_CACHE_COUNTER = re.compile(r'^provenance_check_cache_total\{outcome="(hit|miss)"\} (\S+)$', re.M)


@dataclass(frozen=True)
class Page:
    """One capture of the seed WARC: its URL, content type and body."""

    url: str
    content_type: str
    body: bytes


def read_captures(warc: Path) -> list[Page]:
    """The 200 responses of a WARC, in file order."""
    from warcio.archiveiterator import ArchiveIterator

    pages = []
    with warc.open("rb") as f:
        for record in ArchiveIterator(f):
            if record.rec_type == "response" and record.http_headers.get_statuscode() == "200":
                url = record.rec_headers.get_header("WARC-Target-URI")
                ctype = record.http_headers.get_header("Content-Type") or "text/html"
                pages.append(Page(url, ctype, record.content_stream().read()))
    return pages


def quote_pairs(post: str, urls: list[str], per_url: int) -> list[tuple[str, str]]:
    """Up to ``per_url`` sentences (8+ words) of the paragraphs above each cited URL, with that URL."""
    pairs, start = [], 0
    for url in urls:
        end = post.index(url, start)
        lines = [" ".join(line.split()) for line in post[start:end].splitlines()]
        sentences = [s for line in lines if len(line.split()) >= 12 for s in re.split(r"(?<=[.!?])\s+", line)]
        pairs += [(s, url) for s in sentences if len(s.split()) >= 8][:per_url]
        start = end + len(url)
    return pairs


# -- the server under test ------------------------------------------------------------------------


def provenance_cmd() -> list[str]:
    """The venv's console script, else PATH, else python -m service."""
    local = Path(sys.executable).parent / "provenance"
    if local.exists():
        return [str(local)]
    found = shutil.which("provenance")
    return [found] if found else [sys.executable, "-m", "service"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    base: str
    stderr: Path

    def tail(self) -> str:
        return self.stderr.read_text(errors="replace")[-2000:]


def spawn_server(args: list[str], workdir: Path, cpus: set[int] | None) -> Server:
    """`provenance serve` on a free loopback port with the bench's environment (not yet ready)."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [
        *provenance_cmd(),
        "serve",
        "--port",
        str(port),
        "--archive",
        "none",
        "--data-dir",
        str(workdir / "data"),
        *args,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVENANCE_")} | SERVER_ENV
    err = workdir / "stderr.txt"
    with err.open("wb") as stderr:
        proc = subprocess.Popen(
            cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr
        )
    if cpus:  # before it spawns its extraction workers: they inherit the affinity
        os.sched_setaffinity(proc.pid, cpus)
    return Server(proc, f"http://127.0.0.1:{port}", err)


def stop_server(server: Server) -> None:
    """SIGTERM (the app closes its jobs and extraction pool), SIGKILL after 15 s."""
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(15)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


async def wait_ready(server: Server, session: aiohttp.ClientSession, timeout_s: float = 90.0) -> None:
    """Until GET /healthz answers 200 (the app is set up once it listens)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"the server exited with {server.proc.returncode}:\n{server.tail()}")
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(f"{server.base}/healthz") as resp:
                if resp.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the server did not answer /healthz within {timeout_s:.0f} s:\n{server.tail()}")


def _tree(pid: int) -> Iterator[int]:
    todo = [pid]
    while todo:
        p = todo.pop()
        yield p
        with contextlib.suppress(OSError, ValueError):
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants (0 without /proc)."""
    ticks = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def runqueue_wait_s(pid: int | str) -> float:
    """Seconds a process's main thread (the event loop) spent runnable but waiting for a CPU."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


def spawn_py_spy(pid: int, seconds: float, out: Path, fmt: str) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(exe).exists():
        print("py-spy not found: no profile recorded", file=sys.stderr)
        return None
    cmd = [
        exe,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(seconds))),
        "--rate",
        "250",
        "--subprocesses",
        "--nonblocking",
        "--format",
        fmt,
        "-o",
        str(out),
    ]
    return subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


# -- an origin for the live server ----------------------------------------------------------------


class Origin:
    """Loopback web server: the seed pages on 127.0.0.1, and URLs that never answer on 127.0.0.2,
    127.0.0.3, ... (one address per SSE client: the server's pool keeps two connections per host and
    gives up on a queued request after connect_timeout, 5 s, so hung URLs must not share a host)."""

    def __init__(self, pages: list[Page]) -> None:
        self.pages = pages
        self._runner: web.AppRunner | None = None
        self.pages_base = ""
        self.hang_port = 0

    async def _page(self, request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        if n >= len(self.pages):
            raise web.HTTPNotFound()
        page = self.pages[n]
        return web.Response(body=page.body, headers={"Content-Type": page.content_type})

    async def _hang(self, request: web.Request) -> web.Response:
        await asyncio.Event().wait()  # never set: the server gives up first
        return web.Response(status=504)

    async def start(self, hang_hosts: int) -> None:
        app = web.Application()
        app.add_routes([web.get("/page/{n:\\d+}", self._page), web.get("/hang/{tail:.*}", self._hang)])
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.pages_base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        for n in range(min(hang_hosts, 250)):
            await web.TCPSite(self._runner, self._hang_host(n), self.hang_port).start()
            self.hang_port = self.hang_port or self._runner.addresses[-1][1]

    @staticmethod
    def _hang_host(n: int) -> str:
        return f"127.0.0.{2 + n % 250}"

    def page_url(self, n: int) -> str:
        return f"{self.pages_base}/page/{n}"

    def hang_url(self, client: int, round_: int) -> str:
        return f"http://{self._hang_host(client)}:{self.hang_port}/hang/{client}/{round_}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


# -- SSE clients ----------------------------------------------------------------------------------


@dataclass
class SseStats:
    open: int = 0
    open_log: list[tuple[float, int]] = field(default_factory=list)
    keepalives: list[float] = field(default_factory=list)
    restarts: list[float] = field(default_factory=list)
    events: int = 0
    failures: int = 0

    def opened(self, delta: int) -> None:
        self.open += delta
        self.open_log.append((time.perf_counter(), self.open))

    def min_open(self, t0: float, t1: float) -> int:
        before = [n for t, n in self.open_log if t <= t0]
        inside = [n for t, n in self.open_log if t0 < t <= t1]
        return min([before[-1] if before else 0, *inside])


async def sse_client(
    session: aiohttp.ClientSession, base: str, origin: Origin, index: int, delay: float, stats: SseStats
) -> None:
    """Start a job citing a URL that never answers, hold its event stream, start another when it ends."""
    await asyncio.sleep(delay)
    for round_ in itertools.count():
        text = f"“Nothing ever comes back from here.”\n\n{origin.hang_url(index, round_)}\n"
        body = {"id": f"sse-{index}-{round_}", "text": text}
        try:
            async with session.post(f"{base}/v1/verify?wait=false", json=body) as resp:
                if resp.status != 202:
                    raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status)
                job = (await resp.json())["job"]
            async with session.get(f"{base}/v1/jobs/{job}/events") as stream:
                stats.opened(1)
                try:
                    async for line in stream.content:
                        if line.startswith(b": keep-alive"):
                            stats.keepalives.append(time.perf_counter())
                        elif line.startswith(b"event: "):
                            stats.events += 1
                finally:
                    stats.opened(-1)
        except (aiohttp.ClientError, ValueError, KeyError):
            stats.failures += 1
            await asyncio.sleep(1)
            continue
        stats.restarts.append(time.perf_counter())


# -- the load -------------------------------------------------------------------------------------


@dataclass
class Window:
    """What the counted seconds saw."""

    latencies: list[float]
    statuses: Counter[int]
    failures: int  # no answer at all (connection errors, timeouts)
    seconds: float
    t0: float
    t1: float
    server_cpu_s: float  # the server and its extraction workers
    client_cpu_s: float  # this process
    server_wait_s: float  # the server's event loop ready to run, but another process on its CPU
    client_wait_s: float

    def share(self, seconds: float) -> float:
        return seconds / self.seconds

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def errors(self) -> int:
        return self.failures + sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    def pct_ms(self, q: float) -> float:
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return 1000 * ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def hammer(
    session: aiohttp.ClientSession,
    url: str,
    body: Callable[[int], bytes],
    args: argparse.Namespace,
    server_pid: int,
    profile: Path | None,
) -> Window:
    """``args.concurrency`` workers POSTing ``body(n)`` to ``url``: warm-up, then the counted window."""
    start = time.perf_counter()
    t0, t1 = start + args.warmup, start + args.warmup + args.seconds
    done: list[tuple[float, float, int]] = []
    failures: list[float] = []
    sent = itertools.count()
    cpu: dict[str, float] = {}
    spies: list[subprocess.Popen[bytes]] = []

    async def worker() -> None:
        while (began := time.perf_counter()) < t1:
            try:
                async with session.post(url, data=body(next(sent)), headers=JSON_HEADERS) as resp:
                    await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError):
                failures.append(time.perf_counter())
                continue
            finished = time.perf_counter()
            done.append((finished, finished - began, status))

    async def snapshot(at: float, name: str) -> None:
        await asyncio.sleep(at - time.perf_counter())
        cpu[name + "_server"], cpu[name + "_client"] = tree_cpu_s(server_pid), time.process_time()
        cpu[name + "_swait"], cpu[name + "_cwait"] = runqueue_wait_s(server_pid), runqueue_wait_s("self")
        if name == "t0" and profile is not None:
            spy = spawn_py_spy(server_pid, args.seconds, profile, args.py_spy_format)
            if spy is not None:
                spies.append(spy)

    await asyncio.gather(*(worker() for _ in range(args.concurrency)), snapshot(t0, "t0"), snapshot(t1, "t1"))
    for spy in spies:
        await asyncio.to_thread(spy.wait)
    counted = [(lat, status) for end, lat, status in done if t0 <= end <= t1]
    return Window(
        latencies=[lat for lat, _ in counted],
        statuses=Counter(status for _, status in counted),
        failures=sum(1 for t in failures if t0 <= t <= t1),
        seconds=t1 - t0,
        t0=t0,
        t1=t1,
        server_cpu_s=cpu["t1_server"] - cpu["t0_server"],
        client_cpu_s=cpu["t1_client"] - cpu["t0_client"],
        server_wait_s=cpu["t1_swait"] - cpu["t0_swait"],
        client_wait_s=cpu["t1_cwait"] - cpu["t0_cwait"],
    )


# -- scenarios ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    server: str  # "replay" | "live"
    kind: str  # "check" | "verify"
    sse: int

    @property
    def label(self) -> str:
        name = "check hits" if self.kind == "check" else "verify"
        return f"{name} + {self.sse} SSE" if self.sse else name

    @property
    def slug(self) -> str:
        return f"{self.server}-{self.kind}-sse{self.sse}"


@dataclass
class Row:
    scenario: Scenario
    window: Window
    notes: list[str]

    @property
    def rps(self) -> float:
        return self.window.requests / self.window.seconds


@dataclass
class Bench:
    args: argparse.Namespace
    work: Path
    post: str
    pages: list[Page]
    server_cpus: set[int] | None
    origin: Origin | None = None

    def urls(self, scenario: Scenario) -> list[str]:
        if scenario.server == "live":
            assert self.origin is not None
            return [self.origin.page_url(n) for n in range(len(self.pages))]
        return [p.url for p in self.pages]

    def post_text(self, scenario: Scenario) -> str:
        text = self.post
        for page, url in zip(self.pages, self.urls(scenario), strict=True):
            text = text.replace(page.url, url)
        return text

    def server_args(self, scenario: Scenario) -> list[str]:
        if scenario.server == "live":
            return ["--allow-private-addresses"]
        return ["--replay", str(SEED_WARC)]

    async def run(self, scenario: Scenario) -> Row:
        server = spawn_server(self.server_args(scenario), self.work / scenario.slug, self.server_cpus)
        connector = aiohttp.TCPConnector(limit=self.args.concurrency)
        sse_tasks: list[asyncio.Task[None]] = []
        async with (
            aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session,
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as sse_session,
        ):
            try:
                await wait_ready(server, session)
                if scenario.kind == "check":
                    url, body, notes = await self.prime_check(session, server, scenario)
                else:
                    url, body, notes = await self.prime_verify(session, server, scenario)
                stats = SseStats()
                if scenario.sse:
                    assert self.origin is not None
                    ramp = self.args.sse_ramp
                    sse_tasks = [
                        asyncio.create_task(
                            sse_client(
                                sse_session,
                                server.base,
                                self.origin,
                                i,
                                i * ramp / scenario.sse,
                                stats,
                            )
                        )
                        for i in range(scenario.sse)
                    ]
                    await asyncio.sleep(ramp + 1)
                    if stats.open < scenario.sse:
                        notes.append(f"only {stats.open} of {scenario.sse} streams open before the load")
                profile = None
                if self.args.py_spy:
                    self.args.py_spy.mkdir(parents=True, exist_ok=True)
                    ext = {"flamegraph": "svg", "speedscope": "json", "raw": "txt"}[self.args.py_spy_format]
                    profile = self.args.py_spy / f"{scenario.slug}.{ext}"
                window = await hammer(session, url, body, self.args, server.proc.pid, profile)
                if scenario.kind == "check":
                    notes.append(await self.cache_counts(session, server))
                if scenario.sse:
                    notes.append(self.sse_note(stats, window, scenario.sse))
            finally:
                for task in sse_tasks:
                    task.cancel()
                await asyncio.gather(*sse_tasks, return_exceptions=True)
                await asyncio.to_thread(stop_server, server)
        others = {s: n for s, n in window.statuses.items() if s != 200}
        if others:
            notes.append(f"answers other than 200: {dict(sorted(others.items()))}")
        if window.failures:
            notes.append(f"{window.failures} requests got no answer")
        if window.share(window.server_wait_s) > 0.1:
            notes.append("the server waited for its CPU > 10% of the window: other processes compete for it")
        if window.share(window.client_cpu_s) > 0.9:
            notes.append("the load generator used > 90% of its CPU: the server may do more than measured")
        return Row(scenario, window, notes)

    async def prime_check(
        self, session: aiohttp.ClientSession, server: Server, scenario: Scenario
    ) -> tuple[str, Callable[[int], bytes], list[str]]:
        """Judge each pair once (the misses), so that every counted request is a hit."""
        pairs = quote_pairs(self.post_text(scenario), self.urls(scenario), PAIRS_PER_URL)
        bodies = [json.dumps({"quote": q, "url": u}, ensure_ascii=False).encode() for q, u in pairs]
        statuses = []
        for payload in bodies:
            async with session.post(f"{server.base}/v1/check", data=payload, headers=JSON_HEADERS) as resp:
                answer = await resp.json()
                statuses.append(f"{resp.status} {answer.get('status')}")
        note = (
            f"{len(bodies)} distinct (quote, url) pairs, each judged once before the clock "
            f"({', '.join(sorted(set(statuses)))}), then sent round-robin: cache lookups, not judging"
        )
        return f"{server.base}/v1/check", lambda n: bodies[n % len(bodies)], [note]

    async def prime_verify(
        self, session: aiohttp.ClientSession, server: Server, scenario: Scenario
    ) -> tuple[str, Callable[[int], bytes], list[str]]:
        """The first verification reads the cited pages; the counted ones find them cached."""
        text = self.post_text(scenario)

        def body(n: int) -> bytes:
            return json.dumps({"id": f"bench-{n}", "text": text, "posted_at": POSTED_AT}).encode()

        began = time.perf_counter()
        async with session.post(f"{server.base}/v1/verify", data=body(-1), headers=JSON_HEADERS) as resp:
            report = await resp.json()
            status = resp.status
        cold_ms = 1000 * (time.perf_counter() - began)
        quotes = Counter(q["status"] for q in report.get("quotes", ()))
        note = (
            f"first (cold) request {cold_ms:.0f} ms, {status} {report.get('verdict')} "
            f"{dict(quotes)}; every later one finds both pages in the source cache: "
            "parsing, judging and the report, no fetch or extraction"
        )
        return f"{server.base}/v1/verify", body, [note]

    async def cache_counts(self, session: aiohttp.ClientSession, server: Server) -> str:
        async with session.get(f"{server.base}/metrics") as resp:
            text = await resp.text()
        counts = {k: float(v) for k, v in _CACHE_COUNTER.findall(text)}
        hits, misses = counts.get("hit", 0.0), counts.get("miss", 0.0)
        return f"server cache counters over the whole row: {hits:.0f} hits, {misses:.0f} misses"

    @staticmethod
    def sse_note(stats: SseStats, window: Window, clients: int) -> str:
        def inside(times: list[float]) -> int:
            return sum(1 for t in times if window.t0 <= t <= window.t1)

        return (
            f"SSE: at least {stats.min_open(window.t0, window.t1)} of {clients} streams open through the "
            f"window; in it {inside(stats.keepalives)} keep-alives received (one per stream "
            f"{KEEPALIVE_S:.0f} s after its last event) and {inside(stats.restarts)} streams restarted "
            f"(their job gave up after {JOB_GIVES_UP_S:.0f} s); {stats.failures} client errors"
        )


# -- report ---------------------------------------------------------------------------------------


def print_table(rows: list[Row]) -> None:
    """The figures, then what each row measured. CPU and wait are shares of the window: the server's
    CPU time (with its extraction workers), and the time its event loop was ready but waited for a CPU
    another process held (the load generator's likewise); µs/req is server CPU per counted request."""
    head = (
        f"{'server':<7} {'scenario':<19} {'requests':>8} {'errors':>6} {'req/s':>7} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'srv CPU':>7} {'wait':>5} {'µs/req':>6} {'cli CPU':>7} {'wait':>5}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        w = r.window
        print(
            f"{r.scenario.server:<7} {r.scenario.label:<19} {w.requests:>8} {w.errors:>6} {r.rps:>7.0f} "
            f"{w.pct_ms(0.5):>7.1f} {w.pct_ms(0.99):>7.1f} {w.share(w.server_cpu_s):>7.0%} "
            f"{w.share(w.server_wait_s):>5.0%} {1e6 * w.server_cpu_s / max(1, w.requests):>6.0f} "
            f"{w.share(w.client_cpu_s):>7.0%} {w.share(w.client_wait_s):>5.0%}"
        )
    print()
    for r in rows:
        for note in r.notes:
            print(f"{r.scenario.server} {r.scenario.label}: {note}")


def print_ratios(rows: list[Row]) -> None:
    by = {(r.scenario.server, r.scenario.kind, bool(r.scenario.sse)): r for r in rows}
    for kind in ("check", "verify"):
        base, sse = by.get(("live", kind, False)), by.get(("live", kind, True))
        if base and sse:
            print(
                f"ratio {kind} with/without {sse.scenario.sse} SSE (live server): req/s "
                f"{sse.rps / base.rps:.2f}, p99 {sse.window.pct_ms(0.99) / base.window.pct_ms(0.99):.2f}"
            )
        replay = by.get(("replay", kind, False))
        if base and replay:
            print(f"ratio {kind} live/replay server (no SSE): req/s {base.rps / replay.rps:.2f}")


def goal(rows: list[Row]) -> bool:
    met = True
    for r in rows:
        if r.scenario.kind != "check":
            continue
        ok = r.rps >= GOAL_RPS and r.window.pct_ms(0.99) < GOAL_P99_MS and r.window.errors == 0
        met = met and ok
        print(
            f"goal /v1/check cache hits >= {GOAL_RPS:.0f} req/s with p99 < {GOAL_P99_MS:.0f} ms "
            f"({r.scenario.server}, {r.scenario.label}): {'met' if ok else 'NOT met'} "
            f"({r.rps:.0f} req/s, p99 {r.window.pct_ms(0.99):.1f} ms)"
        )
    return met


def pin(no_pin: bool) -> tuple[set[int] | None, str]:
    """One CPU for the server, another for this process, when there are two."""
    if no_pin or not hasattr(os, "sched_setaffinity"):
        return None, "not pinned"
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, "not pinned (one CPU)"
    os.sched_setaffinity(0, {cpus[1]})
    return {cpus[0]}, f"server on CPU {cpus[0]}, load generator on CPU {cpus[1]}"


async def run(args: argparse.Namespace, work: Path) -> int:
    server_cpus, pinning = pin(args.no_pin)
    pages = read_captures(SEED_WARC)
    bench = Bench(args, work, SEED_POST.read_text("utf-8"), pages, server_cpus)
    kinds = [args.only] if args.only else ["check", "verify"]
    scenarios = [Scenario("replay", kind, 0) for kind in kinds]
    if args.sse_clients:
        scenarios += [Scenario("live", kind, n) for kind in kinds for n in (0, args.sse_clients)]
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    print(
        f"provenance API on loopback: {args.concurrency} workers, {args.warmup:g} s warm-up then "
        f"{args.seconds:g} s per row, a fresh server per row; {pinning}; load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start"
    )
    print(f"server environment: {' '.join(f'{k}={v}' for k, v in SERVER_ENV.items())}, --archive none\n")
    rows: list[Row] = []
    if args.sse_clients:
        bench.origin = Origin(pages)
        await bench.origin.start(args.sse_clients)
    try:
        for scenario in scenarios:
            rows.append(await bench.run(scenario))
            print(f"  done: {scenario.server} {scenario.label}", file=sys.stderr)
    except RuntimeError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if bench.origin is not None:
            await bench.origin.close()
    print_table(rows)
    print()
    print_ratios(rows)
    return 0 if goal(rows) else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--concurrency", type=int, default=32, help="load workers (one connection each)")
    ap.add_argument("--seconds", type=float, default=10.0, help="counted seconds per scenario")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds of load before counting")
    ap.add_argument("--sse-clients", type=int, default=50, help="event streams held open (0: no SSE rows)")
    ap.add_argument(
        "--sse-ramp",
        type=float,
        default=JOB_GIVES_UP_S,
        help="seconds over which the SSE clients start (their jobs give up after 20 s)",
    )
    ap.add_argument("--only", choices=("check", "verify"), help="run the rows of one endpoint only")
    ap.add_argument("--no-pin", action="store_true", help="do not pin the server and the client to CPUs")
    ap.add_argument("--py-spy", type=Path, metavar="DIR", help="record a py-spy profile of each window here")
    ap.add_argument("--py-spy-format", choices=("flamegraph", "speedscope", "raw"), default="flamegraph")
    ap.add_argument("--keep", type=Path, help="keep the servers' data and stderr here instead of a temp dir")
    args = ap.parse_args(argv)
    if args.concurrency < 1 or args.seconds <= 0 or args.warmup < 0 or args.sse_clients < 0:
        ap.error("--concurrency and --seconds must be positive, --warmup and --sse-clients not negative")
    with tempfile.TemporaryDirectory(prefix="provenance-bench-api-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        return asyncio.run(run(args, work))


if __name__ == "__main__":
    sys.exit(main())
