"""The layout's rules are enforced: a forbidden import or an environment read in the pipeline
fails the gate (ruff TID251 for names import-linter cannot see, import-linter for the layers)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = "pipeline: composition"
BIN = Path(sys.executable).parent


def _tool(name: str) -> Path:
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed beside this Python")
    return path


def _ruff_codes(source: str, pretend_path: str) -> str:
    """Ruff's findings on ``source`` as if it were the file at ``pretend_path`` (its config applies)."""
    run = subprocess.run(
        [str(_tool("ruff")), "check", "--output-format", "concise", "--stdin-filename", pretend_path, "-"],
        input=source, capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    return run.stdout


@pytest.mark.parametrize(
    "source",
    [
        "from aiohttp import web\n",
        "import aiohttp.web\n",
        "import os\n\nPORT = os.environ['PORT']\n",
        "import os\n\nPORT = os.getenv('PORT')\n",
        "from os import environ\n",
        "from service.logs import configure_logging\n",
        "from aiohttp.web_response import json_response\n",
        "import aiohttp.web_runner\n",
    ],
)
def test_pipeline_may_not_serve_http_read_the_environment_or_set_up_logging(source: str) -> None:
    """Each of these fails ruff inside service/pipeline, and only there (the API may serve HTTP)."""
    assert "TID251" in _ruff_codes(source, "service/pipeline/fetch/probe.py")
    assert "TID251" not in _ruff_codes(source, "service/api/probe.py")


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(_tool("lint-imports")), "--no-cache", str(tree / "pyproject.toml")],
        capture_output=True, text=True, cwd=tree, check=False,
        env={"PYTHONPATH": str(tree), "PATH": str(BIN)},
    )  # fmt: skip


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the packages and their import contracts, safe to break."""
    for name in ("service", "workers"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize("source", ["from aiohttp import web\n", "from aiohttp.web_app import Application\n"])
def test_workers_load_no_web_code(source: str) -> None:
    """The queue workers may not import aiohttp's server side either (the API may)."""
    assert "TID251" in _ruff_codes(source, "workers/probe.py")
    assert "TID251" not in _ruff_codes(source, "service/api/probe.py")


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        (
            "service/pipeline/align/tokens.py",
            "import service.pipeline.judge.passage",
            LAYERS,
        ),
        (
            "service/pipeline/posts/quotes.py",
            "import service.pipeline.evidence.store",
            LAYERS,
        ),
        ("service/pipeline/report/build.py", "import warcio", "pure stages"),
        ("service/pipeline/fetch/guard.py", "import service.pipeline.extract.pool", LAYERS),
        ("service/pipeline/models.py", "import service.settings", "leaves: the"),
        ("service/pipeline/errors.py", "import yarl", "leaves: the"),
        ("service/pipeline/verify.py", "import service.cli", "cli > api | workers"),
        ("workers/__init__.py", "import service.api", "cli > api | workers"),
        ("service/settings.py", "import service.pipeline.models", "cli > api | workers"),
    ],
)
def test_a_crossing_import_breaks_a_contract(tree: Path, module: str, line: str, contract: str) -> None:
    """The contracts hold on the real tree, and one import that crosses a boundary breaks the
    contract that forbids it."""
    assert _lint_imports(tree).returncode == 0
    path = tree / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    broken = _lint_imports(tree)
    assert broken.returncode != 0
    assert "BROKEN" in broken.stdout
    assert _status(broken.stdout, contract) == "BROKEN"


def _status(output: str, contract: str) -> str:
    """KEPT or BROKEN for the contract whose name starts with ``contract`` (names wrap in the output)."""
    summary = " ".join(output.split("Broken contracts")[0].split())
    after = summary[summary.index(contract) :]
    return min(("KEPT", "BROKEN"), key=lambda word: after.find(word) % (len(after) + 1))
