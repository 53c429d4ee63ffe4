"""One post end to end over in-memory sources: every quote status and verdict, events, dedupe."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.pipeline.align.aligner import TextIndex, index_text
from service.pipeline.deps import Deps, open_deps
from service.pipeline.extract.health import probe_url
from service.pipeline.extract.pool import ExtractorPool
from service.pipeline.models import (
    EventKind,
    FetchResult,
    InputFormat,
    ProgressEvent,
    QuoteStatus,
    Report,
    SourceReason,
    SourceStatus,
    Verdict,
)
from service.pipeline.posts.reader import parse_post
from service.pipeline.state import IndexCache, SourceCache
from service.pipeline.verify import verify_post
from service.settings import ExtractSettings, HttpSettings, PostSettings, Settings, SettingsError
from tests.fakes.sources import FakeFetcher, TextExtractor
from tests.pipeline._warc_helpers import WHEN, Cap, write_warc
from tests.pipeline.extract.test_completeness import QUOTED as NESTED_QUOTE
from tests.pipeline.extract.test_completeness import nested_page

# The soft-404 probe is its own test below; here it would only add fetches to count.
NO_PROBE = Settings(http=HttpSettings(probe_soft_404=False))
A = "https://news.example/a"
B = "https://news.example/b"
PAGE_A = (
    "Council approves new budget\n"
    "The city council approved a budget of 42 million dollars on Tuesday, after a debate that lasted "
    "nearly six hours and ended with a narrow vote.\n"
    "The mayor said the plan would not raise taxes for residents this year, and promised to publish "
    "a detailed breakdown of the spending by the end of the month.\n"
    "Opponents argued that the library and the two public pools had been left without enough money "
    "to stay open through the summer months."
)
PAGE_B = (
    "Storm closes harbour\n"
    "Fishermen stayed ashore on Friday as a storm with winds of over ninety kilometres an hour closed "
    "the harbour for the second time this winter, the port authority said.\n"
)


def _deps(fetcher: FakeFetcher, events: list[ProgressEvent] | None = None) -> Deps:
    return Deps(
        settings=NO_PROBE,
        fetcher=fetcher,
        extractor=TextExtractor(),
        events=events.append if events is not None else None,
    )


def _statuses(report_quotes) -> list[str]:  # type: ignore[no-untyped-def]
    return [q.status.value for q in report_quotes]


async def test_faithful_post_is_verified_and_emits_events() -> None:
    """Copied paragraphs under their URL are verbatim; events announce sources and quotes."""
    text = (
        "The city council approved a budget of 42 million dollars on Tuesday, after a debate that "
        "lasted nearly six hours and ended with a narrow vote.\n\n" + A + "\n"
    )
    events: list[ProgressEvent] = []
    report = await verify_post(
        parse_post(text, InputFormat.TEXT), deps=_deps(FakeFetcher({A: PAGE_A}), events)
    )
    assert report.verdict.value == "verified"
    assert _statuses(report.quotes) == ["verbatim"]
    quote = report.quotes[0]
    assert quote.source is not None
    assert quote.source.exact.startswith("The city council approved")
    assert [e.kind for e in events] == [
        EventKind.POST_STARTED,
        EventKind.SOURCE_READ,
        EventKind.QUOTE_JUDGED,
        EventKind.POST_FINISHED,
    ]


async def test_altered_number_is_flagged_with_reason() -> None:
    """A changed figure in an explicit quote is altered, flagged, with number_changed."""
    text = (
        f'{A}\n\nThe council "approved a budget of 52 million dollars on Tuesday, after a debate that '
        'lasted nearly six hours".\n'
    )
    report = await verify_post(parse_post(text, InputFormat.TEXT), deps=_deps(FakeFetcher({A: PAGE_A})))
    assert report.verdict.value == "flagged"
    quote = next(q for q in report.quotes if q.explicit)
    assert quote.status is QuoteStatus.ALTERED
    assert quote.flagged
    assert "number_changed" in [r.value for r in quote.reasons]
    assert any(d.op.value == "replace" and "52" in d.post for d in quote.diff)


async def test_passage_under_the_wrong_link_is_misattributed() -> None:
    """Passages swapped between two links are misattributed and point at the page that has them."""
    text = (
        "Fishermen stayed ashore on Friday as a storm with winds of over ninety kilometres an hour "
        "closed the harbour for the second time this winter.\n\n" + A + "\n\n"
        "The mayor said the plan would not raise taxes for residents this year.\n\n" + B + "\n"
    )
    fetcher = FakeFetcher({A: PAGE_A, B: PAGE_B})
    report = await verify_post(parse_post(text, InputFormat.TEXT), deps=_deps(fetcher))
    assert _statuses(report.quotes) == ["misattributed", "misattributed"]
    assert [q.cited_url for q in report.quotes] == [A, B]
    assert [q.source.url if q.source else None for q in report.quotes] == [B, A]
    assert all(q.flagged for q in report.quotes)
    assert report.verdict.value == "flagged"


async def test_fabricated_explicit_quote_is_not_found_but_commentary_is_not_flagged() -> None:
    """An invented quote in quotation marks is flagged; the poster's own words are not."""
    text = (
        f'{A}\n\nThe mayor told reporters "we will close every school in the city by next spring".\n\n'
        "Honestly I think this whole council should resign before the summer is over.\n"
    )
    report = await verify_post(parse_post(text, InputFormat.TEXT), deps=_deps(FakeFetcher({A: PAGE_A})))
    explicit = [q for q in report.quotes if q.explicit]
    unmarked = [q for q in report.quotes if not q.explicit]
    assert explicit
    assert all(q.status is QuoteStatus.NOT_FOUND and q.flagged for q in explicit)
    assert [(q.status, q.flagged) for q in unmarked if q.text.startswith("Honestly")] == [
        (QuoteStatus.NOT_FOUND, False)
    ]
    assert all(not q.flagged for q in unmarked)


