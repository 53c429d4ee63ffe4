"""README's performance table is written from the benchmarks' figures (tests/bench/perf_table.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))

import perf_table

THROUGHPUT = {
    "mode": "distinct", "fetch_keys": 676, "bare_s": 13.5, "bare_cpu_ms": 20.0, "pool_s": 7.4,
    "batch_s": 7.0, "batch_cpu_ms": 21.0, "main_cpu_ms": 3.4, "workers_cpu_ms": 17.6,
    "ratio_bare": 13.5 / 7.0, "ratio_pool": 7.4 / 7.0, "reports": "676/676 reports", "exit": 0,
}  # fmt: skip


def test_throughput_lines_say_which_goals_are_met() -> None:
    lines = perf_table.throughput_lines(THROUGHPUT)
    assert [line.met for line in lines] == [True, True, False]  # 1.93x, 1.06x, 3.4 ms
    assert lines[0].figure.startswith("1.93x")
    assert "13.50 s" in lines[0].baseline


def test_longpost_killed_is_a_goal_not_met() -> None:
    (line,) = perf_table.longpost_lines({"rows": [], "killed": True})
    assert not line.met


def test_the_readme_section_is_replaced_and_nothing_else(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{perf_table.START}\nold table\n{perf_table.END}\noutro\n", encoding="utf-8")
    table = perf_table.render(perf_table.throughput_lines(THROUGHPUT), "test")
    perf_table.write_readme(table, readme)
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("intro\n")
    assert text.endswith("\noutro\n")
    assert "old table" not in text
    assert text.count("| yes |") == 2
    assert text.count("| no |") == 1


def test_a_readme_without_the_markers_is_refused(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("no table here\n", encoding="utf-8")
    with pytest.raises(SystemExit):
        perf_table.write_readme("table", readme)
    assert readme.read_text(encoding="utf-8") == "no table here\n"
