#!/usr/bin/env python3
"""Run the benchmarks of issue 11 once each and write README's performance table from their figures.

usage:
  python tests/bench/perf_table.py --corpus ../shared/corpus [--provenance CMD] [--write-readme]

Each line of the table is one goal: the figure this run measured, the baseline it is measured
against (in the same run), and whether the goal is met. Without ``--write-readme`` the table is
printed; with it, README.md's section between the ``perf-table`` markers is replaced. The figures
are one run's: walls on a shared 2-core machine move by a tenth or more from run to run, so README
says when and how they were taken.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
README = HERE.parent.parent / "README.md"
START, END = "<!-- perf-table:start -->", "<!-- perf-table:end -->"


@dataclass(frozen=True)
class Line:
    """One row: what is measured, its goal, the figure, the baseline, met or not."""

    what: str
    goal: str
    figure: str
    baseline: str
    met: bool


def run_bench(script: str, out: Path, args: list[str]) -> dict[str, object]:
    """Run one benchmark script with ``--json out``; its figures, or {} when it skipped."""
    cmd = [sys.executable, str(HERE / script), *args, "--json", str(out)]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=False)
    return json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}


def num(figures: dict[str, object], key: str) -> float:
    value = figures[key]
    assert isinstance(value, int | float), (key, value)
    return float(value)


def throughput_lines(f: dict[str, object]) -> list[Line]:
    n = f["fetch_keys"]
    bare = f"bare `trafilatura.extract`, one process: {f['bare_s']:.2f} s ({f['bare_cpu_ms']:.1f} CPU ms/pg)"
    return [
        Line(
            f"`batch --replay`, {n} distinct bodies, against bare trafilatura (wall, {_rounds(f)})",
            ">= 1.8x",
            f"{f['ratio_bare']:.2f}x ({f['batch_s']:.2f} s; {f['reports']})",
            bare,
            num(f, "ratio_bare") >= 1.8,
        ),
        Line(
            "same run, against a naive `multiprocessing.Pool(2).map(trafilatura.extract)` (wall)",
            ">= 1.0x",
            f"{f['ratio_pool']:.2f}x",
            f"the naive pool: {f['pool_s']:.2f} s",
            num(f, "ratio_pool") >= 1.0,
        ),
        Line(
            "same run, CPU per page: the batch's main process",
            "< 3 ms",
            f"{f['main_cpu_ms']:.1f} ms (workers {f['workers_cpu_ms']:.1f} ms)",
            f"bare trafilatura {f['bare_cpu_ms']:.1f} ms",
            num(f, "main_cpu_ms") < 3.0,
        ),
    ]


def _rounds(f: dict[str, object]) -> str:
    """How the throughput figure was taken: one round, or the median of each round's ratio."""
    rounds = int(num(f, "rounds")) if "rounds" in f else 1
    return "one round" if rounds == 1 else f"median of {rounds} rounds"


def repeated_lines(f: dict[str, object]) -> list[Line]:
    return [
        Line(
            f"`batch --replay`, {f['fetch_keys']} fetch keys serving the same bytes (the cache's case,"
            f" {_rounds(f)})",
            "(no goal)",
            f"{f['ratio_bare']:.2f}x bare trafilatura, {f['ratio_pool']:.2f}x the naive pool",
            f"bare: {f['bare_s']:.2f} s, pool: {f['pool_s']:.2f} s, batch: {f['batch_s']:.2f} s",
            True,
        )
    ]


def startup_lines(f: dict[str, object]) -> list[Line]:
    return [
        Line(
            "`provenance --help`, wall (median)",
            "< 0.3 s",
            f"{f['help_s']:.2f} s",
            "",
            num(f, "help_s") < 0.3,
        ),
        Line(
            "an argument error, wall (median)",
            "< 0.3 s",
            f"{f['usage_error_s']:.2f} s",
            "",
            num(f, "usage_error_s") < 0.3,
        ),
        Line(
            "1-page `verify` on a loopback origin, wall (median)",
            "< 0.8 s",
            f"{f['verify1_s']:.2f} s",
            "",
            num(f, "verify1_s") < 0.8,
        ),
        Line(
            "5-page post on a 200 ms origin / (slowest single fetch+extract + the 1-page start-up)",
            "<= 1.5x",
            f"{f['ratio5']:.2f}x ({f['verify5_s']:.2f} s)",
            f"single fetch+extract {f['single_fetch_extract_s']:.2f} s",
            num(f, "ratio5") <= 1.5,
        ),
    ]


