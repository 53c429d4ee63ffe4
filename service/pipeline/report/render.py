"""Reports for people and scripts: the contract's JSON, a terminal summary, one self-contained HTML page.

Pure functions of a ``Report``. Every string in a report may come from a hostile post or page, so the
text renderer shows control characters as visible escapes (a page title cannot smuggle terminal escape
sequences) and the HTML renderer escapes everything and links only http(s) URLs.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from html import escape

from service.pipeline.models import (
    FAITHFUL_STATUSES,
    DiffOp,
    QuoteReport,
    QuoteStatus,
    Reason,
    Report,
    SourceReport,
    SourceStatus,
    Verdict,
)

__all__ = ["is_commentary", "render_html", "render_json", "render_text"]

TEXT_QUOTE_LIMIT = 200
COMMENTARY_LIMIT = 80

# C0/C1 controls (not tab/newline), DEL, lone surrogates, and the bidi controls that reorder text on
# screen: shown as visible escapes so neither a terminal nor a reader can be fooled by them.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_HTTP_URL = re.compile(r"https?://[^\x00-\x20\x7f]+", re.IGNORECASE)

_CSP = "default-src 'none'; style-src 'unsafe-inline'"
_RED, _GREEN, _YELLOW, _BOLD_RED = "31", "32", "33", "1;31"
_DELETED, _INSERTED = "31;9", "32"


def _visible(text: str) -> str:
    def show(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _UNSAFE.sub(show, text)


def _one_line(text: str | None) -> str:
    """Untrusted text made safe for one terminal line: whitespace collapsed, controls visible."""
    return _visible(" ".join((text or "").split()))


def _shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary when one is near, marked with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip() + "…"


def is_commentary(quote: QuoteReport) -> bool:
    """An unmarked passage found in no source: the poster's own words, not a failed quote."""
    return quote.status is QuoteStatus.NOT_FOUND and not quote.explicit and not quote.flagged


def _label(status: QuoteStatus | SourceStatus | Verdict) -> str:
    return status.value.replace("_", " ")


def _mark(quote: QuoteReport) -> str:
    if quote.flagged:
        return "✗"
    if quote.status in FAITHFUL_STATUSES:
        return "✓"
    return "?" if quote.status is QuoteStatus.UNVERIFIABLE else "~"


_CHUNK = re.compile(r"\S+")
_Piece = tuple[DiffOp, str]


def _located(text: str, words: list[str], cursor: int) -> tuple[int, int] | None:
    """Where ``words`` stand in ``text`` from ``cursor``, each a whole word: the first anywhere after
    it, the others each right after the one before (nothing but punctuation and spaces between).
    None when they do not."""
    start = end = -1
    for word in words:
        if word == "…":  # a long gap shown by its two ends
            continue
        hit = re.compile(rf"(?<!\w){re.escape(word)}(?!\w)").search(text, cursor if start < 0 else end)
        if hit is None or (start >= 0 and any(ch.isalnum() for ch in text[end : hit.start()])):
            return None
        at = hit.start()
        start = at if start < 0 else start
        end = at + len(word)
    return (start, end) if start >= 0 else None


def _surfaces(text: str, cursor: int, runs: list[str]) -> list[str | None]:
    """Each run of words as ``text`` writes it, punctuation kept: from the start of its first word's
    whitespace-delimited chunk to the end of its last word's chunk, never into a neighbouring run."""
    found: list[tuple[int, int] | None] = []
    for run in runs:
        words = run.split()
        where = _located(text, words, cursor) if words else None
        found.append(where)
        if where is not None:
            cursor = where[1]
    chunks = [m.span() for m in _CHUNK.finditer(text)]
    out: list[str | None] = []
    for k, where in enumerate(found):
        if where is None or "…" in runs[k].split():
            out.append(None)
            continue
        lo = max((a for a, b in chunks if a <= where[0] < b), default=where[0])
        hi = min((b for a, b in chunks if a < where[1] <= b), default=where[1])
        before = [f[1] for f in found[:k] if f is not None]
        after = [f[0] for f in found[k + 1 :] if f is not None]
        lo = max(lo, before[-1]) if before else lo
        hi = min(hi, after[0]) if after else hi
        out.append(" ".join(text[lo:hi].split()))
    return out


