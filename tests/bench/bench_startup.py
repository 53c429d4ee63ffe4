#!/usr/bin/env python3
"""Start-up and one-post latency: what a person at a terminal (or an API caller) waits for.

usage:
  python tests/bench/bench_startup.py --corpus ../shared/corpus [--runs 3]

A loopback origin (aiohttp, in a thread of this process) serves corpus pages, each under its own
path, with no delay (``/fast/``) or 200 ms before every answer (``/slow/``). Each row is a fresh
``provenance`` subprocess; the best and the median of ``--runs`` runs are printed:

- ``provenance --help`` and an argument error (goal: under 0.3 s);
- ``verify`` of a post quoting 1 page on the fast origin (goal: under 0.8 s wall), with its CPU;
- ``verify`` of a post quoting 5 pages on the slow origin, against the slowest single
  fetch+extract of those pages (measured in this process: an HTTP GET, then the product's
  ``extract_article``) plus the start-up (the 1-page row): the goal is within 1.5x of that.

Exits 0 with a message when the corpus is absent.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_throughput import BenchPage, load_pages, provenance_cmd, quote_of, write_figures

_DELAY_S = 0.2


class Origin:
    """Corpus pages on loopback, served from a thread; ``hits`` counts requests."""

    def __init__(self, pages: list[BenchPage]) -> None:
        self.pages = {p.id[:16]: p.raw for p in pages}
        self.hits = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    async def _page(self, request: web.Request) -> web.Response:
        self.hits += 1
        if request.match_info["speed"] == "slow":
            await asyncio.sleep(_DELAY_S)
        body = self.pages.get(request.match_info["pid"])
        if body is None:
            return web.Response(
                status=404, text="<html><title>Not found</title>no</html>", content_type="text/html"
            )
        return web.Response(body=body, content_type="text/html", charset="utf-8")

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/{speed}/{pid}", self._page)
        app.router.add_get("/{tail:.*}", self._missing)
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = runner.addresses[0][1]
        self._ready.set()
        self._loop.run_forever()

    async def _missing(self, request: web.Request) -> web.Response:
        self.hits += 1
        return web.Response(
            status=404, text="<html><title>Not found</title>no</html>", content_type="text/html"
        )

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()

    def url(self, speed: str, page: BenchPage) -> str:
        return f"http://127.0.0.1:{self.port}/{speed}/{page.id[:16]}"


def timed(cmd: list[str], runs: int, ok: tuple[int, ...] = (0, 1)) -> tuple[float, float]:
    """Best and median wall seconds over ``runs``; a run exiting with another status stops the bench."""
    walls = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        walls.append(time.perf_counter() - t0)
        if proc.returncode not in ok:
            raise SystemExit(f"{' '.join(cmd)}: exit {proc.returncode}\n{proc.stderr.decode()[-2000:]}")
    return min(walls), statistics.median(walls)


def single_fetch_extract(urls: list[str]) -> float:
    """The slowest of one GET plus ``extract_article`` per URL, in this process (warm imports)."""
    import urllib.request

    from service.pipeline.extract.pool import extract_article

    extract_article(b"<html><body><p>warm</p></body></html>", url="http://127.0.0.1/")
    slowest = 0.0
    for url in urls:
        t0 = time.perf_counter()
        with urllib.request.urlopen(url) as answer:
            body = answer.read()
        extract_article(body, url=url)
        slowest = max(slowest, time.perf_counter() - t0)
    return slowest


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--provenance", help="command to run instead of the installed `provenance`")
    ap.add_argument("--json", type=Path, help="also write the figures to this file (perf_table.py reads it)")
    args = ap.parse_args(argv)
    if not (args.corpus / "manifest.jsonl").is_file():
        print(f"corpus not found at {args.corpus}: benchmark skipped")
        return 0
    import random

    rng = random.Random(3)
    pages = load_pages(args.corpus, 6)
    origin = Origin(pages)
    origin.start()
    cli = provenance_cmd(args.provenance)
    best, help_med = timed([*cli, "--help"], args.runs, ok=(0,))
    print(f"provenance --help: best {best:.2f} s, median {help_med:.2f} s (goal < 0.3 s)")
    best, usage_med = timed([*cli, "verify", "--no-such-option"], args.runs, ok=(2,))
    print(f"argument error: best {best:.2f} s, median {usage_med:.2f} s (goal < 0.3 s)")
    with tempfile.TemporaryDirectory(prefix="provenance-startup-") as tmp:
        work = Path(tmp)
        one = work / "one.txt"
        one.write_text(f"> {quote_of(pages[0], rng)}\n\n{origin.url('fast', pages[0])}\n", encoding="utf-8")
        five = work / "five.txt"
        slow = [origin.url("slow", p) for p in pages[1:6]]
        five.write_text(
            "\n\n".join(f"> {quote_of(p, rng)}\n\n{u}" for p, u in zip(pages[1:6], slow, strict=True)) + "\n",
            encoding="utf-8",
        )
        live = ["--allow-private-addresses", "--archive", "none", "--format", "json"]
        verify = [*cli, "verify", *live, "--data-dir", str(work / "data")]
        best1, med1 = timed([*verify, str(one)], args.runs)
        print(f"verify, 1 page on loopback: best {best1:.2f} s, median {med1:.2f} s wall (goal < 0.8 s)")
        best5, med5 = timed([*verify, str(five)], args.runs)
        single = single_fetch_extract(slow)
        target = single + med1
        print(
            f"verify, 5 pages on a {1000 * _DELAY_S:.0f} ms origin: best {best5:.2f} s,"
            f" median {med5:.2f} s wall; slowest single fetch+extract {single:.2f} s + start-up {med1:.2f} s"
            f" = {target:.2f} s; ratio {med5 / target:.2f} (goal <= 1.5)"
        )
    write_figures(
        args.json,
        help_s=help_med,
        usage_error_s=usage_med,
        verify1_s=med1,
        verify5_s=med5,
        single_fetch_extract_s=single,
        ratio5=med5 / target,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
