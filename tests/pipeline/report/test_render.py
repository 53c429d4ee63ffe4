"""Tests for service.pipeline.report.render: JSON, terminal text and the self-contained HTML page."""

from __future__ import annotations

import json
from html import escape
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.pipeline.models import (
    AtPostCapture,
    DiffOp,
    DiffPart,
    FailureCode,
    QuoteReport,
    QuoteSource,
    QuoteStatus,
    Reason,
    Redirect,
    Report,
    SourceReason,
    SourceReport,
    SourceStatus,
    StageFailure,
    Verdict,
    WaybackEntry,
    WaybackStatus,
)
from service.pipeline.report.render import is_commentary, render_html, render_json, render_text

ARTICLE = "https://news.example/article"
FINAL = "https://www.news.example/article"
DEAD = "https://gone.example/page"
FRAGMENT = "https://www.news.example/article#:~:text=rate%20rose%205%25"
ALTERED_DIFF = (
    DiffPart(DiffOp.EQUAL, "The rate rose", "The rate rose"),
    DiffPart(DiffOp.REPLACE, "50%", "5%"),
    DiffPart(DiffOp.EQUAL, "last year", "last year"),
    DiffPart(DiffOp.DELETE, "", "in Ohio"),
    DiffPart(DiffOp.INSERT, "everywhere", ""),
)
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "span", "strong", "table", "thead",
    "tbody", "tr", "th", "td", "a", "details", "summary", "ol", "ul", "li", "article", "blockquote", "del",
    "ins", "dl", "dt", "dd", "br", "caption", "div",
}  # fmt: skip


def _source_at(url: str = FINAL) -> QuoteSource:
    return QuoteSource(
        url=url,
        span=(120, 152),
        exact="The rate rose 5% last year",
        prefix="Officials said ",
        suffix=" in Ohio.",
        text_fragment_url=FRAGMENT,
    )


def _quote(
    status: QuoteStatus,
    *,
    text: str = "a passage",
    flagged: bool = False,
    explicit: bool = True,
    cited_url: str | None = ARTICLE,
    source: QuoteSource | None = None,
    diff: tuple[DiffPart, ...] = (),
    reasons: tuple[Reason, ...] = (),
) -> QuoteReport:
    return QuoteReport(
        text=text,
        post_span=(0, len(text)),
        explicit=explicit,
        cited_url=cited_url,
        status=status,
        flagged=flagged,
        score=0.5,
        source=source,
        diff=diff,
        reasons=reasons,
    )


def _sources() -> tuple[SourceReport, ...]:
    ok = SourceReport(
        url=ARTICLE,
        final_url=FINAL,
        status=SourceStatus.OK,
        redirects=(Redirect(ARTICLE, 301),),
        http_status=200,
        title="Rates rise",
        author="A. Writer",
        published="2024-03-01",
        sha256="0123456789abcdef" * 4,
        fetched_at="2025-01-01T00:00:00Z",
        archive_wayback=WaybackEntry(WaybackStatus.SUCCESS, "https://web.archive.org/web/2024/x", "2024"),
        at_post=AtPostCapture("2024-03-02T00:00:00Z", None, None),
    )
    dead = SourceReport(
        url=DEAD,
        final_url=DEAD,
        status=SourceStatus.DEAD,
        reason=SourceReason.for_http_status(404),
        http_status=404,
    )
    return ok, dead


def _every_status() -> tuple[QuoteReport, ...]:
    return (
        _quote(QuoteStatus.VERBATIM, text="verbatim words", source=_source_at()),
        _quote(QuoteStatus.COSMETIC, text="cosmetic words"),
        _quote(QuoteStatus.ELIDED, text="elided … words"),
        _quote(
            QuoteStatus.ALTERED,
            text="The rate rose 50% last year everywhere",
            flagged=True,
            source=_source_at(),
            diff=ALTERED_DIFF,
            reasons=(Reason.NUMBER_CHANGED, Reason.WORDS_INSERTED),
        ),
        _quote(QuoteStatus.MISATTRIBUTED, text="misattributed words", flagged=True),
        _quote(QuoteStatus.NOT_FOUND, text="invented words", flagged=True),
        _quote(QuoteStatus.SOURCE_CHANGED, text="edited words"),
        _quote(QuoteStatus.UNVERIFIABLE, text="unreadable words", cited_url=DEAD),
        _quote(QuoteStatus.NOT_FOUND, text="In my opinion this is nonsense", explicit=False, cited_url=None),
    )


