"""Benchmark: bare ``trafilatura.extract`` in one process vs ExtractorPool over the corpus pages.

A script, not a test: ``/work/venv/bin/python tests/bench/bench_extract.py [--rounds N] [--workers N]``.
Prints pages/s for both, their ratio, and peak RSS of this process and of its worker children.
Exits 0 with a note when the corpus (/work/shared/corpus) is absent.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import logging
import resource
import sys
import time
from pathlib import Path

import trafilatura

from service.pipeline.extract.pool import ExtractorPool, extract_article
from service.settings import ExtractSettings

CORPUS = Path("/work/shared/corpus")


def load_pages() -> list[tuple[str, bytes]]:
    rows = [json.loads(line) for line in (CORPUS / "manifest.jsonl").read_text().splitlines() if line]
    return [(row["url"], gzip.decompress((CORPUS / row["html"]).read_bytes())) for row in rows]


def cpu_s(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def bench_bare(pages: list[tuple[str, bytes]], rounds: int) -> tuple[float, float]:
    """Pages/s and CPU ms/page of bare trafilatura.extract in this process."""
    start, cpu = time.perf_counter(), cpu_s(resource.RUSAGE_SELF)
    for _ in range(rounds):
        for _url, body in pages:
            trafilatura.extract(body, include_comments=False, deduplicate=False)
    n = rounds * len(pages)
    return n / (time.perf_counter() - start), 1000 * (cpu_s(resource.RUSAGE_SELF) - cpu) / n


def bench_inline(pages: list[tuple[str, bytes]], rounds: int) -> tuple[float, float]:
    """Pages/s and CPU ms/page of extract_article (main text, page text, metadata) in this process."""
    start, cpu = time.perf_counter(), cpu_s(resource.RUSAGE_SELF)
    for _ in range(rounds):
        for url, body in pages:
            extract_article(body, url=url)
    n = rounds * len(pages)
    return n / (time.perf_counter() - start), 1000 * (cpu_s(resource.RUSAGE_SELF) - cpu) / n


async def bench_pool(pages: list[tuple[str, bytes]], rounds: int, workers: int) -> tuple[float, float]:
    """Pages/s through the pool (cache defeated by a per-round suffix), and the spawn+warm-up time."""
    start = time.perf_counter()
    async with ExtractorPool(ExtractSettings(workers=workers), cache_size=1) as pool:
        warm = time.perf_counter() - start
        start = time.perf_counter()
        for r in range(rounds):
            suffix = f"<!-- round {r} -->".encode()
            await asyncio.gather(*(pool.extract(body + suffix, url=url) for url, body in pages))
        elapsed = time.perf_counter() - start
    return rounds * len(pages) / elapsed, warm


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=ExtractSettings().workers)
    args = parser.parse_args()
    if not (CORPUS / "manifest.jsonl").exists():
        print(f"corpus not found at {CORPUS}: nothing to benchmark")
        return 0
    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    pages = load_pages()
    total_mb = sum(len(body) for _, body in pages) / 1e6
    print(f"{len(pages)} pages, {total_mb:.1f} MB of HTML, {args.rounds} rounds, {args.workers} workers")

    bench_bare(pages[:5], 1)  # imports and first-call setup out of the timing
    bare, bare_cpu = bench_bare(pages, args.rounds)
    print(f"bare trafilatura.extract, 1 process: {bare:7.1f} pages/s, {bare_cpu:5.1f} CPU ms/page")
    inline, inline_cpu = bench_inline(pages, args.rounds)
    print(
        f"extract_article inline, 1 process:   {inline:7.1f} pages/s, {inline_cpu:5.1f} CPU ms/page"
        f"  ({inline / bare:.2f}x bare)"
    )
    rss_parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    children_cpu = cpu_s(resource.RUSAGE_CHILDREN)
    pooled, warm = asyncio.run(bench_pool(pages, args.rounds, args.workers))
    pool_cpu = 1000 * (cpu_s(resource.RUSAGE_CHILDREN) - children_cpu) / (args.rounds * len(pages))
    print(
        f"ExtractorPool({args.workers} workers):          {pooled:7.1f} pages/s, {pool_cpu:5.1f} CPU ms/page"
        f" in workers  ({pooled / bare:.2f}x bare)"
    )
    print(f"pool start-up (spawn + import + warm-up): {warm:.2f} s")
    rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: this process {rss_parent:.0f} MiB, largest worker {rss_children:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
