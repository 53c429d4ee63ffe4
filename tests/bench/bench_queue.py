#!/usr/bin/env python3
"""The queue against the in-process batch, on the same posts and the same live origin, in one run.

usage:
  python tests/bench/bench_queue.py --corpus ../shared/corpus [--posts 1000 --pages 60 --workers 2]
         [--redis redis://127.0.0.1:6379/0] [--kill]

A local aiohttp origin on loopback serves ``--pages`` distinct corpus pages (each under its own
path, so every fetch key has its own bytes) and counts every request. ``--posts`` board-style
posts quote 1 to 3 of those pages each. Then, each run with a fresh data dir and a fresh Redis
prefix:

(a) ``provenance batch posts.jsonl -o a.jsonl`` in one process (the embedded default);
(b) ``provenance batch posts.jsonl -o b.jsonl --redis URL`` with ``--workers`` ``provenance worker
    --burst`` processes started at the same moment (their start-up counted);
(w) the same with the workers already running and waiting, as in a deployment;
(c) with ``--kill``: (w) again, with one worker SIGKILLed once a third of the reports are in;
    the surviving worker takes the dead one's jobs over after the lease (PROVENANCE_LEASE=5).
Each worker gets 2 / ``--workers`` extraction processes (PROVENANCE_EXTRACT_WORKERS), so the
machine runs as many as the in-process batch; times are the batch client's wall clock.

For each run: posts/s, origin requests (page fetches and soft-404 probes), and checks of the
output (every report once, in input order). ratio = rate(b or w)/rate(a): the issue's goal is >= 0.9.
Exits 0 with a message when the corpus is absent.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parents[2]


def load_pages(corpus: Path, limit: int) -> list[tuple[str, bytes, list[str]]]:
    """(id, raw html, quotable paragraphs) of the first ``limit`` manifest pages."""
    pages: list[tuple[str, bytes, list[str]]] = []
    with (corpus / "manifest.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if len(pages) >= limit:
                break
            item = json.loads(line)
            paragraphs = [p.strip() for p in item["body"].split("\n") if len(p.split()) >= 12]
            if paragraphs:
                pages.append(
                    (item["id"][:16], gzip.decompress((corpus / item["html"]).read_bytes()), paragraphs)
                )
    return pages


class Origin:
    """The pages on loopback; ``hits`` counts requests by path."""

    def __init__(self, pages: list[tuple[str, bytes, list[str]]]) -> None:
        self.pages = {pid: raw for pid, raw, _ in pages}
        self.hits: Counter[str] = Counter()
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _page(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        body = self.pages.get(request.match_info["pid"])
        if body is None:
            return web.Response(status=404, text="<html><title>Not found</title>no such page</html>",
                                content_type="text/html")  # fmt: skip
        return web.Response(body=body, content_type="text/html", charset="utf-8")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/a/{pid}", self._page)
        app.router.add_get("/{tail:.*}", self._other)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _other(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        return web.Response(status=404, text="<html><title>Not found</title>nothing here</html>",
                            content_type="text/html")  # fmt: skip

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, pid: str) -> str:
        return f"http://127.0.0.1:{self.port}/a/{pid}"


def write_posts(path: Path, pages: list[tuple[str, bytes, list[str]]], origin: Origin, count: int) -> None:
    rng = random.Random(7)
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            cited = rng.sample(pages, rng.randint(1, 3))
            parts = []
            for pid, _, paragraphs in cited:
                quote = " ".join(rng.choice(paragraphs).split()[:40])
                parts.append(f"> {quote}\n\n{origin.url(pid)}")
            handle.write(json.dumps({"id": f"q{i}", "text": "\n\n".join(parts), "format": "text"}) + "\n")


def check_output(out: Path, count: int) -> str:
    ids = [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]
    in_order = ids == [f"q{i}" for i in range(count)]
    dupes = len(ids) - len(set(ids))
    return f"{len(ids)}/{count} reports, in input order: {in_order}, duplicated: {dupes}"


def fetch_counts(origin: Origin) -> str:
    pages = [n for path, n in origin.hits.items() if path.startswith("/a/") and path[3:] in origin.pages]
    probes = sum(
        n for path, n in origin.hits.items() if not (path.startswith("/a/") and path[3:] in origin.pages)
    )
    twice = sum(1 for n in pages if n > 1)
    return (
        f"{sum(pages)} page requests for {len(pages)} pages ({twice} fetched more than once), {probes} probes"
    )


def cli() -> list[str]:
    local = Path(sys.executable).parent / "provenance"
    return [str(local)] if local.exists() else [sys.executable, "-m", "service"]


async def run_in_process(work: Path, posts: Path) -> float:
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *cli(), "batch", str(posts), "-o", str(work / "a.jsonl"), "--allow-private-addresses",
        "--data-dir", str(work / "a-data"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"in-process batch failed: {err.decode()[-2000:]}")
    return time.perf_counter() - started


async def _forget_prefix(redis_url: str, prefix: str) -> None:
    """Every key this run left (the stream, the fleet's cache) is deleted: the next run starts cold."""
    from service.pipeline.streams import connect

    client = connect(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def _wait_for_heartbeats(redis_url: str, prefix: str, count: int) -> None:
    from service.pipeline.streams import RedisNames, connect

    client = connect(redis_url)
    try:
        for _ in range(600):
            beats = [key async for key in client.scan_iter(match=RedisNames(prefix).workers)]
            if len(beats) >= count:
                return
            await asyncio.sleep(0.05)
        raise SystemExit("workers did not start")
    finally:
        await client.aclose()


async def run_queued(
    work: Path, posts: Path, redis: str, workers: int, *, kill: bool, warm: bool, tag: str
) -> tuple[float, str]:
    """The batch through ``workers`` worker processes, each with one extraction process (so the
    machine runs as many extraction processes as the in-process batch does). ``warm``: workers
    already running and waiting when the batch starts (a deployment); else started with it."""
    prefix = f"bench-{secrets.token_hex(4)}"
    env = {**os.environ, "PROVENANCE_REDIS_PREFIX": prefix, "PROVENANCE_LEASE": "5",
           "PROVENANCE_EXTRACT_WORKERS": str(max(1, 2 // workers))}  # fmt: skip
    out = work / f"{tag}.jsonl"
    logs = [(work / f"{tag}-w{i}.log").open("wb") for i in range(workers)]  # a pipe could fill up
    worker_args = ["worker", "--redis", redis, "--allow-private-addresses",
                   "--data-dir", str(work / f"{tag}-data"), "--log-level", "warning"]  # fmt: skip
    if not warm:
        worker_args.append("--burst")
    procs = [
        await asyncio.create_subprocess_exec(
            *cli(), *worker_args, "--name", f"{tag}-w{i}", env=env, stdout=subprocess.DEVNULL, stderr=logs[i]
        )
        for i in range(workers)
    ]
    if warm:
        await _wait_for_heartbeats(redis, prefix, workers)
    started = time.perf_counter()
    client = await asyncio.create_subprocess_exec(
        *cli(), "batch", str(posts), "-o", str(out), "--redis", redis,
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    note = ""
    if kill:
        total = sum(1 for _ in posts.open())
        while client.returncode is None:
            await asyncio.sleep(0.05)
            written = out.read_bytes().count(b"\n") if out.exists() else 0
            if written >= total // 3:
                procs[0].send_signal(signal.SIGKILL)
                note = f"worker 0 SIGKILLed after {written} reports; "
                break
    _, err = await client.communicate()
    seconds = time.perf_counter() - started
    if client.returncode != 0:
        raise SystemExit(f"queued batch failed: {err.decode()[-2000:]}")
    if warm:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
    reclaimed = []
    for i, proc in enumerate(procs):
        await proc.wait()
        logs[i].close()
        text = (work / f"{tag}-w{i}.log").read_text(errors="replace")
        reclaimed += [line for line in text.splitlines() if "reclaimed" in line and "worker " in line]
    await _forget_prefix(redis, prefix)
    return seconds, note + "; ".join(reclaimed)


async def main_async(args: argparse.Namespace) -> int:
    pages = load_pages(args.corpus, args.pages)
    origin = Origin(pages)
    await origin.start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-queue-") as tmp:
            work = Path(tmp)
            posts = work / "posts.jsonl"
            write_posts(posts, pages, origin, args.posts)
            print(f"{args.posts} posts citing {len(pages)} distinct pages on one loopback origin")
            a = await run_in_process(work, posts)
            print(f"(a) in-process batch: {a:.2f} s, {args.posts / a:.1f} posts/s; {fetch_counts(origin)}")
            print(f"    {check_output(work / 'a.jsonl', args.posts)}")
            for warm, tag, label in ((False, "b", "workers started with the batch"),
                                     (True, "w", "workers already running")):  # fmt: skip
                origin.hits.clear()
                b, _ = await run_queued(work, posts, args.redis, args.workers, kill=False, warm=warm, tag=tag)
                rate = f"{b:.2f} s, {args.posts / b:.1f} posts/s"
                print(f"({tag}) queue, {args.workers} workers, {label}: {rate}; {fetch_counts(origin)}")
                print(f"    {check_output(work / f'{tag}.jsonl', args.posts)}")
                print(f"    ratio ({tag})/(a) = {a / b:.2f}  (>= 0.9: the queue itself costs little)")
            if args.kill:
                origin.hits.clear()
                c, note = await run_queued(
                    work, posts, args.redis, args.workers, kill=True, warm=True, tag="c"
                )
                rate = f"{c:.2f} s, {args.posts / c:.1f} posts/s"
                print(f"(c) queue, one worker killed: {rate}; {fetch_counts(origin)}")
                print(f"    {note}")
                print(f"    {check_output(work / 'c.jsonl', args.posts)}")
    finally:
        await origin.stop()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--kill", action="store_true", help="also run (c): one worker SIGKILLed part-way")
    args = parser.parse_args()
    if not (args.corpus / "manifest.jsonl").exists():
        print(f"no corpus at {args.corpus}: nothing to measure")
        return 0
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