async def test_source_changed_when_only_the_at_post_version_matches() -> None:
    """Matching the capture from before the post but not the live page is source_changed."""
    edited = PAGE_A.replace("42 million", "45 million")
    text = (
        "The city council approved a budget of 42 million dollars on Tuesday, after a debate that "
        "lasted nearly six hours and ended with a narrow vote.\n\n" + A + "\n"
    )
    post = parse_post(text, InputFormat.TEXT, posted_at=datetime(2021, 1, 1, tzinfo=UTC))
    report = await verify_post(post, deps=_deps(FakeFetcher({A: edited}, then={A: PAGE_A})))
    assert _statuses(report.quotes) == ["source_changed"]
    assert not report.quotes[0].flagged
    assert report.sources[0].at_post is not None
    assert report.verdict.value == "verified"


async def test_dead_source_with_capture_is_checked_against_it() -> None:
    """A dead live page with an at-post capture is verified against the capture; it stays dead."""
    text = (
        "The city council approved a budget of 42 million dollars on Tuesday, after a debate that "
        "lasted nearly six hours and ended with a narrow vote.\n\n" + A + "\n"
    )
    post = parse_post(text, InputFormat.TEXT, posted_at=datetime(2021, 1, 1, tzinfo=UTC))
    fetcher = FakeFetcher({}, then={A: PAGE_A}, statuses={A: SourceStatus.DEAD})
    report = await verify_post(post, deps=_deps(fetcher))
    assert report.sources[0].status is SourceStatus.DEAD
    assert _statuses(report.quotes) == ["verbatim"]


async def test_unreadable_source_makes_quotes_unverifiable() -> None:
    """A refused source without a capture leaves its passages unverifiable, not flagged."""
    text = '"The city council approved a budget of 42 million dollars on Tuesday" says the paper.\n\n' + A
    fetcher = FakeFetcher({}, statuses={A: SourceStatus.REFUSED})
    report = await verify_post(parse_post(text, InputFormat.TEXT), deps=_deps(fetcher))
    assert report.verdict.value == "unverifiable"
    assert [(q.status, q.flagged) for q in report.quotes] == [(QuoteStatus.UNVERIFIABLE, False)]


async def test_no_citations_verdict() -> None:
    """A post that cites nothing gets no_citations."""
    report = await verify_post(
        parse_post('He said "we will win this war no matter what it costs" yesterday.', InputFormat.TEXT),
        deps=_deps(FakeFetcher({})),
    )
    assert report.verdict.value == "no_citations"