def _report(
    quotes: tuple[QuoteReport, ...] | None = None,
    sources: tuple[SourceReport, ...] | None = None,
    *,
    post_id: str | None = "post-7",
    posted_at: str | None = "2024-03-02T10:00:00Z",
    verdict: Verdict = Verdict.FLAGGED,
    error: StageFailure | None = None,
) -> Report:
    return Report(
        id=post_id,
        posted_at=posted_at,
        verdict=verdict,
        checked_at="2025-01-01T00:00:00Z",
        generator_version="0.1.0",
        sources=_sources() if sources is None else sources,
        quotes=_every_status() if quotes is None else quotes,
        error=error,
    )


class _Page(HTMLParser):
    """Collects what a browser would see: tags, hrefs and the text inside each blockquote."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.hrefs: list[str] = []
        self.anchors: list[dict[str, str | None]] = []
        self.blockquotes: list[str] = []
        self._in_quote = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "a":
            self.anchors.append(dict(attrs))
            self.hrefs += [v or "" for k, v in attrs if k == "href"]
        if tag == "blockquote":
            self._in_quote = True
            self.blockquotes.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "blockquote":
            self._in_quote = False

    def handle_data(self, data: str) -> None:
        if self._in_quote:
            self.blockquotes[-1] += data


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


# ---------------------------------------------------------------- json


def test_json_round_trips_to_the_contract_dict() -> None:
    """render_json parses back to exactly Report.to_dict(), with non-ASCII text left readable."""
    report = _report(quotes=(*_every_status(), _quote(QuoteStatus.VERBATIM, text="café « déjà »")))
    rendered = render_json(report)
    assert json.loads(rendered) == report.to_dict()
    assert "café « déjà »" in rendered
    assert rendered.startswith("{\n  ")


# ---------------------------------------------------------------- text


def test_text_header_names_verdict_id_and_post_time() -> None:
    """The first line carries the verdict in capitals and the post's id and time."""
    first = render_text(_report(), color=False).splitlines()[0]
    assert "FLAGGED" in first
    assert "post-7" in first
    assert "2024-03-02T10:00:00Z" in first


def test_text_header_omits_unset_id() -> None:
    """Without an id or post time the header does not print empty placeholders."""
    first = render_text(
        _report(post_id=None, posted_at=None, verdict=Verdict.VERIFIED), color=False
    ).splitlines()[0]
    assert "VERIFIED" in first
    assert "id=" not in first
    assert "posted_at" not in first


@pytest.mark.parametrize(
    ("label", "mark"),
    [
        ("VERBATIM", "✓"),
        ("COSMETIC", "✓"),
        ("ELIDED", "✓"),
        ("ALTERED", "✗"),
        ("MISATTRIBUTED", "✗"),
        ("NOT FOUND", "✗"),
        ("SOURCE CHANGED", "~"),
        ("UNVERIFIABLE", "?"),
    ],
)
def test_text_labels_every_status_with_its_mark(label: str, mark: str) -> None:
    """Each status appears as an upper-case label, flagged ones with ✗ and faithful ones with ✓."""
    assert f"{mark} {label}" in render_text(_report(), color=False)


def test_text_plain_diff_uses_word_diff_markers() -> None:
    """Without colour an altered quote's diff reads as [-source-]{+post+} with no escape codes."""
    text = render_text(_report(), color=False)
    assert "The rate rose [-5%-]{+50%+} last year [-in Ohio.-]{+everywhere+}" in text
    assert "\x1b" not in text


def test_text_colour_paints_deletions_red_and_insertions_green() -> None:
    """With colour the diff markers are wrapped in red-strikethrough and green ANSI sequences."""
    text = render_text(_report(), color=True)
    assert "\x1b[31;9m[-5%-]\x1b[0m\x1b[32m{+50%+}\x1b[0m" in text
    assert "\x1b[1;31mFLAGGED\x1b[0m" in text


def test_text_lists_sources_with_resolution_details() -> None:
    """Sources show URL, final URL with redirect count, HTTP status, reason and title."""
    text = render_text(_report(), color=False)
    assert f"[ok] {ARTICLE}  HTTP 200" in text
    assert f"→ {FINAL} (1 redirect)" in text
    assert "title: Rates rise" in text
    assert f"[dead] {DEAD}  HTTP 404" in text
    assert "reason: http_404" in text


