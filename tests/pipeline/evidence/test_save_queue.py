"""Background captures: the budget holds under bursts; rate-limited URLs are retried, not lost."""

from __future__ import annotations

import itertools

import pytest

from service.pipeline.evidence.save_queue import SaveQueue
from service.pipeline.evidence.wayback import SaveOutcome, WaybackStatus
from tests.fakes.wayback import FakeWayback
from tests.pipeline.conftest import MakeClient, max_in_window


async def test_burst_of_100_keeps_the_budget_and_loses_nothing(
    fake: FakeWayback, make_client: MakeClient
) -> None:
    """100 URLs at once: never more than 6 submissions in any 60 s, every 429 retried, all captured."""
    fake.script.extend(["job", "job", "429", "job", "user-session-limit", "job", "job", "429"])
    fake.script.extend(["job"] * 30 + ["error:user-session-limit", "429"])
    urls = [f"https://example.com/post/{i}" for i in range(100)]
    async with SaveQueue(make_client(), rng=lambda: 0.5) as queue:
        for url in urls:
            queue.put(url)
    results = queue.results()
    assert len(results) == 100
    assert {r.url for r in results} == set(urls)
    assert [r for r in results if r.status is not WaybackStatus.SUCCESS] == []
    assert max_in_window(fake.submission_times()) <= 6
    refused = [s for s in fake.submissions if not s.answer.startswith("spn2-")]
    assert [s.answer for s in refused] == [
        "429",
        "user-session-limit",
        "429",
        "error:user-session-limit",
        "429",
    ]
    for s in refused:  # each refused URL came back later and landed
        assert any(t.url == s.url and t.answer.startswith("spn2-") and t.at > s.at for t in fake.submissions)
    assert len(fake.submissions) == 105


async def test_backoff_is_exponential_with_jitter(fake: FakeWayback, make_client: MakeClient) -> None:
    """Consecutive 429s without Retry-After wait 20, 40, 80 s (+ jitter) before the next submission."""
    fake.retry_after = None
    fake.script.extend(["429", "429", "429"])
    async with SaveQueue(make_client(), rng=lambda: 0.5) as queue:
        queue.put("https://example.com/x")
    times = fake.submission_times()
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps == pytest.approx([22.5, 45.0, 90.0], abs=0.5)
    assert queue.results()[0].status is WaybackStatus.SUCCESS


async def test_retry_after_longer_than_backoff_wins(fake: FakeWayback, make_client: MakeClient) -> None:
    """The server's Retry-After is honoured when it asks for more than the backoff."""
    fake.retry_after = "300"
    fake.script.append("429")
    async with SaveQueue(make_client(), rng=lambda: 0.0) as queue:
        queue.put("https://example.com/x")
    first, second = fake.submission_times()
    assert second - first >= 300


async def test_permanent_failure_lands_once(fake: FakeWayback, make_client: MakeClient) -> None:
    """A refused URL is reported once (through the async callback too) and never resubmitted."""
    fake.script.append("blocked-url")
    seen: list[SaveOutcome] = []

    async def on_result(outcome: SaveOutcome) -> None:
        seen.append(outcome)

    async with SaveQueue(make_client(), on_result=on_result) as queue:
        queue.put("https://blocked.example/")
        queue.put("https://example.com/fine")
    assert len(fake.submissions) == 2
    statuses = {o.url: (o.status, o.retryable) for o in seen}
    assert statuses == {
        "https://blocked.example/": (WaybackStatus.ERROR, False),
        "https://example.com/fine": (WaybackStatus.SUCCESS, False),
    }
    assert seen == queue.results()


async def test_attempts_are_capped(fake: FakeWayback, make_client: MakeClient) -> None:
    """A URL limited on every try lands as a retryable error after ``max_attempts`` submissions."""
    fake.script.extend(["user-session-limit"] * 3)
    async with SaveQueue(make_client(), max_attempts=3) as queue:
        queue.put("https://example.com/x")
    (outcome,) = queue.results()
    assert (outcome.status, outcome.retryable) == (WaybackStatus.ERROR, True)
    assert len(fake.submissions) == 3


async def test_long_capture_lands_pending_with_job_id(fake: FakeWayback, make_client: MakeClient) -> None:
    """A job still running after ``poll_for_s`` lands as pending, keeping its job id."""
    fake.pending_polls = 1000
    fake.max_active = None
    async with SaveQueue(make_client(), poll_for_s=30) as queue:
        queue.put("https://example.com/slow")
    (outcome,) = queue.results()
    assert outcome.status is WaybackStatus.PENDING
    assert outcome.job_id in fake.jobs
    assert fake.jobs[outcome.job_id or ""].polls == 30


async def test_error_inside_the_block_cancels(make_client: MakeClient) -> None:
    """Leaving the block with an exception cancels the work instead of waiting for it."""
    queue = SaveQueue(make_client())

    async def fail_inside() -> None:
        async with queue:
            queue.put("https://example.com/x")
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        await fail_inside()
    assert queue.results() == []
    with pytest.raises(RuntimeError, match="not running"):
        queue.put("https://example.com/y")


async def test_a_crashing_callback_is_reported(make_client: MakeClient) -> None:
    """A bug in the callback surfaces from the block instead of hanging it."""

    def on_result(outcome: SaveOutcome) -> None:
        raise ValueError(outcome.url)

    with pytest.raises(RuntimeError, match="task failed") as caught:
        async with SaveQueue(make_client(), on_result=on_result) as queue:
            queue.put("https://example.com/x")
    assert isinstance(caught.value.__cause__, ValueError)
