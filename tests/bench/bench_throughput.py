#!/usr/bin/env python3
"""Throughput and memory benchmark of `provenance batch` against bare trafilatura.

usage:
  python tests/bench/bench_throughput.py --corpus ../shared/corpus [--pages 169 --urls-per-page 3]
  python tests/bench/bench_throughput.py --corpus ../shared/corpus --memory-posts 10000

Throughput mode serves every corpus page under several URLs (the manifest URL plus
https://mirrorN.example/<id>) from one WARC. By default every served body is distinct (a comment
with its own number is appended to each copy), which is what users meet: the extraction cache
cannot skip any of them. ``--repeated`` serves the same bytes under every URL instead (what the
cache is for). On the same bodies, in one run, it measures
(a) bare ``trafilatura.extract`` (its defaults) once per body, in this process;
(p) a naive ``multiprocessing.Pool(2).map(trafilatura.extract)`` over the bodies;
(b) one ``provenance batch posts.jsonl -o out.jsonl --replay pages.warc.gz --data-dir TMP/data``
    subprocess (wall clock, peak RSS, CPU of its main process and of its extraction workers apart;
    a fresh data dir, so no cache of an earlier run helps).
ratio = time(a or p) / time(b): above 1 means the batch beat it. ``--rounds N`` takes the three
measurements N times, in an order that turns each round, and reports the median of each round's
ratios: on a shared machine whose speed drifts by a tenth or more, one round's ratio is noise.

Memory mode runs a batch of many small posts citing a few pages and prints its peak RSS; the exit
status is 1 when it is over --rss-target-mb (300). Exits 0 with a message when the corpus is absent.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

CHARSET_RE = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.I)
CAPTURED = "2019-11-20T00:00:00Z"


@dataclass(frozen=True)
class BenchPage:
    """One corpus page: id, URL, raw bytes, declared charset and a quotable paragraph."""

    id: str
    url: str
    raw: bytes
    charset: str | None
    paragraphs: tuple[str, ...]


def load_pages(corpus: Path, limit: int) -> list[BenchPage]:
    """The first `limit` manifest pages."""
    out: list[BenchPage] = []
    with (corpus / "manifest.jsonl").open(encoding="utf-8") as f:
        for line in f:
            if len(out) >= limit:
                break
            m = json.loads(line)
            raw = gzip.decompress((corpus / m["html"]).read_bytes())
            cs = CHARSET_RE.search(raw)
            paras = tuple(p.strip() for p in m["body"].split("\n") if len(p.split()) >= 12)
            out.append(
                BenchPage(
                    m["id"],
                    m["url"],
                    raw,
                    cs.group(1).decode().lower() if cs else None,
                    paras or (m["body"][:400],),
                )
            )
    return out


def served_bodies(served: list[tuple[str, BenchPage]], *, distinct: bool) -> list[bytes]:
    """The body each served URL answers with: its own (a numbered comment appended) or the page's."""
    return [p.raw + f"<!-- copy {n} -->".encode() if distinct else p.raw for n, (_u, p) in enumerate(served)]