def test_text_shows_reasons_and_cited_url() -> None:
    """An altered quote lists its reasons and the URL it is attributed to."""
    text = render_text(_report(), color=False)
    assert "reasons: number_changed, words_inserted" in text
    assert f"✗ ALTERED  score 0.50  {ARTICLE}" in text


def test_text_puts_commentary_apart_not_as_a_failure() -> None:
    """Unmarked, unflagged not_found passages are listed at the end as commentary, not as NOT FOUND."""
    text = render_text(_report(), color=False)
    head, _, tail = text.partition("Commentary, not checked (1)")
    assert "In my opinion this is nonsense" in tail
    assert "In my opinion" not in head
    assert text.count("NOT FOUND") == 1


def test_text_summary_counts_each_status() -> None:
    """The last line counts quotes per status, commentary separately, and the flagged ones."""
    last = render_text(_report(), color=False).rstrip().splitlines()[-1]
    assert last.startswith("Summary: 1 verbatim, 1 cosmetic, 1 elided, 1 altered, 1 misattributed")
    assert "1 not found, 1 source changed, 1 unverifiable, 1 commentary, 3 flagged" in last


def test_text_shortens_long_quotes_at_a_word() -> None:
    """A long passage is cut to about 200 characters on a word boundary, marked with an ellipsis."""
    long_text = " ".join(f"word{i}" for i in range(300))
    text = render_text(_report(quotes=(_quote(QuoteStatus.VERBATIM, text=long_text),)), color=False)
    line = next(ln for ln in text.splitlines() if "word0 " in ln)
    assert line.rstrip().endswith('…"')
    assert 150 < len(line.strip()) <= 205
    assert "word299" not in text


def test_text_shows_terminal_escapes_from_hostile_input_as_text() -> None:
    """Escape sequences inside a title or quote are printed visibly, never sent to the terminal."""
    hostile = SourceReport(url=ARTICLE, final_url=ARTICLE, status=SourceStatus.OK, title="x\x1b]0;pwned\x07")
    quote = _quote(QuoteStatus.VERBATIM, text="evil\x1b[2J\x9b31m\u202etxt.exe")
    text = render_text(_report(quotes=(quote,), sources=(hostile,)), color=True)
    assert "\x1b]" not in text
    assert "\x1b[2J" not in text
    assert "\x9b" not in text
    assert "\u202e" not in text
    assert "evil\\x1b[2J\\x9b31m\\u202etxt.exe" in text


def test_text_shows_the_report_error() -> None:
    """A report that failed as a whole says why."""
    report = _report(quotes=(), sources=(), error=StageFailure(FailureCode.BAD_INPUT, "not JSON"))
    assert "error: bad_input: not JSON" in render_text(report, color=False)


# ---------------------------------------------------------------- html


def test_html_is_one_self_contained_page() -> None:
    """The page is HTML5 with a utf-8 charset, inline CSS and no scripts or external assets."""
    page = render_html(_report())
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in page
    assert "<style>" in page
    parsed = _parse(page)
    assert parsed.tags <= ALLOWED_TAGS
    assert not {"script", "link", "img", "iframe"} & parsed.tags
    assert " src=" not in page


def test_html_shows_verdict_prominently() -> None:
    """The verdict stands in the page's heading."""
    page = render_html(_report())
    assert '<h1>Verdict: <span class="verdict v-flagged">FLAGGED</span></h1>' in page


def test_html_escapes_script_in_a_quote() -> None:
    """A quote holding a script tag comes out as text, not markup."""
    quote = _quote(QuoteStatus.ALTERED, text="<script>alert(1)</script>", flagged=True, diff=ALTERED_DIFF)
    page = render_html(_report(quotes=(quote,)))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page
    assert _parse(page).blockquotes == ["<script>alert(1)</script>"]


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", " JavaScript:alert(1)", "java\tscript:alert(1)", "data:text/html,x"]
)
def test_html_never_links_non_http_urls(url: str) -> None:
    """Cited and source URLs that are not http(s) are shown as text, never as an href."""
    source = SourceReport(url=url, final_url=url, status=SourceStatus.UNSUPPORTED)
    where = QuoteSource(url=url, span=(0, 1), exact="x", prefix="", suffix="", text_fragment_url=url)
    quote = _quote(QuoteStatus.VERBATIM, cited_url=url, source=where)
    parsed = _parse(render_html(_report(quotes=(quote,), sources=(source,))))
    assert parsed.hrefs == []