def longpost_lines(f: dict[str, object]) -> list[Line]:
    rows = f.get("rows") or []
    assert isinstance(rows, list)
    if not rows or f.get("killed"):
        return [Line("150 cited pages in a 500 KB post", "finishes", "killed", "", False)]
    last, first = rows[-1], rows[0]
    return [
        Line(
            f"{last['pages']} cited pages in a {last['kb']:.0f} KB post, CPU per cited page"
            f" / the {first['pages']}-page {first['kb']:.0f} KB post's",
            "<= 1.5x",
            f"{last['ratio']:.2f}x ({last['cpu_s']:.1f} s CPU, {last['wall_s']:.1f} s wall)",
            f"{first['pages']} pages: {1000 * first['cpu_s'] / first['pages']:.0f} CPU ms/page",
            float(last["ratio"]) <= 1.5,
        )
    ]


def memory_lines(f: dict[str, object]) -> list[Line]:
    return [
        Line(
            f"`batch` of {f['posts']} posts, peak RSS of the process tree",
            "< 300 MB",
            f"{f['peak_mb']:.0f} MB ({f['seconds']:.1f} s)",
            "",
            num(f, "peak_mb") < 300,
        )
    ]


def render(lines: list[Line], stamp: str) -> str:
    out = [
        START,
        f"_Written by `tests/bench/perf_table.py` ({stamp}). The throughput rows take bare trafilatura,"
        " the naive pool and the batch back to back, in a turning order, in each of several rounds:"
        " the ratio is the median of the rounds' ratios, each wall the median of its own; every other"
        " row is one run of its benchmark, its baseline measured in the same run._",
        "",
        "| what it measures | goal | figure | baseline (same run) | met |",
        "| --- | --- | --- | --- | --- |",
    ]
    out += [
        f"| {x.what} | {x.goal} | {x.figure} | {x.baseline} | {'yes' if x.met else 'no'} |" for x in lines
    ]
    out.append(END)
    return "\n".join(out)


def write_readme(table: str, readme: Path = README) -> None:
    """Replace the section between the markers (README must hold both)."""
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{readme}: no {START} ... {END} section to replace")
    readme.write_text(pattern.sub(lambda _m: table, text, count=1), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    ap.add_argument("--provenance", help="command to run instead of the installed `provenance`")
    ap.add_argument("--write-readme", action="store_true", help="replace README's performance table")
    ap.add_argument("--rounds", type=int, default=3, help="throughput rounds (the medians are reported)")
    ap.add_argument("--skip", default="", help="comma-separated: throughput,repeated,startup,longpost,memory")
    args = ap.parse_args(argv)
    if not (args.corpus / "manifest.jsonl").is_file():
        print(f"corpus not found at {args.corpus}: benchmark skipped")
        return 0
    common = ["--corpus", str(args.corpus)] + (["--provenance", args.provenance] if args.provenance else [])
    skip = set(filter(None, args.skip.split(",")))
    plan: list[tuple[str, str, list[str], Callable[[dict[str, object]], list[Line]]]] = [
        ("throughput", "bench_throughput.py", ["--rounds", str(args.rounds)], throughput_lines),
        ("repeated", "bench_throughput.py", ["--repeated", "--rounds", str(args.rounds)], repeated_lines),
        ("startup", "bench_startup.py", ["--runs", "5"], startup_lines),
        ("longpost", "bench_longpost.py", [], longpost_lines),
        ("memory", "bench_throughput.py", ["--memory-posts", "10000"], memory_lines),
    ]
    lines: list[Line] = []
    with tempfile.TemporaryDirectory(prefix="provenance-perf-") as tmp:
        for name, script, extra, to_lines in plan:
            if name in skip:
                continue
            figures = run_bench(script, Path(tmp) / f"{name}.json", [*common, *extra])
            if figures:
                lines += to_lines(figures)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    stamp = f"load average {load:.1f} when it ended, {os.cpu_count()} cores"
    table = render(lines, stamp)
    print(table)
    if args.write_readme:
        write_readme(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
