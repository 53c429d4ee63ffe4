"""The in-repo scorer agrees with the official one (../shared/tools/score.py) wherever that one exists.

Besides the product's own reports on the development set (nearly perfect, so they say little about
the flag counting), the scorers are compared on the same reports scrambled (flags flipped, statuses
swapped, quotes cut short or dropped) and with passage spans added to the labels, so that both the
word matching and the span matching are exercised with imperfect figures.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.quality._score import score_files
from tests.quality.conftest import POSTS, ROOT

SCORE_PY = ROOT.parent / "shared" / "tools" / "score.py"
STATUSES = ["verbatim", "cosmetic", "elided", "altered", "misattributed", "not_found", "source_changed"]

pytestmark = pytest.mark.skipif(not SCORE_PY.is_file(), reason=f"no official scorer at {SCORE_PY}")


def _official(labelled: Path, reports: Path) -> list[str]:
    result = subprocess.run(
        [sys.executable, str(SCORE_PY), str(labelled), str(reports)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.splitlines()


def _figures(line: str) -> dict[str, str]:
    """``recall R false_flag F accuracy A passages N`` as a mapping."""
    fields = line.split()
    return dict(zip(fields[::2], fields[1::2], strict=True))


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _scrambled(reports: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """The reports with some quotes' flags flipped, statuses changed, texts halved, spans or quotes gone."""
    rng = random.Random(seed)
    out = []
    for report in reports:
        quotes = []
        for q in report["quotes"]:
            q = dict(q)
            roll = rng.random()
            if roll < 0.1:
                continue
            if roll < 0.25:
                q["flagged"] = not q["flagged"]
            elif roll < 0.4:
                q["status"] = rng.choice(STATUSES)
            elif roll < 0.5:
                cut = q["text"].split()
                q["text"] = " ".join(cut[: len(cut) // 2])
            elif roll < 0.55:
                del q["post_span"]
            quotes.append(q)
        out.append({**report, "quotes": quotes})
    return out


def _with_spans(posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Labels with each passage's span in the post where its text stands there as is (not always all)."""
    out = []
    for post in posts:
        passages = []
        for p in post["passages"]:
            at = post["text"].find(p["text"])
            passages.append({**p, "span": [at, at + len(p["text"])]} if at >= 0 else dict(p))
        out.append({**post, "passages": passages})
    return out


def _assert_same(labelled: Path, reports: Path) -> dict[str, str]:
    official = _official(labelled, reports)
    ours = score_files(labelled, reports).lines()
    assert ours == official
    return _figures(official[-1])


@pytest.mark.slow
def test_in_repo_scorer_matches_the_official_one_on_the_devset(devset_reports: Path) -> None:
    """On the product's reports for the development set, both scorers print the same per-kind
    counts and the same recall, false_flag and accuracy."""
    figures = _assert_same(POSTS, devset_reports)
    assert figures["passages"] == "483"


@pytest.mark.slow
def test_in_repo_scorer_matches_the_official_one_on_imperfect_reports(
    devset_reports: Path, tmp_path: Path
) -> None:
    """With flags, statuses, texts and spans disturbed, and with spans in the labels, both scorers
    still print the same lines, and the figures are far from perfect, so the counting is exercised."""
    scrambled = _write(tmp_path / "scrambled.jsonl", _scrambled(_read(devset_reports), seed=7))
    spanned = _write(tmp_path / "spanned.jsonl", _with_spans(_read(POSTS)))
    by_words = _assert_same(POSTS, scrambled)
    by_spans = _assert_same(spanned, scrambled)
    _assert_same(spanned, devset_reports)
    for figures in (by_words, by_spans):
        assert float(figures["recall"]) < 0.95
        assert float(figures["false_flag"]) > 0.05
        assert float(figures["accuracy"]) < 0.95
    assert by_words != by_spans  # the span rule matched some quotes differently
