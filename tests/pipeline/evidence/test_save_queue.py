"""Background captures: the budget holds under bursts; rate-limited URLs are retried, not lost."""

from __future__ import annotations

import itertools

import pytest

from service.pipeline.evidence.save_queue import SaveQueue
from service.pipeline.evidence.spn_errors import Scope
from service.pipeline.evidence.wayback import SaveOutcome, WaybackStatus
from tests.fakes.clock import FakeClock
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


# Scopes (spn_errors.py): one URL's or one host's answer never pauses the rest ----------------------


async def test_per_url_daily_limit_leaves_other_urls_going(
    fake: FakeWayback, make_client: MakeClient, clock: FakeClock
) -> None:
    """``too-many-daily-captures`` for one URL lands that URL (final, with the reason) and holds
    it until midnight; the other URLs are captured at once, with no pause in between."""
    fake.url_errors["https://a.example/daily"] = "too-many-daily-captures"
    client = make_client()
    start = clock.now()
    urls = ["https://a.example/daily", "https://a.example/other", "https://b.example/x"]
    async with SaveQueue(client, rng=lambda: 0.5) as queue:
        for url in urls:
            queue.put(url)
        queue.put("https://a.example/daily")  # asked again: held, not sent again
    by_url = {r.url: r for r in queue.results() if r.url != "https://a.example/daily"}
    daily = [r for r in queue.results() if r.url == "https://a.example/daily"]
    assert [(r.status, r.code, r.scope) for r in daily] == [(WaybackStatus.ERROR, "too-many-daily-captures",
                                                             Scope.URL)] * 2  # fmt: skip
    assert "too-many-daily-captures" in daily[0].message
    assert all(r.status is WaybackStatus.SUCCESS for r in by_url.values())
    assert [s.url for s in fake.submissions].count("https://a.example/daily") == 1
    assert max(fake.submission_times()) - start < 600  # no pause (it used to be ~12 h, to midnight)
    held = await client.limiter.held("url:https://a.example/daily")
    assert held is not None
    assert held.seconds == pytest.approx(12 * 3600, abs=60)  # the clock's epoch is 12:00 UTC


async def test_host_throttle_holds_that_host_only(
    fake: FakeWayback, make_client: MakeClient, clock: FakeClock
) -> None:
    """``too-many-requests`` (the target host throttles SPN) holds that host for 20 s: its URLs
    wait and then land, while another host's URL goes straight through."""
    fake.script.append("too-many-requests")
    start = clock.now()
    async with SaveQueue(make_client(), rng=lambda: 0.0) as queue:
        for url in ["https://slow.example/1", "https://slow.example/2", "https://fast.example/1"]:
            queue.put(url)
    assert all(r.status is WaybackStatus.SUCCESS for r in queue.results())
    sent = {s.url: s.at - start for s in fake.submissions if s.answer.startswith("spn2-")}
    # (the virtual clock jumps while loopback I/O runs, so order, not absolute time, is asserted)
    assert sent["https://fast.example/1"] < sent["https://slow.example/1"]
    assert sent["https://fast.example/1"] < sent["https://slow.example/2"]
    assert sent["https://slow.example/1"] >= 20
    assert sent["https://slow.example/2"] >= 20
    assert [s.url for s in fake.submissions].count("https://slow.example/2") == 1  # held, not refused


async def test_final_host_answer_lands_its_other_urls_without_sending(
    fake: FakeWayback, make_client: MakeClient
) -> None:
    """``blocked`` (the site blocks SPN) is final for the host: its next URL lands with the reason
    and is never submitted; another host is unaffected."""
    fake.url_errors["https://walled.example/1"] = "blocked"
    async with SaveQueue(make_client(), rng=lambda: 0.0) as queue:
        for url in ["https://walled.example/1", "https://walled.example/2", "https://open.example/1"]:
            queue.put(url)
    got = {r.url: r for r in queue.results()}
    assert got["https://walled.example/2"].status is WaybackStatus.ERROR
    assert got["https://walled.example/2"].message.startswith("blocked: this host")
    assert got["https://open.example/1"].status is WaybackStatus.SUCCESS
    assert "https://walled.example/2" not in {s.url for s in fake.submissions}


async def test_target_side_failure_is_final_with_its_reason(
    fake: FakeWayback, make_client: MakeClient
) -> None:
    """A target-side failure (``too-many-redirects``) is final for the URL: one submission, no
    retry, no pause, and the reason in the outcome's message."""
    fake.job_errors["https://loop.example/"] = "too-many-redirects"
    async with SaveQueue(make_client(), rng=lambda: 0.0) as queue:
        queue.put("https://loop.example/")
        queue.put("https://fine.example/")
    got = {r.url: r for r in queue.results()}
    loop = got["https://loop.example/"]
    assert (loop.status, loop.retryable, loop.scope) == (WaybackStatus.ERROR, False, Scope.URL)
    assert loop.message.startswith("too-many-redirects: ")
    assert [s.url for s in fake.submissions].count("https://loop.example/") == 1
    assert got["https://fine.example/"].status is WaybackStatus.SUCCESS


async def test_account_daily_limit_pauses_every_url_until_midnight(
    fake: FakeWayback, make_client: MakeClient, clock: FakeClock
) -> None:
    """The account's captures for the day used up (``/save/status/user``): nothing is submitted
    until 00:00 UTC, then the waiting URLs are captured."""
    fake.daily_limit = 2
    start = clock.now()  # 12:00 UTC
    urls = [f"https://news.example/{i}" for i in range(4)]
    async with SaveQueue(make_client(), rng=lambda: 0.0) as queue:
        for url in urls:
            queue.put(url)
    assert all(r.status is WaybackStatus.SUCCESS for r in queue.results())
    times = sorted(s.at - start for s in fake.submissions)
    assert len(times) == 4  # the refusal came from the user status: no submission was wasted
    assert times[1] < 3600
    assert times[2] >= 12 * 3600
    assert times[3] >= 12 * 3600
