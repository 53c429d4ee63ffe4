"""Save Page Now captures beside verification (service/pipeline/evidence/saves.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
from structlog.testing import capture_logs

from service.pipeline.evidence.ratelimit import LocalLimiter
from service.pipeline.evidence.saves import SaveRunner
from service.pipeline.evidence.wayback import WaybackClient
from service.settings import WaybackSettings
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
    logged = [json.loads(line) for line in (tmp_path / "wayback.jsonl").read_text().splitlines()]
    assert sorted(entry["url"] for entry in logged) == sorted(urls)
    assert {entry["wayback"]["status"] for entry in logged} == {"success"}
    jobs = {entry["url"]: entry["wayback"]["job_id"] for entry in logged}
    assert all(str(job).startswith("spn2-") for job in jobs.values())
    for url, report in zip(urls, reports, strict=True):
        # A report names its capture's job as soon as there is one: landed, or pending but running.
        running = report.status == "success" or report.message == "capture running"
        assert report.job_id == (jobs[url] if running else None), report
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


async def test_captures_still_running_when_the_run_ends_are_logged(fake: FakeWayback) -> None:
    """Captures that have not landed when the drain time is up (here: one waiting out a 429's
    30-second back-off, one queued behind it) are left behind with a ``wayback_captures_unfinished``
    warning that counts both."""
    fake.script.append("429")  # Retry-After: 30, on the wall clock: far past the drain time
    settings = WaybackSettings(
        base_url=fake.base_url, availability_url=f"{fake.base_url}/wayback/available", access_key="AK",
        secret_key="SK",
    )  # fmt: skip
    async with aiohttp.ClientSession() as session:
        client = WaybackClient(session, settings, LocalLimiter(6))
        with capture_logs() as logs:
            async with SaveRunner(client, wait_s=0.05, data_dir=None, drain_s=0.3) as runner:
                reports = [await runner.save(f"https://example.com/{i}") for i in range(2)]
    assert [r.status for r in reports] == ["pending", "pending"]
    assert [e for e in logs if e["event"] == "wayback_captures_unfinished"] == [
        {"event": "wayback_captures_unfinished", "log_level": "warning", "count": 2}
    ]


async def test_without_keys_save_page_now_is_skipped_not_attempted(fake: FakeWayback, tmp_path: Path) -> None:
    """No keys: every capture is ``skipped`` with reason ``no_credentials`` at once, nothing is sent
    (the service refuses anonymous captures), and the outcome is logged like any other."""
    settings = WaybackSettings(base_url=fake.base_url, availability_url=f"{fake.base_url}/wayback/available")
    async with aiohttp.ClientSession() as session:
        client = WaybackClient(session, settings, LocalLimiter(6))
        async with SaveRunner(client, wait_s=5.0, data_dir=tmp_path, drain_s=1.0) as runner:
            report = await runner.save("https://example.com/story")
    assert report.status == "skipped"
    assert report.message is not None
    assert report.message.startswith("no_credentials: ")
    assert fake.submissions == []
    assert fake.hits["save"] == fake.hits["cdx"] == 0
    assert "no_credentials" in (tmp_path / "wayback.jsonl").read_text()


async def test_wayback_log_that_cannot_be_written_is_logged(
    fake: FakeWayback, make_client: MakeClient, tmp_path: Path
) -> None:
    """When the data folder cannot hold wayback.jsonl (a file stands in its place), the capture is
    still reported, and a ``wayback_log_failed`` warning gives the error."""
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be")
    with capture_logs() as logs:
        async with SaveRunner(make_client(), wait_s=5.0, data_dir=blocker, drain_s=5.0) as runner:
            report = await runner.save("https://example.com/story")
    assert report.status == "success"
    assert report.job_id is not None
    assert report.job_id.startswith("spn2-")
    [event] = [e for e in logs if e["event"] == "wayback_log_failed"]
    assert event["log_level"] == "warning"
    assert str(blocker) in event["error"]
