"""The Wayback client against the fake archive on loopback: lookups, id_ replay, SPN2 captures."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from service.pipeline.errors import ArchiveError, WaybackUnavailable
from service.pipeline.evidence.ratelimit import LocalLimiter
from service.pipeline.evidence.spn_errors import Scope, SpnError, rule_for
from service.pipeline.evidence.wayback import (
    BACKOFF_S,
    Snapshot,
    SpnState,
    WaybackClient,
    WaybackStatus,
    within_flag,
)
from service.settings import WaybackSettings
from tests.fakes.clock import FakeClock
from tests.fakes.wayback import DOC_ERRORS, FakeWayback, serve_wayback

URL = "https://example.com/article"
MakeClient = Callable[..., WaybackClient]


@pytest.fixture
def clock() -> FakeClock:
    """Virtual time shared by the client, its limiter and the fake archive."""
    return FakeClock()


@pytest.fixture
async def fake(clock: FakeClock) -> AsyncIterator[FakeWayback]:
    """The fake archive on 127.0.0.1, dating captures by the virtual clock."""
    async with serve_wayback(FakeWayback(now=clock.now, utcnow=clock.utcnow)) as running:
        yield running


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain session; the client never creates its own."""
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def make_client(fake: FakeWayback, session: aiohttp.ClientSession, clock: FakeClock) -> MakeClient:
    """Build a client on the fake with settings overrides (keys, waits, skip window)."""

    def build(**overrides: object) -> WaybackClient:
        options: dict[str, object] = {
            "base_url": fake.base_url, "availability_url": f"{fake.base_url}/wayback/available",
            "poll_interval_s": 1.0, "capture_wait_s": 10.0, "request_timeout_s": 5.0,
            "access_key": "AK", "secret_key": "SK", **overrides,
        }  # fmt: skip
        settings = WaybackSettings(**options)  # type: ignore[arg-type]
        limiter = LocalLimiter(6, now=clock.now, sleep=clock.sleep)
        return WaybackClient(
            session, settings, limiter, now=clock.now, sleep=clock.sleep, utcnow=clock.utcnow
        )

    return build