def _finer(source: str, post: str) -> list[_Piece]:
    """Words equal for comparison but written differently (a quotation mark, a comma, a capital):
    the chunks that differ shown as a deletion and an insertion."""
    from difflib import SequenceMatcher

    a, b = source.split(), post.split()
    pieces: list[_Piece] = []
    for tag, a0, a1, b0, b1 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            pieces.append((DiffOp.EQUAL, " ".join(b[b0:b1])))
            continue
        pieces.append((DiffOp.DELETE, " ".join(a[a0:a1])))
        pieces.append((DiffOp.INSERT, " ".join(b[b0:b1])))
    return pieces


def _diff_segments(quote: QuoteReport) -> list[_Piece]:
    """Reading-order pieces: equal words, deleted source words, inserted post words.

    A replace becomes a delete then an insert. Each piece is shown as written, punctuation kept (the
    post's side from the passage, the source's from the matched text and its context), so that a
    cosmetic difference can be seen; where the words cannot be found as written, they are shown as
    the diff gives them. Whitespace is collapsed and the renderers put one space between pieces.
    """
    diff = quote.diff
    post_side = _surfaces(quote.text, 0, [part.post for part in diff])
    src = quote.source
    context = (src.prefix + src.exact + src.suffix) if src is not None else ""
    src_side = _surfaces(context, len(src.prefix) if src is not None else 0, [p.source for p in diff])
    pieces: list[_Piece] = []
    for part, shown_post, shown_src in zip(diff, post_side, src_side, strict=True):
        post = shown_post or part.post
        source = shown_src or part.source
        if part.op is DiffOp.EQUAL:
            same = " ".join(post.split()) == " ".join(source.split())
            pieces += (
                [(DiffOp.EQUAL, post or source)] if same or not (post and source) else _finer(source, post)
            )
            continue
        if part.op in (DiffOp.DELETE, DiffOp.REPLACE):
            pieces.append((DiffOp.DELETE, source))
        if part.op in (DiffOp.INSERT, DiffOp.REPLACE):
            pieces.append((DiffOp.INSERT, post))
    return [(op, " ".join(text.split())) for op, text in pieces if text.strip()]


def _joined(pieces: list[tuple[DiffOp, str]], rendered: list[str]) -> str:
    """One space between pieces, none between a deletion and the insertion that replaces it."""
    out: list[str] = []
    previous: DiffOp | None = None
    for (op, _), text in zip(pieces, rendered, strict=True):
        if out and not (previous is DiffOp.DELETE and op is DiffOp.INSERT):
            out.append(" ")
        out.append(text)
        previous = op
    return "".join(out)


def render_json(report: Report) -> str:
    """The contract's report as indented JSON, non-ASCII kept readable."""
    return json.dumps(report.to_dict(), ensure_ascii=False, indent=2)


# ---------------------------------------------------------------- text


def _paint(text: str, codes: str, color: bool) -> str:
    return f"\x1b[{codes}m{text}\x1b[0m" if color and text else text


def _text_diff(quote: QuoteReport, color: bool) -> str:
    pieces = _diff_segments(quote)
    rendered = []
    for op, words in pieces:
        words = _visible(words)
        if op is DiffOp.DELETE:
            words = _paint(f"[-{words}-]", _DELETED, color)
        elif op is DiffOp.INSERT:
            words = _paint(f"{{+{words}+}}", _INSERTED, color)
        rendered.append(words)
    return _joined(pieces, rendered)


def _text_header(report: Report, color: bool) -> list[str]:
    verdict = _label(report.verdict).upper()
    tone = {Verdict.FLAGGED: _BOLD_RED, Verdict.VERIFIED: _GREEN}.get(report.verdict, _YELLOW)
    head = f"provenance: {_paint(verdict, tone, color)}"
    if report.id is not None:
        head += f"  id={_one_line(report.id)}"
    if report.posted_at is not None:
        head += f"  posted_at={_one_line(report.posted_at)}"
    made = f"checked {_one_line(report.checked_at)} by provenance {_one_line(report.generator_version)}"
    lines = [head, made]
    if report.error is not None:
        lines.append(f"error: {_one_line(report.error.code)}: {_one_line(report.error.message)}")
    return lines


def _text_source(source: SourceReport, color: bool) -> list[str]:
    tone = _GREEN if source.status is SourceStatus.OK else _RED
    head = f"  [{_paint(_label(source.status), tone, color)}] {_one_line(source.url)}"
    if source.http_status is not None:
        head += f"  HTTP {source.http_status}"
    lines = [head]
    if source.final_url != source.url or source.redirects:
        hops = len(source.redirects)
        lines.append(f"      → {_one_line(source.final_url)} ({hops} redirect{'s' if hops != 1 else ''})")
    if source.reason:
        lines.append(f"      reason: {_one_line(source.reason)}")
    if source.title:
        lines.append(f"      title: {_shorten(_one_line(source.title), TEXT_QUOTE_LIMIT)}")
    for line, link in _evidence(source):
        lines.append(f"      {_one_line(line)}" + (f" {_one_line(link)}" if link else ""))
    return lines