def test_html_links_every_source_url() -> None:
    """Each source's URL and final URL become links that do not leak the referrer."""
    parsed = _parse(render_html(_report()))
    for url in (ARTICLE, FINAL, DEAD, "https://web.archive.org/web/2024/x"):
        assert url in parsed.hrefs
    assert all(a["rel"] == "noopener noreferrer" for a in parsed.anchors)
    assert all(href.startswith("https://") for href in parsed.hrefs)


def test_html_links_the_text_fragment() -> None:
    """A located quote carries an 'open in source' link to its text fragment URL."""
    page = render_html(_report())
    assert (
        f'<a href="{escape(FRAGMENT)}" rel="noopener noreferrer" target="_blank">open in source</a>' in page
    )


def test_html_marks_the_diff_with_del_and_ins() -> None:
    """An altered quote's diff shows source words in <del> and post words in <ins>."""
    page = render_html(_report())
    assert (
        "The rate rose <del>5%</del><ins>50%</ins> last year <del>in Ohio.</del><ins>everywhere</ins>" in page
    )


def test_html_shows_badges_reasons_and_selector() -> None:
    """Cards carry a status badge, reasons, and the TextQuoteSelector inside a details element."""
    page = render_html(_report())
    for status in QuoteStatus:
        assert f'class="badge st-{status.value}"' in page
    assert "<li>number_changed</li><li>words_inserted</li>" in page
    assert "<details><summary>Where in the source (TextQuoteSelector)</summary>" in page
    assert "<dt>prefix</dt><dd>Officials said </dd><dt>exact</dt><dd>The rate rose 5% last year</dd>" in page


def test_html_source_table_has_metadata() -> None:
    """The sources table shows author, publication date, a shortened hash and the reason."""
    page = render_html(_report())
    assert "<td>A. Writer</td><td>2024-03-01</td>" in page
    assert '<span title="' + "0123456789abcdef" * 4 + '">0123456789ab…</span>' in page
    assert "<td>http_404</td>" in page


def test_html_puts_commentary_apart() -> None:
    """The poster's own words are listed under a commentary heading, not as a quote card."""
    page = render_html(_report())
    cards, _, commentary = page.partition("Commentary, not checked (1)")
    assert "In my opinion this is nonsense" in commentary
    assert "In my opinion" not in cards


def test_is_commentary_only_for_unmarked_unflagged_not_found() -> None:
    """Only unmarked, unflagged not_found passages count as the poster's commentary."""
    assert is_commentary(_quote(QuoteStatus.NOT_FOUND, explicit=False))
    assert not is_commentary(_quote(QuoteStatus.NOT_FOUND, explicit=True, flagged=True))
    assert not is_commentary(_quote(QuoteStatus.VERBATIM, explicit=False))


# ---------------------------------------------------------------- properties

_HOSTILE = st.sampled_from(["<script>alert(1)</script>", "<scr", "</blockquote><b>", '"><a href=x>', "&lt;"])
_TEXTS = st.lists(st.one_of(st.text(), _HOSTILE), max_size=4).map("".join)
_PRINTABLE = st.text(st.characters(exclude_categories=("Cc", "Cf", "Cs")))


@given(_TEXTS)
def test_html_quote_text_never_becomes_markup(text: str) -> None:
    """Whatever a quote holds, the page gains no tag from it and no raw '<scr' appears."""
    quote = _quote(QuoteStatus.ALTERED, text=text, flagged=True, diff=(DiffPart(DiffOp.REPLACE, text, text),))
    source = SourceReport(url=text, final_url=text, status=SourceStatus.OK, title=text)
    page = render_html(_report(quotes=(quote, _quote(QuoteStatus.NOT_FOUND, text=text, explicit=False))))
    page_with_source = render_html(_report(quotes=(quote,), sources=(source,)))
    for rendered in (page, page_with_source):
        assert "<scr" not in rendered
        assert _parse(rendered).tags <= ALLOWED_TAGS


@given(st.lists(st.one_of(_PRINTABLE, _HOSTILE), max_size=4).map("".join))
def test_html_quote_text_reads_back_unchanged(text: str) -> None:
    """Printable quote text appears in escaped form and a browser reads back exactly the text."""
    page = render_html(_report(quotes=(_quote(QuoteStatus.VERBATIM, text=text),)))
    assert escape(text.replace("\r", "\n"), quote=True) in page
    assert _parse(page).blockquotes == [text.replace("\r", "\n")]


