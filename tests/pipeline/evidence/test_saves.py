"""Save Page Now captures beside verification (service/pipeline/evidence/saves.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from service.pipeline.evidence.saves import SaveRunner
from tests.fakes.wayback import FakeWayback
from tests.pipeline.conftest import MakeClient, max_in_window


async def test_runner_burst_keeps_the_budget_and_lands_every_capture(
    fake: FakeWayback, make_client: MakeClient, tmp_path: Path
) -> None:
    """40 sources at once through the runner: never over 6 a minute, 429s retried, all logged."""
    fake.script.extend(["job", "429", "job", "user-session-limit"] + ["job"] * 10 + ["429"])
    urls = [f"https://example.com/story/{i}" for i in range(40)]
    async with SaveRunner(make_client(), wait_s=0.2, data_dir=tmp_path, drain_s=30) as runner:
        reports = await asyncio.gather(*(runner.save(u) for u in urls))
    assert {r.status for r in reports} <= {"success", "pending"}
    assert all(r.job_id for r in reports if r.status == "pending" and r.message == "capture running")
    logged = [json.loads(line) for line in (tmp_path / "wayback.jsonl").read_text().splitlines()]
    assert sorted(entry["url"] for entry in logged) == sorted(urls)
    assert {entry["wayback"]["status"] for entry in logged} == {"success"}
    assert max_in_window(fake.submission_times()) <= 6
    assert [s.answer for s in fake.submissions if not s.answer.startswith("spn2-")] == [
        "429", "user-session-limit", "429",
    ]  # fmt: skip


async def test_capture_reported_pending_with_its_job_id(fake: FakeWayback, make_client: MakeClient) -> None:
    """A capture still running when the wait ends is pending with the SPN job id, never blocking."""
    fake.pending_polls = 10**6  # the job never finishes while we wait
    async with SaveRunner(make_client(), wait_s=0.3, data_dir=None, drain_s=0.5) as runner:
        report = await runner.save("https://example.com/slow")
        again = await runner.save("https://example.com/slow")
    assert report.status == "pending"
    assert report.job_id is not None
    assert report.job_id.startswith("spn2-")
    assert again.job_id == report.job_id
    assert len(fake.submissions) == 1
