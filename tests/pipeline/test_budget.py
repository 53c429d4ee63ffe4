"""Wall-clock budgets of a post and of a batch (``BudgetSettings``): what was read by then is
judged, what was not is ``budget_exhausted``, and every post and line still gets its report."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

from service.pipeline.batch import run_batch
from service.pipeline.deps import Deps
from service.pipeline.models import EventKind, FetchResult, InputFormat, ProgressEvent, QuoteStatus
from service.pipeline.posts.reader import parse_post
from service.pipeline.verify import verify_post
from service.settings import BudgetSettings, HttpSettings, Settings
from tests.fakes.sources import FakeFetcher, TextExtractor

FAST = "https://fast.example/a"
SLOW = "https://slow.example/b"
PAGE_FAST = "The harbour reopened on Monday after the storm, and the first boats left before dawn.\n"
PAGE_SLOW = "The council met on Tuesday and voted to keep the library open through the summer.\n"
POST = f"{PAGE_FAST}\n{FAST}\n\n{PAGE_SLOW}\n{SLOW}\n"


@dataclass
class SlowFetcher(FakeFetcher):
    """A ``FakeFetcher`` whose ``slow`` URLs take ``delay`` seconds to answer (forever: None)."""

    slow: frozenset[str] = frozenset()
    delay: float | None = None
    cancelled: list[str] = field(default_factory=list)

    async def fetch(self, url: str) -> FetchResult:
        if url in self.slow:
            try:
                if self.delay is None:
                    await asyncio.Event().wait()
                await asyncio.sleep(self.delay or 0)
            except asyncio.CancelledError:
                self.cancelled.append(url)
                raise
        return await super().fetch(url)


def _deps(fetcher: FakeFetcher, budget: BudgetSettings, events: list[ProgressEvent] | None = None) -> Deps:
    settings = Settings(http=HttpSettings(probe_soft_404=False), budget=budget)
    return Deps(settings=settings, fetcher=fetcher, extractor=TextExtractor(),
                events=events.append if events is not None else None)  # fmt: skip


def _fetcher(delay: float | None = None) -> SlowFetcher:
    return SlowFetcher({FAST: PAGE_FAST, SLOW: PAGE_SLOW}, slow=frozenset({SLOW}), delay=delay)


# ---------------------------------------------------------------- one post


async def test_post_past_its_budget_reports_what_it_read() -> None:
    """A source that never answers is cut at the post's 0.3 s budget: ``error``/``budget_exhausted``,
    its quote ``unverifiable``; the other source and its quote are judged as usual."""
    fetcher = _fetcher()
    events: list[ProgressEvent] = []
    started = time.monotonic()
    report = await verify_post(parse_post(POST, InputFormat.TEXT),
                               deps=_deps(fetcher, BudgetSettings(post_s=0.3), events))  # fmt: skip
    took = time.monotonic() - started
    by_url = {s.url: s for s in report.sources}
    assert (by_url[FAST].status.value, by_url[FAST].reason) == ("ok", None)
    assert (by_url[SLOW].status.value, by_url[SLOW].reason) == ("error", "budget_exhausted")
    assert [(q.cited_url, q.status) for q in report.quotes] == [
        (FAST, QuoteStatus.VERBATIM), (SLOW, QuoteStatus.UNVERIFIABLE)
    ]  # fmt: skip
    assert report.error is None
    assert fetcher.cancelled == [SLOW]  # its read was stopped, not left running
    assert 0.25 < took < 1.5
    read = [e.data["url"] for e in events if e.kind is EventKind.SOURCE_READ]
    assert sorted(read) == sorted([FAST, SLOW])  # the unread source is announced too


async def test_no_budget_waits_for_every_source() -> None:
    """With no post budget (0 in the settings: None) a slow source is waited for and read."""
    report = await verify_post(parse_post(POST, InputFormat.TEXT),
                               deps=_deps(_fetcher(0.4), BudgetSettings(post_s=None)))  # fmt: skip
    assert [s.status.value for s in report.sources] == ["ok", "ok"]
    assert [q.status for q in report.quotes] == [QuoteStatus.VERBATIM, QuoteStatus.VERBATIM]


async def test_callers_deadline_wins_when_earlier() -> None:
    """``until`` (a batch's deadline) cuts the reads before a longer post budget would."""
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    report = await verify_post(parse_post(POST, InputFormat.TEXT),
                               deps=_deps(_fetcher(), BudgetSettings(post_s=30.0)),
                               until=loop.time() + 0.3)  # fmt: skip
    assert time.monotonic() - started < 1.5
    assert [s.reason for s in report.sources] == [None, "budget_exhausted"]


# ---------------------------------------------------------------- a batch


async def test_batch_past_its_budget_reports_every_line() -> None:
    """One post at a time and a 1 s batch budget: p0 and p1 are read at once; p2 cites a page that
    never answers and is cut at the deadline (its source ``budget_exhausted``, its report written);
    p3 to p5 are never started and get an error report ``budget_exhausted`` each; the bad line keeps
    its own error. Every line has its report, in input order."""
    stuck = f"{SLOW}/never"
    fetcher = SlowFetcher({FAST: PAGE_FAST, SLOW: PAGE_SLOW}, slow=frozenset({stuck}))
    lines = [json.dumps({"id": f"p{i}", "text": POST if i < 2 else POST.replace(SLOW, stuck)}) + "\n"
             for i in range(6)]  # fmt: skip
    lines.insert(4, "not json\n")
    out: list[str] = []
    started = time.monotonic()
    deps = _deps(fetcher, BudgetSettings(post_s=None, batch_s=1.0))
    summary = await run_batch(lines, out.append, deps=deps, concurrency=1)
    took = time.monotonic() - started
    reports = [json.loads(line) for line in out]
    assert [r["id"] for r in reports] == ["p0", "p1", "p2", "p3", None, "p4", "p5"]
    codes = [r["error"]["code"] if r["error"] else None for r in reports]
    assert codes == [None, None, None, "budget_exhausted", "bad_json", "budget_exhausted", "budget_exhausted"]
    assert [r["verdict"] for r in reports[:2]] == ["verified", "verified"]
    assert [(s["status"], s["reason"]) for s in reports[2]["sources"]] == [
        ("ok", None), ("error", "budget_exhausted")
    ]  # fmt: skip
    assert [q["status"] for q in reports[2]["quotes"]] == ["verbatim", "unverifiable"]
    assert "ran out before this post was started" in reports[3]["error"]["message"]
    assert (summary.posts, summary.errors, summary.not_started) == (7, 4, 3)
    assert fetcher.cancelled == [stuck]  # p2's read, stopped; posts not started asked for nothing
    assert 0.9 < took < 2.5


async def test_batch_without_a_budget_is_not_cut() -> None:
    """No batch budget: a post that takes a while is waited for; nothing is ``budget_exhausted``."""
    lines = [json.dumps({"id": f"p{i}", "text": POST}) for i in range(2)]
    out: list[str] = []
    summary = await run_batch(lines, out.append, deps=_deps(_fetcher(0.3), BudgetSettings(post_s=None)))
    assert summary.not_started == 0
    assert all(json.loads(line)["verdict"] == "verified" for line in out)