def _gaps(quote: QuoteReport) -> list[str]:
    """What each ellipsis of an elided (or misleadingly elided) passage removed from the source."""
    if quote.status is not QuoteStatus.ELIDED and Reason.MISLEADING_ELISION not in quote.reasons:
        return []
    return [" ".join(d.source.split()) for d in quote.diff if d.op is DiffOp.DELETE and not d.post]


def _cited_source(report: Report, quote: QuoteReport) -> SourceReport | None:
    return next((s for s in report.sources if quote.cited_url in (s.url, s.final_url)), None)


def _then_and_now(report: Report, quote: QuoteReport) -> list[tuple[str, str, str | None]]:
    """For a ``source_changed`` passage: the page as it was when posted against the page read now.

    Each row is (when, what, link): the at-post capture's date and digest, the live read's, and the
    passage's words as the at-post version wrote them (the live version no longer holds them).
    """
    if quote.status is not QuoteStatus.SOURCE_CHANGED:
        return []
    source = _cited_source(report, quote)
    rows: list[tuple[str, str, str | None]] = []
    if source is not None and source.at_post is not None:
        then = source.at_post
        digest = f"sha256 {then.sha256[:12]}…" if then.sha256 else "no digest"
        rows.append(("then", f"captured {then.captured_at}, {digest}", then.archive_url))
    if source is not None:
        digest = f"sha256 {source.sha256[:12]}…" if source.sha256 else "no digest"
        rows.append(("now", f"fetched {source.fetched_at or 'at check time'}, {digest}", source.final_url))
    if quote.source is not None:
        rows.append(("then", f'the passage read: "{" ".join(quote.source.exact.split())}"', None))
        rows.append(("now", "the live page no longer has these words as quoted", None))
    return rows


def _text_quote(quote: QuoteReport, color: bool, report: Report) -> list[str]:
    tone = _BOLD_RED if quote.flagged else _GREEN if quote.status in FAITHFUL_STATUSES else _YELLOW
    label = _paint(f"{_mark(quote)} {_label(quote.status).upper()}", tone, color)
    cited = _one_line(quote.cited_url) if quote.cited_url else "(no citation)"
    lines = [f"  {label}  score {quote.score:.2f}  {cited}"]
    lines.append(f'      "{_shorten(_one_line(quote.text), TEXT_QUOTE_LIMIT)}"')
    if quote.found_in:
        lines.append(f"      found in: {_one_line(quote.found_in)}")
    if quote.reasons:
        lines.append(f"      reasons: {', '.join(r.value for r in quote.reasons)}")
    lines += [f'      ellipsis {n} removed: "{_visible(gap)}"' for n, gap in enumerate(_gaps(quote), 1)]
    for when, what, link in _then_and_now(report, quote):
        lines.append(f"      {when}: {_one_line(what)}" + (f" {_one_line(link)}" if link else ""))
    if quote.diff and quote.status is not QuoteStatus.VERBATIM:
        lines.append(f"      diff: {_text_diff(quote, color)}")
    return lines


def _summary(report: Report) -> str:
    counts = Counter(q.status for q in report.quotes if not is_commentary(q))
    parts = [f"{counts[s]} {_label(s)}" for s in QuoteStatus if counts[s]]
    commentary = sum(1 for q in report.quotes if is_commentary(q))
    if commentary:
        parts.append(f"{commentary} commentary")
    parts.append(f"{sum(1 for q in report.quotes if q.flagged)} flagged")
    return ", ".join(parts)


