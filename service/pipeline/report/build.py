"""Turning judged passages and read sources into the report: anchors, flags and the verdict.

Pure functions; ``verify.py`` calls them once every source is read and every passage judged.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from urllib.parse import quote

from service.pipeline.models import (
    FAITHFUL_STATUSES,
    FailureCode,
    QuoteReport,
    QuoteSource,
    QuoteStatus,
    Report,
    SourceReport,
    Span,
    StageFailure,
    TextKind,
    Verdict,
)

FLAG_ALWAYS = frozenset({QuoteStatus.ALTERED, QuoteStatus.MISATTRIBUTED})
_MATCHED = FAITHFUL_STATUSES | {QuoteStatus.SOURCE_CHANGED}
_FRAGMENT_WORDS = 4
_NON_SPACE_RE = re.compile(r"\S+")


@functools.cache
def generator_version() -> str:
    try:
        return metadata.version("provenance-verify")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def is_flagged(status: QuoteStatus, *, explicit: bool) -> bool:
    """The contract's flag rule: changes always, a missing passage only when marked as a quote."""
    if status in FLAG_ALWAYS:
        return True
    return status is QuoteStatus.NOT_FOUND and explicit


def decide_verdict(quotes: Sequence[QuoteReport], *, cited: bool, source_read: bool) -> Verdict:
    """The contract's verdict rule.

    A post none of whose sources could be read is ``unverifiable``, quotes or not. A post whose
    sources were read but whose passages are all commentary is ``verified``: nothing in it was
    found wrong.
    """
    if not cited:
        return Verdict.NO_CITATIONS
    if any(q.flagged for q in quotes):
        return Verdict.FLAGGED
    if any(q.status in _MATCHED for q in quotes):
        return Verdict.VERIFIED
    if not source_read or (quotes and all(q.status is QuoteStatus.UNVERIFIABLE for q in quotes)):
        return Verdict.UNVERIFIABLE
    return Verdict.VERIFIED


def _fragment_encode(text: str) -> str:
    # Text directives reserve '-', ',' and '&' on top of the usual URL escapes.
    return quote(text, safe="").replace("-", "%2D")


def _words(text: str) -> list[str]:
    return _NON_SPACE_RE.findall(text)


def text_fragment_url(url: str, exact: str, prefix: str, suffix: str) -> str:
    """A ``#:~:text=`` link opening ``url`` at ``exact`` (start,end words for long passages).

    Prefix and suffix are added only when the passage sits inside one block, because browsers
    match them within a single block element.
    """
    words = _words(exact)
    if not words:
        return url
    base = url.split("#", 1)[0]
    if len(words) <= 2 * _FRAGMENT_WORDS:
        parts = [_fragment_encode(" ".join(words))]
    else:
        parts = [
            _fragment_encode(" ".join(words[:_FRAGMENT_WORDS])),
            _fragment_encode(" ".join(words[-_FRAGMENT_WORDS:])),
        ]
    if "\n" not in exact:
        pre = _words(prefix.split("\n")[-1])[-3:]
        suf = _words(suffix.split("\n")[0])[:3]
        if pre:
            parts.insert(0, _fragment_encode(" ".join(pre)) + "-")
        if suf:
            parts.append("-" + _fragment_encode(" ".join(suf)))
    return f"{base}#:~:text={','.join(parts)}"


def quote_source(
    url: str, text: str, span: Span, *, context_chars: int, text_kind: TextKind = TextKind.MAIN
) -> QuoteSource:
    """A W3C TextQuoteSelector (exact, prefix, suffix) plus the text-fragment link."""
    start, end = span
    exact = text[start:end]
    prefix = text[max(0, start - context_chars) : start]
    suffix = text[end : end + context_chars]
    return QuoteSource(
        url=url,
        span=span,
        exact=exact,
        prefix=prefix,
        suffix=suffix,
        text_fragment_url=text_fragment_url(url, exact, prefix, suffix),
        text=text_kind,
    )


def build_report(
    *,
    post_id: str | None,
    posted_at: datetime | None,
    sources: Iterable[SourceReport],
    quotes: Iterable[QuoteReport],
    cited: bool,
    source_read: bool,
    error: StageFailure | None = None,
) -> Report:
    source_list = tuple(sources)
    quote_list = tuple(quotes)
    verdict = decide_verdict(quote_list, cited=cited, source_read=source_read)
    return Report(
        id=post_id,
        posted_at=posted_at.isoformat().replace("+00:00", "Z") if posted_at else None,
        verdict=verdict,
        checked_at=now_iso(),
        generator_version=generator_version(),
        sources=source_list,
        quotes=quote_list,
        error=error,
    )


def error_report(post_id: str | None, code: FailureCode, message: str) -> Report:
    """The report of a post that could not be read at all (a bad batch line, say)."""
    return Report(
        id=post_id,
        posted_at=None,
        verdict=Verdict.UNVERIFIABLE,
        checked_at=now_iso(),
        generator_version=generator_version(),
        error=StageFailure(code=code, message=message),
    )