@given(_TEXTS)
def test_plain_text_never_holds_control_characters(text: str) -> None:
    """render_text without colour emits no escape or other control character, whatever the input."""
    source = SourceReport(url=text, final_url=text + "/", status=SourceStatus.DEAD, title=text)
    quote = _quote(QuoteStatus.ALTERED, text=text, flagged=True, cited_url=text, diff=ALTERED_DIFF)
    rendered = render_text(_report(quotes=(quote,), sources=(source,), post_id=text), color=False)
    assert not any(ord(ch) < 0x20 and ch != "\n" for ch in rendered)
    assert not any(0x7F <= ord(ch) <= 0x9F for ch in rendered)


def test_evidence_is_shown_in_text_and_html() -> None:
    """The WARC record, the Wayback capture and the at-post capture appear, with links where http."""
    from service.pipeline.models import (
        AtPostCapture,
        Report,
        SourceReport,
        SourceStatus,
        Verdict,
        WarcEntry,
        WaybackEntry,
        WaybackStatus,
    )

    source = SourceReport(
        url="https://news.example/a",
        final_url="https://news.example/a",
        status=SourceStatus.OK,
        archive_warc=WarcEntry("warc/provenance-1.warc.gz", 1234, None, None, "2024-01-01T00:00:00+00:00"),
        archive_wayback=WaybackEntry(WaybackStatus.PENDING, job_id="spn2-abc"),
        at_post=AtPostCapture(
            "2023-03-01T12:00:00Z", "ab" * 32, "https://web.archive.org/web/20230301120000/x"
        ),
    )
    report = Report(id=None, posted_at=None, verdict=Verdict.VERIFIED, checked_at="t",
                    generator_version="0", sources=(source,))  # fmt: skip
    text = render_text(report, color=False)
    assert "WARC warc/provenance-1.warc.gz @1234" in text
    assert "Wayback pending job spn2-abc" in text
    assert "at post: 2023-03-01T12:00:00Z https://web.archive.org/web/20230301120000/x" in text
    page = render_html(report)
    assert 'href="https://web.archive.org/web/20230301120000/x"' in page
    assert "WARC warc/provenance-1.warc.gz @1234" in page


def _elided_and_misattributed() -> tuple[QuoteReport, ...]:
    gap = (
        DiffPart(DiffOp.EQUAL, "her client did", "her client did"),
        DiffPart(DiffOp.DELETE, "", "not"),
        DiffPart(DiffOp.EQUAL, "intend harm", "intend harm"),
    )
    misleading = _quote(
        QuoteStatus.ALTERED,
        text="her client did … intend harm",
        flagged=True,
        diff=gap,
        reasons=(Reason.MISLEADING_ELISION,),
    )
    wrong = QuoteReport(
        text="misattributed words",
        post_span=(0, 19),
        explicit=True,
        cited_url=ARTICLE,
        status=QuoteStatus.MISATTRIBUTED,
        flagged=True,
        score=1.0,
        found_in=DEAD,
    )
    return misleading, wrong


def test_text_names_where_a_misattributed_quote_was_found_and_what_each_ellipsis_removed() -> None:
    """A person reads in which cited page the quote stands and the words each ellipsis dropped."""
    out = render_text(_report(quotes=_elided_and_misattributed()), color=False)
    assert f"found in: {DEAD}" in out
    assert 'ellipsis 1 removed: "not"' in out
    assert "reasons: misleading_elision" in out
    assert "[-not-]" in out


def test_html_names_where_a_misattributed_quote_was_found_and_what_each_ellipsis_removed() -> None:
    """The HTML card links the page the quote was found in and lists each ellipsis's removed words."""
    page = render_html(_report(quotes=_elided_and_misattributed()))
    assert DEAD in _parse(page).hrefs
    assert "found in:" in page
    assert '<ol class="gaps"><li><del>not</del></li></ol>' in page


def _cosmetic(
    text: str, exact: str, words: str, *, prefix: str = "He said ", suffix: str = " today"
) -> QuoteReport:
    """A cosmetic quote whose diff, as the aligner builds it, is one run of equal words."""
    source = QuoteSource(
        url=FINAL, span=(0, len(exact)), exact=exact, prefix=prefix, suffix=suffix, text_fragment_url=FRAGMENT
    )
    return _quote(
        QuoteStatus.COSMETIC, text=text, source=source, diff=(DiffPart(DiffOp.EQUAL, words, words),)
    )