def render_text(report: Report, *, color: bool) -> str:
    """A report for a person at a terminal; ANSI colours only when ``color`` is set."""
    lines = _text_header(report, color)
    lines += ["", f"Sources ({len(report.sources)})"]
    for source in report.sources:
        lines += _text_source(source, color)
    checked = [q for q in report.quotes if not is_commentary(q)]
    commentary = [q for q in report.quotes if is_commentary(q)]
    lines += ["", f"Quotes ({len(checked)})"]
    for quote in checked:
        lines += _text_quote(quote, color, report)
    if commentary:
        lines += ["", f"Commentary, not checked ({len(commentary)})"]
        lines += [f'  - "{_shorten(_one_line(q.text), COMMENTARY_LIMIT)}"' for q in commentary]
    lines += ["", f"Summary: {_summary(report)}"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- html


def _h(text: str | None) -> str:
    lines = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    return escape(_visible(lines), quote=True)


def _link(url: str | None, text: str | None = None) -> str:
    """An anchor for an http(s) URL; anything else (``javascript:``, ``data:``) stays inert text."""
    if not url:
        return ""
    shown = _h(text if text is not None else url)
    if not _HTTP_URL.fullmatch(url) or _UNSAFE.search(url):
        return f'<span class="url">{shown}</span>'
    return f'<a href="{_h(url)}" rel="noopener noreferrer" target="_blank">{shown}</a>'


_CSS = """
body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1d1d1f}
h1{font-size:1.6rem}.verdict{padding:.2rem .7rem;border-radius:.4rem;color:#fff}
.v-flagged{background:#b3261e}.v-verified{background:#1b7f3b}.v-unverifiable,.v-no_citations{background:#6b6b6b}
.meta,.score,.cited{color:#555;font-size:.9rem}table{border-collapse:collapse;width:100%;font-size:.85rem}
td,th{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{white-space:nowrap;word-break:normal;overflow-wrap:normal}td.u{overflow-wrap:anywhere;min-width:12rem}
.scroll{overflow-x:auto;max-width:100%}.sources td{min-width:4rem}
@media (max-width:40rem){body{margin:1rem auto;padding:0 .5rem}.sources td.u{min-width:10rem}}
.quote{border:1px solid #ddd;border-left:.4rem solid #999;border-radius:.4rem;margin:1rem 0;
padding:.5rem 1rem}
.quote.flagged{border-left-color:#b3261e;background:#fff7f6}
blockquote{margin:.5rem 0;padding-left:.8rem;border-left:3px solid #ccc;white-space:pre-wrap}
.badge{display:inline-block;padding:0 .5rem;border-radius:.3rem;color:#fff;font-weight:600;background:#6b6b6b}
.st-verbatim,.st-cosmetic,.st-ok{background:#1b7f3b}.st-elided{background:#2f7d8c}
.st-altered,.st-misattributed,.st-not_found,.st-dead,.st-soft_404{background:#b3261e}.st-source_changed{background:#a15c00}
del{background:#fdd;color:#8a1111}ins{background:#dfd;color:#0d5c24;text-decoration:none}
.diff{font-family:ui-monospace,monospace;font-size:.9rem;white-space:pre-wrap}
dd{white-space:pre-wrap;margin-left:1rem}.url{color:#555}
""".strip()


def _html_diff(quote: QuoteReport) -> str:
    pieces = _diff_segments(quote)
    tags = {DiffOp.DELETE: "del", DiffOp.INSERT: "ins"}
    rendered = [f"<{tags[op]}>{_h(w)}</{tags[op]}>" if op in tags else _h(w) for op, w in pieces]
    return _joined(pieces, rendered)


def _html_source(source: SourceReport) -> str:
    hops = "".join(f"<li>{r.status} {_link(r.url)}</li>" for r in source.redirects)
    redirects = f"<details><summary>{len(source.redirects)}</summary><ol>{hops}</ol></details>"
    sha = f'<span title="{_h(source.sha256)}">{_h(source.sha256[:12])}…</span>' if source.sha256 else ""
    cells = [
        f'<span class="badge st-{_h(source.status.value)}">{_h(_label(source.status))}</span>',
        _link(source.url),
        _link(source.final_url) if source.final_url != source.url else "",
        redirects if hops else "0",
        str(source.http_status) if source.http_status is not None else "",
        _h(source.title),
        _h(source.author),
        _h(source.published),
        sha,
        "<br>".join(_h(line) if not link else _link(link, line) for line, link in _evidence(source)),
        _h(source.reason),
    ]
    urls = {1, 2, 9}  # URL, final URL, evidence: long unbroken addresses may wrap anywhere
    return (
        "<tr>"
        + "".join(f'<td class="u">{c}</td>' if k in urls else f"<td>{c}</td>" for k, c in enumerate(cells))
        + "</tr>"
    )


def _evidence(source: SourceReport) -> list[tuple[str, str | None]]:
    """What backs a source up: its WARC record, its Wayback capture, the version at post time.

    Each line comes with a link when there is an http(s) address to open.
    """
    lines: list[tuple[str, str | None]] = []
    warc = source.archive_warc
    if warc:
        lines.append((f"WARC {warc.file} @{warc.offset}", None))
    wayback = source.archive_wayback
    if wayback:
        job = f" job {wayback.job_id}" if wayback.job_id else ""
        lines.append((f"Wayback {wayback.status.value}{job}", wayback.url))
    if source.at_post is not None:
        where = source.at_post.archive_url
        lines.append((f"at post: {source.at_post.captured_at}", where))
    return lines


def _html_selector(quote: QuoteReport) -> str:
    if quote.source is None:
        return ""
    src = quote.source
    rows = [("url", _link(src.url)), ("span", f"{src.span[0]}–{src.span[1]}")]
    rows += [("prefix", _h(src.prefix)), ("exact", _h(src.exact)), ("suffix", _h(src.suffix))]
    items = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows)
    return f"<details><summary>Where in the source (TextQuoteSelector)</summary><dl>{items}</dl></details>"


