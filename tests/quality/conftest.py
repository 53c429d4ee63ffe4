"""The product's reports on the checked-in development set (tests/data/devset), made once a session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEVSET = ROOT / "tests" / "data" / "devset"
POSTS = DEVSET / "posts.jsonl"
PAGES = DEVSET / "pages.warc.gz"


@pytest.fixture(scope="session")
def devset_reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`provenance batch` on the development set, replaying its WARC: nothing fetched, nothing stored.

    The command is README's; the environment's PROVENANCE_* settings are left out so that the figures
    depend on the code and the set only.
    """
    out = tmp_path_factory.mktemp("devset")
    reports = out / "reports.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVENANCE_")}
    args = ["batch", str(POSTS), "-o", str(reports), "--replay", str(PAGES), "--archive", "none"]
    result = subprocess.run(
        [sys.executable, "-m", "service", *args, "--data-dir", str(out / "data")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return reports