async def test_each_url_fetched_once_per_run() -> None:
    """Two posts citing the same page (one with tracking parameters) fetch it once."""
    fetcher = FakeFetcher({A: PAGE_A})
    deps = _deps(fetcher)
    for url in (A, A + "?utm_source=feed&fbclid=xyz"):
        text = "The mayor said the plan would not raise taxes for residents this year.\n\n" + url
        await verify_post(parse_post(text, InputFormat.TEXT), deps=deps)
    assert fetcher.calls == [A]


PAGE_Q = (
    "Storm closes harbour\n"
    "“We have never seen waves like these in thirty years of fishing,” the harbour master said on "
    "Friday, adding that the port would stay closed until the weekend.\n"
)
Q = "https://news.example/q"


async def test_copied_paragraph_with_quote_is_judged_whole() -> None:
    """A news paragraph whose words around the quote were changed is altered, not a faithful quote."""
    text = (
        "“We have never seen waves like these in thirty years of fishing,” the harbour master "
        "admitted on Friday, adding that the port would stay closed until the weekend.\n\n" + Q + "\n"
    )
    report = await verify_post(parse_post(text, InputFormat.TEXT), deps=_deps(FakeFetcher({Q: PAGE_Q})))
    assert _statuses(report.quotes) == ["altered"]
    assert report.quotes[0].text.startswith("“We have never")
    assert report.quotes[0].flagged


async def test_commentary_around_a_faithful_quote_is_not_flagged() -> None:
    """The poster's words around an exact quote are commentary; the quote itself is verbatim."""
    text = (
        "Read this part: “We have never seen waves like these in thirty years of fishing” and then "
        "tell me the council was ready for it, honestly.\n\n" + Q + "\n"
    )
    report = await verify_post(parse_post(text, InputFormat.TEXT), deps=_deps(FakeFetcher({Q: PAGE_Q})))
    assert not any(q.flagged for q in report.quotes)
    assert [q.status.value for q in report.quotes if q.explicit] == ["verbatim"]
    assert report.verdict.value == "verified"


async def test_attachment_follows_the_text_when_layout_misleads() -> None:
    """URLs that head their passages are read as such when the passages say so, not flagged."""
    text = (
        "What a week it has been for this little town of ours.\n\n"
        "Everybody here keeps arguing about the council and the storm.\n\n" + A + "\n\n"
        "The city council approved a budget of 42 million dollars on Tuesday, after a debate that "
        "lasted nearly six hours and ended with a narrow vote.\n\n"
        "The mayor said the plan would not raise taxes for residents this year.\n\n" + B + "\n\n"
        "Fishermen stayed ashore on Friday as a storm with winds of over ninety kilometres an hour "
        "closed the harbour for the second time this winter.\n"
    )
    report = await verify_post(
        parse_post(text, InputFormat.TEXT), deps=_deps(FakeFetcher({A: PAGE_A, B: PAGE_B}))
    )
    copied = [q for q in report.quotes if q.status is not QuoteStatus.NOT_FOUND]
    assert [q.status.value for q in copied] == ["verbatim", "verbatim", "verbatim"]
    assert [q.cited_url for q in copied] == [A, A, B]


async def test_copy_followed_by_own_line_is_split_not_flagged() -> None:
    """A copied sentence and the poster's own line with no blank line between: each on its own."""
    text = (
        "The mayor said the plan would not raise taxes for residents this year\n"
        "Honestly? Seems like a big deal for the whole town.\n\n" + A + "\n"
    )
    report = await verify_post(parse_post(text, InputFormat.TEXT), deps=_deps(FakeFetcher({A: PAGE_A})))
    assert not any(q.flagged for q in report.quotes)
    assert [q.status.value for q in report.quotes] == ["verbatim", "not_found"]
    first, second = report.quotes
    assert text[first.post_span[0] : first.post_span[1]] == first.text
    assert text[second.post_span[0] : second.post_span[1]] == second.text