def _html_quote(quote: QuoteReport, report: Report) -> str:
    status = quote.status.value
    parts = [
        f'<article class="quote{" flagged" if quote.flagged else ""}"><p>',
        f'<span class="badge st-{_h(status)}">{_h(_mark(quote))} {_h(_label(quote.status))}</span> ',
        f'<span class="score">score {quote.score:.2f}</span> ',
        f'<span class="cited">cited: {_link(quote.cited_url) or "none"}</span></p>',
        f"<blockquote>{_h(quote.text)}</blockquote>",
    ]
    if quote.found_in:
        parts.append(f'<p class="found-in">found in: {_link(quote.found_in)}</p>')
    if quote.source is not None and quote.source.text_fragment_url:
        parts.append(f"<p>{_link(quote.source.text_fragment_url, 'open in source')}</p>")
    gaps = _gaps(quote)
    if gaps:
        items = "".join(f"<li><del>{_h(gap)}</del></li>" for gap in gaps)
        parts.append(f'<p>What each ellipsis removed:</p><ol class="gaps">{items}</ol>')
    changed = _then_and_now(report, quote)
    if changed:
        rows = "".join(
            f"<tr><th>{_h(when)}</th><td>{_link(link, what) if link else _h(what)}</td></tr>"
            for when, what, link in changed
        )
        parts.append(f'<table class="then-now"><caption>Then versus now</caption>{rows}</table>')
    if quote.diff and quote.status is not QuoteStatus.VERBATIM:
        parts.append(f'<p class="diff">{_html_diff(quote)}</p>')
    if quote.reasons:
        parts.append("<ul>" + "".join(f"<li>{_h(r.value)}</li>" for r in quote.reasons) + "</ul>")
    parts.append(_html_selector(quote) + "</article>")
    return "".join(parts)


def _html_body(report: Report) -> list[str]:
    verdict = report.verdict.value
    meta = [f"id {_h(report.id)}"] if report.id else []
    meta += [f"posted {_h(report.posted_at)}"] if report.posted_at else []
    meta += [f"checked {_h(report.checked_at)}", f"provenance {_h(report.generator_version)}"]
    body = [
        f'<h1>Verdict: <span class="verdict v-{verdict}">{_h(_label(report.verdict).upper())}</span></h1>',
        f'<p class="meta">{" · ".join(meta)}</p>',
        f"<p><strong>Summary:</strong> {_h(_summary(report))}</p>",
    ]
    if report.error is not None:
        body.append(f"<p><strong>Error:</strong> {_h(report.error.code)}: {_h(report.error.message)}</p>")
    heads = ("URL", "Final URL", "Redirects", "HTTP", "Title", "Author", "Published", "SHA-256", "Evidence")
    body.append(f'<h2>Sources ({len(report.sources)})</h2><div class="scroll"><table class="sources">')
    body.append("<thead><tr><th>Status</th>")
    body.append("".join(f"<th>{h}</th>" for h in (*heads, "Reason")) + "</tr></thead><tbody>")
    body += [_html_source(s) for s in report.sources]
    body.append("</tbody></table></div>")
    checked = [q for q in report.quotes if not is_commentary(q)]
    body.append(f"<h2>Quotes ({len(checked)})</h2>")
    body += [_html_quote(q, report) for q in checked]
    commentary = [q for q in report.quotes if is_commentary(q)]
    if commentary:
        body.append(f"<h2>Commentary, not checked ({len(commentary)})</h2><ul>")
        body += [f"<li>{_h(q.text)}</li>" for q in commentary]
        body.append("</ul>")
    return body


def render_html(report: Report) -> str:
    """One self-contained HTML5 page: inline CSS, no scripts, no external assets, all text escaped."""
    title = f"provenance: {_label(report.verdict)}" + (f" ({report.id})" if report.id else "")
    head = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{_h(title)}</title><style>{_CSS}</style></head><body>",
    ]
    return "\n".join([*head, *_html_body(report), "</body></html>"]) + "\n"
