"""schemathesis, every check, against the API's own /openapi.json: no server error, no answer that
breaks the documented schema, no schema-valid request refused, no invalid one accepted."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.api.conftest import MakeClient

ST = Path(sys.executable).with_name("st")


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_schemathesis_finds_nothing(make_client: MakeClient, tmp_path: Path) -> None:
    """Coverage, fuzzing and stateful phases (jobs followed through the documented links) pass."""
    if not ST.exists():
        pytest.skip("schemathesis is not installed beside this Python")
    client: TestClient[Any, Any] = await make_client(rate_limit="1000000/second", max_jobs_per_key=1000)
    url = f"http://127.0.0.1:{client.server.port}/openapi.json"
    proc = await asyncio.create_subprocess_exec(
        str(ST), "run", url, "--checks", "all", "--max-examples", "40", "--seed", "20261202",
        "--no-color", cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    report = out.decode("utf-8", "replace")
    assert proc.returncode == 0, report[-4000:]
    assert " passed" in report
    assert "failure" not in report.split("SUMMARY")[-1].lower()