async def test_extended_attribution_after_quote_is_altered() -> None:
    """Quote, real attribution, then invented words: the paragraph is a changed copy."""
    text = (
        "“We have never seen waves like these in thirty years of fishing,” the harbour master said on "
        "Friday, and everybody knew it was a lie.\n\n" + Q + "\n"
    )
    report = await verify_post(parse_post(text, InputFormat.TEXT), deps=_deps(FakeFetcher({Q: PAGE_Q})))
    assert [q.status.value for q in report.quotes] == ["altered"]
    assert "extended" in [r.value for r in report.quotes[0].reasons]


async def test_passage_under_an_unreadable_link_is_unverifiable_not_misattributed() -> None:
    """A dead link's passage found on another cited page proves nothing against the dead link."""
    gone = "https://gone.example/x"
    text = (
        "The mayor said the plan would not raise taxes for residents this year.\n\n" + gone + "\n\n"
        "The city council approved a budget of 42 million dollars on Tuesday.\n\n" + A + "\n"
    )
    fetcher = FakeFetcher({A: PAGE_A}, statuses={gone: SourceStatus.DEAD})
    report = await verify_post(parse_post(text, InputFormat.TEXT), deps=_deps(fetcher))
    assert _statuses(report.quotes) == ["unverifiable", "verbatim"]
    assert not report.quotes[0].flagged
    assert report.verdict.value == "verified"


async def test_quotes_without_any_citation_are_unverifiable() -> None:
    """No link, nothing to check against: quotes are unverifiable, not flagged, verdict no_citations."""
    post = parse_post(
        'He said "we will win this war whatever it costs us in the end" today.', InputFormat.TEXT
    )
    report = await verify_post(post, deps=_deps(FakeFetcher({})))
    assert report.verdict.value == "no_citations"
    assert [(q.status.value, q.flagged) for q in report.quotes if q.explicit] == [("unverifiable", False)]


async def test_all_sources_failing_is_unverifiable_even_without_quotes() -> None:
    """A bare link that cannot be read verifies nothing."""
    report = await verify_post(parse_post(A, InputFormat.TEXT), deps=_deps(FakeFetcher({})))
    assert report.quotes == ()
    assert report.verdict.value == "unverifiable"


async def test_one_word_changed_in_a_short_copied_line_is_altered() -> None:
    """Short unmarked lines have no long run left after one change; they are still copies."""
    text = "The mayor said the plan would raise taxes for residents this year.\n\n" + A + "\n"
    report = await verify_post(parse_post(text, InputFormat.TEXT), deps=_deps(FakeFetcher({A: PAGE_A})))
    assert _statuses(report.quotes) == ["altered"]
    assert "negation_changed" in [r.value for r in report.quotes[0].reasons]


async def test_soft_404_probe_is_one_fixed_path_per_origin() -> None:
    """The pages of one host are compared with one made-up path of its origin, the same on every
    run and whichever page is read first (so a replay, reading in another order, asks for it too)."""
    quoted = {
        A: "The mayor said the plan would not raise taxes for residents this year.",
        B: "Fishermen stayed ashore on Friday as a storm with winds of over ninety kilometres an hour "
        "closed the harbour for the second time this winter.",
    }
    calls = []
    for order in ((A, B), (B, A), (A, B)):
        text = "".join(f"{quoted[url]}\n\n{url}\n\n" for url in order)
        fetcher = FakeFetcher({A: PAGE_A, B: PAGE_B})
        deps = Deps(settings=Settings(), fetcher=fetcher, extractor=TextExtractor())
        report = await verify_post(parse_post(text, InputFormat.TEXT), deps=deps)
        assert report.verdict.value == "verified"
        calls.append(sorted(fetcher.calls))
    assert calls[0] == calls[1] == calls[2]
    [probe] = [url for url in calls[0] if url not in {A, B}]
    assert probe == probe_url("https://news.example/")
    assert calls[0] == sorted([A, B, probe])