def at(ts: str) -> datetime:
    return datetime.strptime(ts, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def ts_of(when: datetime) -> str:
    return when.strftime("%Y%m%d%H%M%S")


# Lookups ---------------------------------------------------------------------------------------


async def test_closest_before_picks_latest_at_or_before(fake: FakeWayback, make_client: MakeClient) -> None:
    """Of captures in 2019, 2020, 2021 and 2023, a time in late 2021 gets the 2021 one."""
    for ts in ("20190101000000", "20200601000000", "20210301101010", "20230101000000"):
        fake.add_snapshot(URL, ts, f"<p>{ts}</p>")
    fake.add_snapshot(URL, "20211201000000", "<p>gone</p>", status=404)
    client = make_client()
    found = await client.closest_before(URL, at("20211231000000"))
    assert found is not None
    assert (found.ts14, found.status, found.original) == ("20210301101010", 200, URL)
    exact = await client.closest_before(URL, at("20200601000000"))
    assert exact is not None
    assert exact.ts14 == "20200601000000"
    assert await client.closest_before(URL, at("20180101000000")) is None


async def test_closest_before_falls_back_to_availability(fake: FakeWayback, make_client: MakeClient) -> None:
    """With CDX failing, the availability API answers, but never with a capture after the time."""
    fake.add_snapshot(URL, "20200101000000", "<p>a</p>")
    fake.add_snapshot(URL, "20220101000000", "<p>b</p>")
    fake.cdx_status = 503
    client = make_client()
    found = await client.closest_before(URL, at("20200301000000"))
    assert found is not None
    assert found.ts14 == "20200101000000"
    assert await client.closest_before(URL, at("20211201000000")) is None  # closest is 2022: after
    assert fake.hits["available"] == 2


async def test_latest_is_the_newest(fake: FakeWayback, make_client: MakeClient) -> None:
    """``latest`` returns the newest 200 capture, None for an unknown URL."""
    for ts in ("20200101000000", "20240101000000", "20220101000000"):
        fake.add_snapshot(URL, ts, "<p/>")
    client = make_client()
    found = await client.latest(URL)
    assert found is not None
    assert found.ts14 == "20240101000000"
    assert await client.latest("https://example.com/never") is None


async def test_unreachable_archive_is_unavailable(session: aiohttp.ClientSession, clock: FakeClock) -> None:
    """A refused connection becomes WaybackUnavailable (retryable), not an aiohttp error."""
    async with serve_wayback() as gone:
        base = gone.base_url
    settings = WaybackSettings(base_url=base, availability_url=f"{base}/wayback/available")
    client = WaybackClient(session, settings, LocalLimiter(6, now=clock.now, sleep=clock.sleep))
    with pytest.raises(WaybackUnavailable):
        await client.closest_before(URL, datetime(2024, 1, 1, tzinfo=UTC))


# Raw replay ------------------------------------------------------------------------------------


async def test_fetch_raw_returns_exact_bytes(fake: FakeWayback, make_client: MakeClient) -> None:
    """The id_ replay gives the archived bytes verbatim, with the archive's headers."""
    body = b"<html>\xff\xfe caf\xc3\xa9 \x00</html>"
    fake.add_snapshot(URL, "20200101000000", body)
    raw = await make_client().fetch_raw(Snapshot(at("20200101000000"), URL))
    assert raw.status == 200
    assert raw.body == body
    assert "X-Archive-Src" in raw.headers
    status, _headers, data = raw
    assert (status, data) == (200, body)


async def test_fetch_raw_follows_redirect_to_nearest(fake: FakeWayback, make_client: MakeClient) -> None:
    """A timestamp with no exact capture redirects to the nearest one, which is followed."""
    fake.add_snapshot(URL, "20200101000000", b"old")
    fake.add_snapshot(URL, "20200105000000", b"nearest")
    raw = await make_client().fetch_raw(Snapshot(at("20200104000000"), URL))
    assert raw.body == b"nearest"
    assert raw.headers["Memento-Datetime"] == "Sun, 05 Jan 2020 00:00:00 GMT"
    assert fake.hits["replay"] == 2


async def test_fetch_raw_keeps_redirects_off_the_archive(fake: FakeWayback, make_client: MakeClient) -> None:
    """An archived redirect to elsewhere is returned as captured, not followed."""
    fake.add_snapshot(URL, "20200101000000", b"", status=301, headers={"Location": "https://example.org/new"})
    raw = await make_client().fetch_raw(Snapshot(at("20200101000000"), URL))
    assert (raw.status, raw.headers["Location"]) == (301, "https://example.org/new")
    assert fake.hits["replay"] == 1


async def test_fetch_raw_without_capture(make_client: MakeClient) -> None:
    """No capture at all (404 without X-Archive-Src) is an ArchiveError."""
    with pytest.raises(ArchiveError, match="no capture"):
        await make_client().fetch_raw(Snapshot(at("20200101000000"), URL))


# Save Page Now 2 -------------------------------------------------------------------------------


async def test_capture_skipped_when_recently_archived(
    fake: FakeWayback, make_client: MakeClient, clock: FakeClock
) -> None:
    """A capture younger than the skip window is reused: no submission."""
    fake.add_snapshot(URL, ts_of(clock.utcnow() - timedelta(hours=2)), "<p/>")
    outcome = await make_client(skip_if_archived_within_hours=24).save(URL)
    assert outcome.status is WaybackStatus.SKIPPED
    assert outcome.snapshot_url == f"{fake.base_url}/web/{ts_of(clock.utcnow() - timedelta(hours=2))}/{URL}"
    assert fake.submissions == []


async def test_capture_old_snapshot_is_not_enough(
    fake: FakeWayback, make_client: MakeClient, clock: FakeClock
) -> None:
    """A capture older than the window does not stop a new one."""
    fake.add_snapshot(URL, ts_of(clock.utcnow() - timedelta(hours=30)), "<p/>")
    outcome = await make_client(skip_if_archived_within_hours=24).save(URL)
    assert outcome.status is WaybackStatus.SUCCESS
    assert len(fake.submissions) == 1


async def test_capture_success_after_polls(
    fake: FakeWayback, make_client: MakeClient, clock: FakeClock
) -> None:
    """Pending twice then success: the outcome has the job id, timestamp and replay URL."""
    outcome = await make_client().save(URL, wait_s=10)
    assert outcome.status is WaybackStatus.SUCCESS
    job = fake.jobs[outcome.job_id or ""]
    assert job.polls == 3
    assert outcome.timestamp is not None
    assert outcome.snapshot_url == f"{fake.base_url}/web/{job.timestamp}/{URL}"
    assert clock.t - clock.start == pytest.approx(3.0)


async def test_capture_pending_when_wait_runs_out(
    fake: FakeWayback, make_client: MakeClient, clock: FakeClock
) -> None:
    """A job still running after wait_s comes back pending with its job id: the verdict never waits."""
    fake.pending_polls = 100
    outcome = await make_client().save(URL, wait_s=3)
    assert outcome.status is WaybackStatus.PENDING
    assert outcome.job_id in fake.jobs
    assert clock.t - clock.start <= 3.0
    zero = await make_client().save("https://example.com/other", wait_s=0)
    assert zero.status is WaybackStatus.PENDING
    assert fake.jobs[zero.job_id or ""].polls == 0


async def test_auth_header_and_flags_with_keys(fake: FakeWayback, make_client: MakeClient) -> None:
    """With keys, SPN2 gets ``LOW key:secret`` and only the flags that are on."""
    await make_client(access_key="AK", secret_key="SK").submit(URL)
    (sub,) = fake.submissions
    assert sub.authorization == "LOW AK:SK"
    assert sub.form == {"url": URL, "capture_all": "1", "skip_first_archive": "1", "js_behavior_timeout": "0",
                        "if_not_archived_within": "24h"}  # fmt: skip


async def test_no_auth_header_without_keys(fake: FakeWayback, make_client: MakeClient) -> None:
    """Half a key pair is no key: no Authorization header, and the fake's 401 is a refusal of the
    account (final); ``save`` with it sends nothing at all (``no_credentials``)."""
    client = make_client(access_key=None, secret_key="only-one")
    with pytest.raises(SpnError) as caught:
        await client.submit(URL)
    assert (caught.value.code, caught.value.rule.scope, caught.value.rule.retryable) == (
        "http-401", Scope.ACCOUNT, False,
    )  # fmt: skip
    assert fake.submissions[0].authorization is None
    outcome = await client.save(URL)
    assert (outcome.status, outcome.code) == (WaybackStatus.SKIPPED, "no_credentials")
    assert len(fake.submissions) == 1


def test_within_flag() -> None:
    """Whole hours are sent as ``Nh``, fractions as seconds."""
    assert (within_flag(24), within_flag(1.5)) == ("24h", "5400")


async def test_429_penalizes_the_limiter(
    fake: FakeWayback, make_client: MakeClient, clock: FakeClock
) -> None:
    """A 429 raises with Retry-After and stops the next submission until it has passed."""
    fake.script.append("429")
    client = make_client()
    with pytest.raises(SpnError) as caught:
        await client.submit(URL)
    assert caught.value.retry_after_s == 30
    assert caught.value.rule.scope is Scope.ACCOUNT
    await client.submit(URL)
    assert fake.submissions[1].at - fake.submissions[0].at >= 30


async def test_session_limit_in_http_200_is_retried_later(fake: FakeWayback, make_client: MakeClient) -> None:
    """``user-session-limit`` inside HTTP 200 is an error outcome with a retry time, not a loss."""
    fake.script.append("user-session-limit")
    outcome = await make_client().save(URL)
    assert outcome.status is WaybackStatus.ERROR
    assert outcome.retryable
    assert outcome.retry_after_s == BACKOFF_S
    assert outcome.job_id is None


async def test_non_json_save_answer_is_transient(fake: FakeWayback, make_client: MakeClient) -> None:
    """An HTML page instead of JSON is retryable trouble."""
    fake.script.append("html")
    with pytest.raises(SpnError) as caught:
        await make_client().submit(URL)
    assert (caught.value.rule.scope, caught.value.rule.retryable) == (Scope.SERVICE, True)


async def test_failed_job_is_classified(fake: FakeWayback, make_client: MakeClient) -> None:
    """A job ending in a permanent error is not retryable; a transient one is."""
    fake.job_errors[URL] = "blocked-url"
    fake.job_errors["https://example.com/b"] = "soft-time-limit-exceeded"
    client = make_client(skip_if_archived_within_hours=0)
    blocked = await client.save(URL)
    assert (blocked.status, blocked.retryable) == (WaybackStatus.ERROR, False)
    assert blocked.job_id is not None
    slow = await client.save("https://example.com/b")
    assert (slow.status, slow.retryable) == (WaybackStatus.ERROR, True)


async def test_failure_confirmed_in_cdx_is_success(
    fake: FakeWayback, make_client: MakeClient, clock: FakeClock
) -> None:
    """SPN sometimes reports failure for a capture that worked: a new CDX row turns it into success."""
    fake.job_errors[URL] = "job-failed"
    fake.add_snapshot(URL, ts_of(clock.utcnow() + timedelta(seconds=2)), "<p>made it</p>")
    outcome = await make_client(skip_if_archived_within_hours=0).save(URL)
    assert outcome.status is WaybackStatus.SUCCESS
    assert "confirmed" in outcome.message


async def test_poll_follows_original_job(fake: FakeWayback, make_client: MakeClient) -> None:
    """A status naming ``original_job_id`` is answered by that job."""
    fake.pending_polls = 0
    fake.add_job(URL, job_id="spn2-original")
    fake.add_job(URL, job_id="spn2-reused", original_job_id="spn2-original")
    status = await make_client().poll("spn2-reused")
    assert (status.state, status.job_id) == (SpnState.SUCCESS, "spn2-original")
    assert fake.jobs["spn2-original"].polls == 1


async def test_user_status(fake: FakeWayback, make_client: MakeClient) -> None:
    """``/save/status/user`` gives available and processing sessions."""
    fake.max_active = 4
    fake.pending_polls = 100
    client = make_client()
    await client.submit(URL)
    status = await client.user_status()
    assert (status.available, status.processing, status.daily_captures) == (3, 1, 1)


# At-post lookups over a CDX that answers like the real server -----------------------------------

POSTED = at("20230610120000")


def _history(fake: FakeWayback, *, after: int = 30) -> None:
    """A page captured in 2017 (old text), in 2021 (the text at post time), again identically in
    2023 before the post (a revisit row), then ``after`` times after the post (new text)."""
    fake.add_snapshot(URL, "20170101000000", "<p>six years older</p>")
    right = fake.add_snapshot(URL, "20210301000000", "<p>the words at post time</p>")
    fake.add_snapshot(URL, "20220101000000", "<p>moved</p>", status=301)
    fake.add_revisit(URL, "20230501000000", right)
    for i in range(after):
        fake.add_snapshot(URL, f"2023{7 + i // 28:02d}{1 + i % 28:02d}000000", f"<p>edited {i}</p>")


@pytest.mark.parametrize("quirk", ["break", "stale_block"])
@pytest.mark.parametrize("ignores_range", [False, True])
async def test_at_post_lookup_takes_the_latest_capture_before_the_post(
    fake: FakeWayback,
    make_client: MakeClient,
    session: aiohttp.ClientSession,
    quirk: str,
    ignores_range: bool,
) -> None:
    """Over a CDX holding a revisit and 30 later captures, answering ``limit=-1`` the way the
    real servers do, the lookup picks the revisit (May 2023), the latest capture at or before the
    post, and its replay is the content it revisits; the old query gets it wrong."""
    fake.limit_quirk = quirk  # type: ignore[assignment]
    fake.closest_ignores_range = ignores_range
    _history(fake)
    old_way = {"url": URL, "output": "json", "to": ts_of(POSTED), "filter": "statuscode:200", "limit": "-1"}
    async with session.get(f"{fake.base_url}/cdx/search/cdx", params=old_way) as r:
        rows = await r.json()
    assert [row[1] for row in rows[1:]] != ["20230501000000"]  # empty (break) or 2017 (stale block)
    client = make_client()
    found = await client.closest_before(URL, POSTED)
    assert found is not None
    assert (found.ts14, found.mime) == ("20230501000000", "warc/revisit")
    raw = await client.fetch_raw(found)
    assert raw.body == b"<p>the words at post time</p>"
    assert all(q.get("limit") != "-1" and "filter" not in q for q in fake.cdx_queries[1:])


async def test_at_post_lookup_walks_windows_when_the_nearest_rows_are_all_later(
    fake: FakeWayback, make_client: MakeClient
) -> None:
    """When the 25 rows nearest the post are all after it (a server that ignores ``to`` with
    ``sort=closest``), ascending from/to windows ending at the post find the 2017 capture."""
    fake.closest_ignores_range = True
    fake.add_snapshot(URL, "20170101000000", "<p>old</p>")
    for i in range(30):
        fake.add_snapshot(URL, f"2023{7 + i // 28:02d}{1 + i % 28:02d}000000", f"<p>edited {i}</p>")
    found = await make_client().closest_before(URL, POSTED)
    assert found is not None
    assert found.ts14 == "20170101000000"
    windows = [q for q in fake.cdx_queries if "closest" not in q]
    assert [q.get("from", "")[:8] for q in windows] == ["20230511", "20220610", ""]


async def test_latest_counts_an_identical_recapture(fake: FakeWayback, make_client: MakeClient) -> None:
    """The newest capture may be a revisit row: it is the latest capture (of the same content)."""
    first = fake.add_snapshot(URL, "20200101000000", "<p>same</p>")
    fake.add_snapshot(URL, "20220101000000", "<p>other</p>")
    fake.add_revisit(URL, "20240101000000", first)
    found = await make_client().latest(URL)
    assert found is not None
    assert found.ts14 == "20240101000000"


# The fake speaks the documented SPN2 protocol ----------------------------------------------------


@pytest.mark.parametrize("code", sorted(DOC_ERRORS))
async def test_every_documented_error_gets_its_scope(
    fake: FakeWayback, make_client: MakeClient, code: str
) -> None:
    """Each error of the docs' table, answered inside HTTP 200, becomes an outcome with the
    table's scope and retryability and the code in its message."""
    fake.url_errors[URL] = code
    outcome = await make_client(skip_if_archived_within_hours=0).save(URL)
    rule = rule_for(code)
    assert (outcome.status, outcome.code, outcome.scope) == (WaybackStatus.ERROR, code, rule.scope)
    assert outcome.retryable is rule.retryable
    assert outcome.message.startswith(f"{code}: ")


async def test_recent_capture_not_yet_indexed_is_reused(
    fake: FakeWayback, make_client: MakeClient, clock: FakeClock
) -> None:
    """A capture made 10 minutes ago that CDX does not show yet (indexing lag): our own recent
    check finds nothing, so we submit, and SPN's ``if_not_archived_within`` answers with that
    capture instead of making a new one."""
    ten_ago = ts_of(clock.utcnow() - timedelta(minutes=10))
    fake.add_snapshot(URL, ten_ago, "<p>captured by someone else</p>", visible_at=clock.now() + 3600)
    outcome = await make_client().save(URL)
    assert outcome.status is WaybackStatus.SUCCESS
    assert outcome.timestamp == at(ten_ago)
    assert fake.submissions[0].form["if_not_archived_within"] == "24h"
    assert len(fake.captures[URL]) == 1  # nothing new was captured


async def test_new_capture_reaches_cdx_after_the_indexing_lag(
    fake: FakeWayback, make_client: MakeClient, clock: FakeClock
) -> None:
    """A capture SPN reports done is not in CDX until the lag has passed."""
    fake.index_lag_s = 300
    fake.pending_polls = 0
    client = make_client(skip_if_archived_within_hours=0)
    outcome = await client.save(URL)
    assert outcome.status is WaybackStatus.SUCCESS
    assert await client.latest(URL) is None
    clock.advance(301)
    found = await client.latest(URL)
    assert found is not None
    assert found.timestamp == outcome.timestamp
