"""The `provenance` command's entry point (``service/entry.py``): what the extraction workers of
a run of the installed command import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "tests" / "data" / "seed"


def test_the_installed_commands_workers_do_not_import_the_cli(tmp_path: Path) -> None:
    """multiprocessing runs the command's script again in each worker it starts (as
    ``__mp_main__``): the script imports ``service.entry`` only, so no worker imports the CLI
    (each did, 0.15 s of CPU, when the script imported ``service.cli``)."""
    command = Path(sys.executable).with_name("provenance")
    if not command.exists():
        pytest.skip(f"no installed command beside {sys.executable}")
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    args = [str(command), "verify", str(SEED / "post.txt"), "--replay", str(SEED / "seed.warc.gz")]
    args += ["--data-dir", str(tmp_path)]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    imports = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    entries = [line for line in imports if line.rstrip().endswith("| service.entry")]
    assert len(entries) >= 2  # the command, and the worker that ran its script again
    assert sum(line.rstrip().endswith("| service.cli") for line in imports) == 1  # the command's own