async def test_hostile_page_times_out_and_the_rest_of_the_post_goes_on() -> None:
    """A page that keeps the extractor busy past its limit is error/extraction_timeout; the other
    source of the post is still read and its passage verified."""
    from service.pipeline.extract.pool import ExtractorPool
    from service.settings import ExtractSettings

    flood = "<html><body><article>" + "<p>word and more words here</p>" * 60_000 + "</article></body></html>"
    html_b = f"<html><body><article><p>{PAGE_B.splitlines()[1]}</p></article></body></html>"

    class HtmlFetcher(FakeFetcher):
        async def fetch(self, url: str) -> FetchResult:
            found = await super().fetch(url)
            return replace(found, content_type="text/html")

    fetcher = HtmlFetcher({A: flood, B: html_b})
    text = (
        "Fishermen stayed ashore on Friday as a storm with winds of over ninety kilometres an hour "
        "closed the harbour for the second time this winter.\n\n" + B + "\n\n"
        '"Something the flood page would never say at all"\n\n' + A + "\n"
    )
    async with ExtractorPool(ExtractSettings(workers=1, timeout_s=0.5)) as pool:
        deps = Deps(settings=NO_PROBE, fetcher=fetcher, extractor=pool)
        report = await verify_post(parse_post(text, InputFormat.TEXT), deps=deps)
    by_url = {s.url: s for s in report.sources}
    assert (by_url[A].status, by_url[A].reason) == (SourceStatus.ERROR, "extraction_timeout")
    assert by_url[B].status is SourceStatus.OK
    assert _statuses(report.quotes) == ["verbatim", "unverifiable"]


async def test_post_citing_151_pages_reads_each_once_and_indexes_each_text_once(tmp_path: Path) -> None:
    """A long post citing 151 pages (replayed from a local WARC) finishes; every source is read
    once and every text indexed once, though the post has more texts than the index cache keeps."""
    rng = random.Random(151)
    vocabulary = [f"w{n}x" for n in range(3000)]
    pages, blocks = [], []
    for n in range(151):
        url = f"https://site{n % 7}.example/story/{n}"
        paragraphs = [" ".join(rng.choice(vocabulary) for _ in range(60)) for _ in range(4)]
        body = "".join(f"<p>{p}.</p>" for p in paragraphs)
        html = f"<html><head><title>Story {n}</title></head><body><article>{body}</article></body></html>"
        pages.append(Cap(url, WHEN, html.encode()))
        own = " ".join(rng.choice(["we", "think", "so", "not", "really", "maybe"]) for _ in range(30))
        blocks.append(f"> {' '.join(paragraphs[1].split()[:30])}\n\n{own.capitalize()}.\n\n{url}")
    warc = write_warc(tmp_path / "pages.warc.gz", pages)
    settings = Settings(
        http=HttpSettings(probe_soft_404=False), extract=ExtractSettings(workers=0), replay=(warc,)
    )
    built: Counter[str] = Counter()

    def counting(text: str) -> TextIndex:
        built[text] += 1
        return index_text(text)

    post = parse_post("\n\n".join(blocks) + "\n", InputFormat.TEXT)
    async with open_deps(settings) as opened:
        deps = replace(opened, indexes=IndexCache(counting, size=128))
        report = await verify_post(post, deps=deps)
        assert isinstance(deps.cache, SourceCache)
        assert deps.cache.reads == 151
    assert len(report.sources) == 151
    assert all(s.status is SourceStatus.OK for s in report.sources)
    assert sum(q.status is QuoteStatus.VERBATIM for q in report.quotes) >= 151
    assert len(built) > 128  # more texts than the cache keeps ...
    assert set(built.values()) == {1}  # ... and still each indexed once


async def _verify_nested(depth: int) -> Report:
    """A post quoting the introduction and the deepest sentence of a page nested ``depth`` deep,
    read by the real extractor (inline)."""
    url = "https://deep.example/story"
    post = parse_post(
        f'The page opens with "An introduction that comes first." and ends with "{NESTED_QUOTE}"\n\n{url}\n',
        InputFormat.TEXT,
    )
    deps = Deps(
        settings=NO_PROBE,
        fetcher=FakeFetcher({url: nested_page(depth).decode()}),
        extractor=ExtractorPool(ExtractSettings(workers=0)),
    )
    return await verify_post(post, deps=deps)


