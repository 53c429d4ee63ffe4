"""The editorial classes of issue 10 on their development posts (tests/data/classes, made by
tests/dev/make_classes.py over the devset's pages): misleading elisions flagged, harmless ones,
editorial notes, guillemets and nested quotes left alone, invented quotations in any marks flagged.
A development set (the product was tuned on it), not a held-out measure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.quality._score import score_files
from tests.quality.conftest import PAGES, ROOT

CLASSES = ROOT / "tests" / "data" / "classes" / "posts.jsonl"
PASSAGES = 130
# Each class right on every passage when the gate was set; one passage's slack overall.
RIGHT_FLOOR = PASSAGES - 1


@pytest.mark.slow
def test_editorial_classes_stay_right(tmp_path: Path) -> None:
    """Replaying the class posts, every class keeps its figures: no faithful passage flagged, no
    misleading elision or invented quotation missed."""
    reports = tmp_path / "reports.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVENANCE_")}
    args = ["batch", str(CLASSES), "-o", str(reports), "--replay", str(PAGES), "--archive", "none"]
    result = subprocess.run(
        [sys.executable, "-m", "service", *args, "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    score = score_files(CLASSES, reports)
    shown = "\n".join(score.lines())
    assert score.passages == PASSAGES, shown
    assert score.recall == 1.0, shown
    assert score.false_flag == 0.0, shown
    assert score.right >= RIGHT_FLOOR, shown