def test_text_cosmetic_diff_shows_the_punctuation_that_changed() -> None:
    """Quotation marks and a comma changed, words equal: the diff shows the chunks that differ."""
    quote = _cosmetic(
        '\u201cWe will not, he said, stop"', '"We will not he said, stop"', "We will not he said stop"
    )
    text = render_text(_report((quote,)), color=False)
    diff = next(line for line in text.splitlines() if line.strip().startswith("diff:"))
    assert '[-"We-]{+\u201cWe+}' in diff
    assert "[-not-]{+not,+}" in diff
    assert "said, stop" in diff


def test_html_cosmetic_diff_shows_the_punctuation_that_changed() -> None:
    """The HTML diff marks the changed punctuation with <del>/<ins> and keeps unchanged punctuation."""
    quote = _cosmetic("It was fine; really.", "It was fine, really", "It was fine really", suffix=". More")
    page = render_html(_report((quote,)))
    assert "It was <del>fine,</del><ins>fine;</ins> really." in page


def test_diff_falls_back_to_words_when_the_source_context_lacks_them() -> None:
    """Words the source's context does not hold (a spliced match) are shown as the diff gives them."""
    quote = _cosmetic("alpha, beta", "gamma delta", "alpha beta", prefix="", suffix="")
    text = render_text(_report((quote,)), color=False)
    assert "diff: [-alpha-]{+alpha,+} beta" in text


def _changed_report() -> Report:
    then = AtPostCapture("2024-03-02T00:00:00Z", "fedcba9876543210" * 4, "https://web.archive.org/web/2024/a")
    source = SourceReport(
        url=ARTICLE, final_url=FINAL, status=SourceStatus.OK, http_status=200,
        sha256="0123456789abcdef" * 4, fetched_at="2025-01-01T00:00:00Z", at_post=then,
    )  # fmt: skip
    quote = _quote(QuoteStatus.SOURCE_CHANGED, text="The rate rose 5% last year", source=_source_at())
    return _report((quote,), (source,), verdict=Verdict.VERIFIED)


def test_text_source_changed_shows_then_versus_now() -> None:
    """A source_changed quote shows the at-post capture (date, digest, link) against the live read,
    and the passage's words as the page had them then."""
    text = render_text(_changed_report(), color=False)
    assert (
        "then: captured 2024-03-02T00:00:00Z, sha256 fedcba987654… https://web.archive.org/web/2024/a" in text
    )
    assert f"now: fetched 2025-01-01T00:00:00Z, sha256 0123456789ab… {FINAL}" in text
    assert 'then: the passage read: "The rate rose 5% last year"' in text
    assert "now: the live page no longer has these words" in text


def test_html_source_changed_shows_then_versus_now() -> None:
    """The HTML card of a source_changed quote carries a then-versus-now table with both links."""
    page = render_html(_changed_report())
    assert "Then versus now" in page
    assert 'href="https://web.archive.org/web/2024/a"' in page
    assert "captured 2024-03-02T00:00:00Z, sha256 fedcba987654…" in page
    assert "fetched 2025-01-01T00:00:00Z" in page
    assert _parse(page).tags <= ALLOWED_TAGS


def test_then_versus_now_only_for_source_changed() -> None:
    """Other statuses carry no then-versus-now lines; the source_changed one among them does."""
    others = _report(tuple(q for q in _every_status() if q.status is not QuoteStatus.SOURCE_CHANGED))
    assert "Then versus now" not in render_html(others)
    assert "then: captured" not in render_text(others, color=False)
    assert "then: captured" in render_text(_report(), color=False)


def test_diff_words_are_found_whole_not_inside_other_words() -> None:
    """A replaced "in" is looked up as a whole word: the "in" inside "Remaining" does not capture it,
    so the source's side is found as written, its full stop kept."""
    quote = _quote(
        QuoteStatus.ALTERED,
        text="Only here",
        source=QuoteSource(
            url=FINAL,
            span=(0, 17),
            exact="Remaining in Ohio",
            prefix="",
            suffix=".",
            text_fragment_url=FRAGMENT,
        ),
        diff=(DiffPart(DiffOp.EQUAL, "Only", "Only"), DiffPart(DiffOp.REPLACE, "here", "in Ohio")),
    )
    text = render_text(_report((quote,)), color=False)
    assert "diff: Only [-in Ohio.-]{+here+}" in text