def write_warc(path: Path, served: list[tuple[str, BenchPage]], bodies: list[bytes] | None = None) -> None:
    """One request/response pair per (URL, page); ``bodies`` replace the pages' own bytes."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with path.open("wb") as f:
        w = WARCWriter(f, gzip=True, warc_version="1.1")
        for n, (url, p) in enumerate(served):
            raw = bodies[n] if bodies is not None else p.raw
            ctype = f"text/html; charset={p.charset}" if p.charset else "text/html"
            http = StatusAndHeaders(
                "200 OK", [("Content-Type", ctype), ("Content-Length", str(len(raw)))], protocol="HTTP/1.1"
            )
            resp = w.create_warc_record(
                url,
                "response",
                payload=io.BytesIO(raw),
                length=len(raw),
                http_headers=http,
                warc_headers_dict={"WARC-Date": CAPTURED},
            )
            u = urlsplit(url)
            req_http = StatusAndHeaders(
                f"GET {u.path or '/'}{'?' + u.query if u.query else ''} HTTP/1.1",
                [("Host", u.netloc)],
                is_http_request=True,
            )
            req = w.create_warc_record(
                url,
                "request",
                http_headers=req_http,
                warc_headers_dict={
                    "WARC-Date": CAPTURED,
                    "WARC-Concurrent-To": resp.rec_headers.get_header("WARC-Record-ID"),
                },
            )
            w.write_record(resp)
            w.write_record(req)


def quote_of(p: BenchPage, rng: random.Random, max_words: int = 40) -> str:
    """A copied stretch of a body paragraph (the body's own spacing; the bench does not score)."""
    words = rng.choice(p.paragraphs).split()
    return " ".join(words[:max_words])


def write_posts(path: Path, items: list[list[tuple[str, BenchPage]]], rng: random.Random) -> None:
    """Board-style posts: each quote above the URL it comes from."""
    with path.open("w", encoding="utf-8") as f:
        for i, cites in enumerate(items):
            text = "\n\n".join(f"{quote_of(p, rng)}\n\n{url}" for url, p in cites) + "\n"
            f.write(
                json.dumps(
                    {"id": f"bench-{i}", "text": text, "format": "text", "posted_at": "2020-01-01T00:00:00Z"}
                )
                + "\n"
            )


def write_figures(path: Path | None, **figures: object) -> None:
    """The run's figures as JSON, for ``perf_table.py`` (nothing without ``--json``)."""
    if path is not None:
        path.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")


def provenance_cmd(override: str | None) -> list[str]:
    """How to run the CLI: --provenance, the venv's console script, PATH, or python -m service."""
    if override:
        return override.split()
    local = Path(sys.executable).parent / "provenance"
    if local.exists():
        return [str(local)]
    found = shutil.which("provenance")
    return [found] if found else [sys.executable, "-m", "service"]


def batch_cmd(override: str | None, work: Path) -> list[str]:
    """`provenance batch` over the posts and WARC written in `work`."""
    io_args = [
        str(work / "posts.jsonl"),
        "-o",
        str(work / "out.jsonl"),
        "--replay",
        str(work / "pages.warc.gz"),
    ]
    return [*provenance_cmd(override), "batch", *io_args, "--data-dir", str(work / "data")]


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _tree_rss_kb(pid: int, cpu: dict[int, float] | None = None) -> int:
    """Resident set of a process and its descendants, from /proc (0 where unreadable); ``cpu``
    gets each one's own CPU seconds so far (extraction workers may be the children of a fork
    server that outlives the process: wait4 would not count them)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            m = re.search(r"^VmRSS:\s+(\d+)", status, re.M)
            total += int(m.group(1)) if m else 0
            if cpu is not None:
                fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
                cpu[p] = max(cpu.get(p, 0.0), (int(fields[11]) + int(fields[12])) / _TICK)
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total


@dataclass(frozen=True)
class Run:
    """What one measured subprocess did."""

    seconds: float
    returncode: int
    maxrss_mb: float  # largest single process (wait4 rusage)
    tree_peak_mb: float  # largest sampled sum over the process tree (0 without /proc)
    stderr_tail: str
    cpu_s: float = 0.0  # the whole tree's CPU: the main process's and its descendants'
    workers_cpu_s: float = 0.0  # the descendants' own CPU, last sampled (a floor)


def run_measured(cmd: list[str], workdir: Path) -> Run:
    """Run a command, wall-clock it and record its peak memory."""
    err_path = workdir / "stderr.txt"
    with err_path.open("wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
        peak = [0]
        done = threading.Event()
        children: dict[int, float] = {}

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], _tree_rss_kb(proc.pid, children))
                done.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    tail = err_path.read_text(errors="replace")[-2000:]
    main_cpu = max(children.pop(proc.pid, 0.0), usage.ru_utime + usage.ru_stime - sum(children.values()))
    cpu = main_cpu + sum(children.values())
    return Run(
        seconds, proc.returncode, usage.ru_maxrss / 1024, peak[0] / 1024, tail, cpu, sum(children.values())
    )


def bench_trafilatura(bodies: list[bytes]) -> tuple[float, float]:
    """Seconds and CPU seconds of bare trafilatura.extract (defaults) over the bodies, in this process."""
    import trafilatura

    trafilatura.extract(bodies[0])  # first-call set-up out of the timing
    t0, c0 = time.perf_counter(), time.process_time()
    for body in bodies:
        trafilatura.extract(body)
    return time.perf_counter() - t0, time.process_time() - c0


def _extract_one(body: bytes) -> str | None:
    import trafilatura

    return trafilatura.extract(body)


def bench_naive_pool(bodies: list[bytes], workers: int) -> float:
    """Seconds for a naive ``multiprocessing.Pool(workers).map(trafilatura.extract)``, start-up included."""
    import multiprocessing

    t0 = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.map(_extract_one, bodies, chunksize=1)
    return time.perf_counter() - t0


def _summarise_reports(out: Path, expected: int) -> str:
    if not out.exists():
        return "no output file"
    verdicts: dict[str, int] = {}
    n = 0
    for line in out.open(encoding="utf-8"):
        if line.strip():
            n += 1
            v = str(json.loads(line).get("verdict"))
            verdicts[v] = verdicts.get(v, 0) + 1
    return f"{n}/{expected} reports, verdicts " + ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items()))


@dataclass(frozen=True)
class Round:
    """One round's three measurements, taken back to back on the same bodies."""

    bare_s: float
    bare_cpu_s: float
    pool_s: float
    batch: Run

    @property
    def ratio_bare(self) -> float:
        return self.bare_s / self.batch.seconds

    @property
    def ratio_pool(self) -> float:
        return self.pool_s / self.batch.seconds


def measure_round(index: int, bodies: list[bytes], cmd: list[str], work: Path, pool_workers: int) -> Round:
    """(a), (p) and (b) once each, in an order that turns with ``index`` (a machine that slows
    down or speeds up during a run then favours no side), the batch from a fresh start."""
    bare: tuple[float, float] | None = None
    pool_s: float | None = None
    batch: Run | None = None
    steps = ["bare", "pool", "batch"]
    for step in steps[index % 3 :] + steps[: index % 3]:
        if step == "bare":
            bare = bench_trafilatura(bodies)
        elif step == "pool":
            pool_s = bench_naive_pool(bodies, pool_workers)
        else:
            shutil.rmtree(work / "data", ignore_errors=True)  # no cache of an earlier round
            (work / "out.jsonl").unlink(missing_ok=True)  # nor a report file to resume from
            batch = run_measured(cmd, work)
    assert bare is not None
    assert pool_s is not None
    assert batch is not None
    return Round(bare[0], bare[1], pool_s, batch)


def throughput(args: argparse.Namespace, pages: list[BenchPage], work: Path) -> int:
    """Modes (a), (p) and (b) over pages x urls-per-page fetch keys, on the same bodies, ``--rounds``
    times; each round's ratios compare measurements taken minutes apart at most, and the figures
    reported are the medians over the rounds (a shared machine's speed drifts by a tenth or more)."""
    rng = random.Random(1)
    served = [
        (p.url if k == 0 else f"https://mirror{k}.example/{p.id}", p)
        for p in pages
        for k in range(args.urls_per_page)
    ]
    bodies = served_bodies(served, distinct=not args.repeated)
    write_warc(work / "pages.warc.gz", served, bodies)
    write_posts(work / "posts.jsonl", [[s] for s in served], rng)
    n = len(served)
    kind = "the same bytes under every URL" if args.repeated else "every body distinct"
    print(f"{len(pages)} pages x {args.urls_per_page} URLs = {n} fetch keys, {n} posts, {kind}")
    cmd = batch_cmd(args.provenance, work)
    rounds: list[Round] = []
    for index in range(args.rounds):
        r = measure_round(index, bodies, cmd, work, args.pool_workers)
        rounds.append(r)
        b = r.batch
        print(f"round {index + 1}/{args.rounds}:")
        print(
            f"  (a) trafilatura.extract, one process: {r.bare_s:.2f} s, {n / r.bare_s:.1f} pages/s,"
            f" {1000 * r.bare_cpu_s / n:.1f} CPU ms/page"
        )
        print(
            f"  (p) multiprocessing.Pool({args.pool_workers}).map(trafilatura.extract): {r.pool_s:.2f} s,"
            f" {n / r.pool_s:.1f} pages/s"
        )
        print(
            f"  (b) provenance batch: {b.seconds:.2f} s, {n / b.seconds:.1f} pages/s, exit {b.returncode},"
            f" peak RSS {b.maxrss_mb:.0f} MB (largest process),"
            f" {b.tree_peak_mb:.0f} MB (process tree, sampled)"
        )
        print(
            f"      CPU {1000 * b.cpu_s / n:.1f} ms/page:"
            f" main process {1000 * (b.cpu_s - b.workers_cpu_s) / n:.1f},"
            f" extraction workers {1000 * b.workers_cpu_s / n:.1f}"
        )
        print(f"      {_summarise_reports(work / 'out.jsonl', n)}")
        print(f"  ratios: (a)/(b) = {r.ratio_bare:.2f}, (p)/(b) = {r.ratio_pool:.2f}")
        if b.returncode != 0:
            print("provenance batch failed:\n" + b.stderr_tail, file=sys.stderr)
            return 1

    def med(values: list[float]) -> float:
        return statistics.median(values)

    ratio_bare, ratio_pool = med([r.ratio_bare for r in rounds]), med([r.ratio_pool for r in rounds])
    print(f"median of {len(rounds)} round(s):")
    print(f"ratio (a)/(b) = {ratio_bare:.2f}  (> 1: the batch is faster than bare extraction; goal 1.8)")
    print(f"ratio (p)/(b) = {ratio_pool:.2f}  (> 1: the batch is faster than the naive pool; goal 1.0)")
    write_figures(
        args.json,
        mode="repeated" if args.repeated else "distinct",
        fetch_keys=n,
        rounds=len(rounds),
        bare_s=med([r.bare_s for r in rounds]),
        bare_cpu_ms=med([1000 * r.bare_cpu_s / n for r in rounds]),
        pool_s=med([r.pool_s for r in rounds]),
        batch_s=med([r.batch.seconds for r in rounds]),
        batch_cpu_ms=med([1000 * r.batch.cpu_s / n for r in rounds]),
        main_cpu_ms=med([1000 * (r.batch.cpu_s - r.batch.workers_cpu_s) / n for r in rounds]),
        workers_cpu_ms=med([1000 * r.batch.workers_cpu_s / n for r in rounds]),
        ratio_bare=ratio_bare,
        ratio_pool=ratio_pool,
        ratios_bare=[round(r.ratio_bare, 3) for r in rounds],
        ratios_pool=[round(r.ratio_pool, 3) for r in rounds],
        reports=_summarise_reports(work / "out.jsonl", n),
        exit=max(r.batch.returncode for r in rounds),
    )
    return 0


def memory(args: argparse.Namespace, pages: list[BenchPage], work: Path) -> int:
    """Mode: many small posts citing a few pages; peak RSS against the target."""
    rng = random.Random(2)
    few = pages[: args.memory_pages]
    served = [(p.url, p) for p in few]
    write_warc(work / "pages.warc.gz", served)
    items = [rng.sample(served, rng.randint(1, min(2, len(served)))) for _ in range(args.memory_posts)]
    write_posts(work / "posts.jsonl", items, rng)
    cmd = batch_cmd(args.provenance, work)
    r = run_measured(cmd, work)
    peak = max(r.maxrss_mb, r.tree_peak_mb)
    print(
        f"memory: {args.memory_posts} posts citing {len(few)} pages: {r.seconds:.2f} s "
        f"({args.memory_posts / r.seconds:.0f} posts/s), exit {r.returncode}"
    )
    print(f"    {_summarise_reports(work / 'out.jsonl', args.memory_posts)}")
    verdict = "OK" if peak < args.rss_target_mb else "OVER"
    write_figures(
        args.json, mode="memory", posts=args.memory_posts, seconds=r.seconds, peak_mb=peak, exit=r.returncode
    )
    print(
        f"peak RSS {peak:.0f} MB (largest process {r.maxrss_mb:.0f} MB,"
        f" process tree {r.tree_peak_mb:.0f} MB); target < {args.rss_target_mb} MB: {verdict}"
    )
    if r.returncode != 0:
        print("provenance batch failed:\n" + r.stderr_tail, file=sys.stderr)
        return 1
    return 0 if verdict == "OK" else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    ap.add_argument("--pages", type=int, default=169)
    ap.add_argument("--urls-per-page", type=int, default=4)
    ap.add_argument(
        "--repeated", action="store_true", help="the same bytes under every URL (the cache's case)"
    )
    ap.add_argument("--pool-workers", type=int, default=2)
    ap.add_argument(
        "--rounds", type=int, default=1, help="measure (a), (p) and (b) this many times; report the medians"
    )
    ap.add_argument("--memory-posts", type=int, default=0, help="run the memory mode with this many posts")
    ap.add_argument("--memory-pages", type=int, default=5)
    ap.add_argument("--rss-target-mb", type=float, default=300.0)
    ap.add_argument("--provenance", help="command to run instead of the installed `provenance`")
    ap.add_argument("--keep", type=Path, help="write the inputs and outputs here instead of a temp dir")
    ap.add_argument("--json", type=Path, help="also write the figures to this file (perf_table.py reads it)")
    args = ap.parse_args(argv)
    if not (args.corpus / "manifest.jsonl").is_file():
        print(f"corpus not found at {args.corpus}: benchmark skipped")
        return 0
    pages = load_pages(args.corpus, args.pages)
    with tempfile.TemporaryDirectory(prefix="provenance-bench-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.memory_posts:
            return memory(args, pages, work)
        return throughput(args, pages, work)


if __name__ == "__main__":
    sys.exit(main())