async def test_a_page_cut_short_by_the_parser_depth_limit_leaves_its_missing_quotes_unverifiable() -> None:
    """Pages nested 255 and 10,000 deep lose everything past libxml2's depth limit: the source
    stays ok and readable with the reason ``extraction_incomplete``; the quote from the top is
    verbatim, the one from the lost bottom unverifiable and not flagged (issue 13, point 3)."""
    for depth in (255, 10_000):
        report = await _verify_nested(depth)
        [source] = report.sources
        assert (source.status, source.reason) == (SourceStatus.OK, SourceReason.EXTRACTION_INCOMPLETE)
        assert [(q.status, q.flagged) for q in report.quotes if q.explicit] == [
            (QuoteStatus.VERBATIM, False),
            (QuoteStatus.UNVERIFIABLE, False),
        ], depth
        assert not [q for q in report.quotes if q.flagged]
        assert report.verdict is Verdict.VERIFIED


async def test_a_nested_page_within_the_limit_is_read_whole() -> None:
    """The same page nested 200 deep is complete: no reason, both quotes verbatim."""
    report = await _verify_nested(200)
    [source] = report.sources
    assert (source.status, source.reason) == (SourceStatus.OK, None)
    assert [q.status for q in report.quotes if q.explicit] == [QuoteStatus.VERBATIM, QuoteStatus.VERBATIM]


async def test_sources_are_read_at_most_the_connection_limit_at_a_time_in_citation_order() -> None:
    """Ten cited pages and a connection limit of 3: never more than 3 reads at once, every page
    read once, and the report lists the sources in citation order."""
    urls = [f"https://news.example/s{n}" for n in range(10)]
    running, most = 0, 0

    class Slow(FakeFetcher):
        async def fetch(self, url: str) -> FetchResult:
            nonlocal running, most
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.01 * (len(url) % 3))
            running -= 1
            return await super().fetch(url)

    fetcher = Slow(dict.fromkeys(urls, PAGE_A))
    settings = Settings(http=HttpSettings(probe_soft_404=False, limit=3))
    text = "\n\n".join(f"The city council approved a budget. {url}" for url in urls) + "\n"
    deps = Deps(settings=settings, fetcher=fetcher, extractor=TextExtractor())
    report = await verify_post(parse_post(text, InputFormat.TEXT), deps=deps)
    assert [s.url for s in report.sources] == urls
    assert sorted(fetcher.calls) == sorted(urls)
    assert most == 3


# ---------------------------------------------------------------- the link limit (PostSettings.max_links)


async def test_links_past_the_limit_are_reported_too_many_links_and_never_fetched() -> None:
    """With a limit of 2, the first two cited URLs (in the post's order) are read; the third and
    fourth still appear as sources, ``error``/``too_many_links``, unfetched, and a quote standing
    with one of them is ``unverifiable``, not flagged."""
    page = "The harbour reopened on Monday after the storm, and the first boats left before dawn."
    urls = [f"https://site{i}.example/a" for i in range(4)]
    text = "\n\n".join(f'"{page}"\n{url}' for url in urls)
    fetcher = FakeFetcher(dict.fromkeys(urls, page))
    settings = Settings(http=HttpSettings(probe_soft_404=False), post=PostSettings(max_links=2))
    deps = Deps(settings=settings, fetcher=fetcher, extractor=TextExtractor())
    report = await verify_post(parse_post(text), deps=deps)
    assert [(s.url, s.status.value, s.reason) for s in report.sources] == [
        (urls[0], "ok", None), (urls[1], "ok", None),
        (urls[2], "error", "too_many_links"), (urls[3], "error", "too_many_links"),
    ]  # fmt: skip
    assert sorted(fetcher.calls) == urls[:2]
    assert [q.status.value for q in report.quotes] == ["verbatim", "verbatim", "unverifiable", "unverifiable"]
    assert not report.flagged


def test_the_link_limit_and_the_post_cap_are_settings() -> None:
    """``PROVENANCE_MAX_LINKS`` and ``PROVENANCE_MAX_POST_CHARS`` are read at the entry point
    (defaults 1,000 and 100,000), and a bad value names its variable."""
    assert Settings.from_env({}).post == PostSettings(max_chars=100_000, max_links=1_000)
    env = {"PROVENANCE_MAX_LINKS": "5", "PROVENANCE_MAX_POST_CHARS": "2000000"}
    assert Settings.from_env(env).post == PostSettings(max_chars=2_000_000, max_links=5)
    with pytest.raises(SettingsError, match="PROVENANCE_MAX_LINKS"):
        PostSettings.from_env({"PROVENANCE_MAX_LINKS": "0"})
