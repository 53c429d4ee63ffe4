"""The pipeline's typed values: posts, fetches, extractions, alignments and the report.

A leaf module (stdlib only) so that every stage, the API and the workers can share it without
import loops. Results are frozen dataclasses and statuses are ``StrEnum``s: a result field never
holds an exception or a free-form string where a closed set of values is meant.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import InitVar, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

SCHEMA = "provenance.report/1"

Span = tuple[int, int]


class InputFormat(StrEnum):
    AUTO = "auto"
    TEXT = "text"
    MARKDOWN = "markdown"
    HTML = "html"


class SourceStatus(StrEnum):
    OK = "ok"
    DEAD = "dead"
    SOFT_404 = "soft_404"
    BLOCKED = "blocked"
    PAYWALLED = "paywalled"
    TIMEOUT = "timeout"
    REFUSED = "refused"
    UNSUPPORTED = "unsupported"
    ERROR = "error"


class QuoteStatus(StrEnum):
    VERBATIM = "verbatim"
    COSMETIC = "cosmetic"
    ELIDED = "elided"
    ALTERED = "altered"
    MISATTRIBUTED = "misattributed"
    NOT_FOUND = "not_found"
    SOURCE_CHANGED = "source_changed"
    UNVERIFIABLE = "unverifiable"


FAITHFUL_STATUSES = frozenset({QuoteStatus.VERBATIM, QuoteStatus.COSMETIC, QuoteStatus.ELIDED})


class Verdict(StrEnum):
    VERIFIED = "verified"
    FLAGGED = "flagged"
    UNVERIFIABLE = "unverifiable"
    NO_CITATIONS = "no_citations"


class DiffOp(StrEnum):
    EQUAL = "equal"
    INSERT = "insert"
    DELETE = "delete"
    REPLACE = "replace"


class Reason(StrEnum):
    """Why a passage counts as altered; several may apply at once."""

    NUMBER_CHANGED = "number_changed"
    NEGATION_CHANGED = "negation_changed"
    NAME_CHANGED = "name_changed"
    WORDS_REPLACED = "words_replaced"
    WORDS_INSERTED = "words_inserted"
    WORDS_DELETED = "words_deleted"
    SPLICED = "spliced"
    REORDERED = "reordered"
    EXTENDED = "extended"
    MISLEADING_ELISION = "misleading_elision"
    """An ellipsis removed words that change what the rest asserts (``WordClass``)."""
    BRACKETED_SUBSTITUTION = "bracketed_substitution"
    """Not a change: a bracketed stand-in for the source's pronoun or words (``[Holmes] said``)."""


class WordClass(StrEnum):
    """Words whose removal by an ellipsis changes what the remaining words assert."""

    NEGATION = "negation"
    CONDITION = "condition"
    HEDGE = "hedge"
    QUANTIFIER = "quantifier"
    ATTRIBUTION = "attribution"


class SourceReason(StrEnum):
    """Why a source (or a stage working on it) is not plainly ``ok``: ``source.reason`` in a report.

    A closed set: the named members, plus ``http_<status>`` for an HTTP answer that is not a page
    (``SourceReason.for_http_status(404)`` is ``"http_404"``; any status 0 to 999, as servers send).
    """

    # fetching
    FETCH_FAILED = "fetch_failed"
    TIMEOUT = "timeout"  # the fetch's total time (redirects included, waits for a turn excluded)
    CONNECT_TIMEOUT = "connect_timeout"  # name lookup, TCP and TLS took too long
    POOL_TIMEOUT = "pool_timeout"  # no turn at the host (its slots stayed busy): nothing was sent
    FIRST_BYTE_TIMEOUT = "first_byte_timeout"  # request sent, no answer started
    READ_TIMEOUT = "read_timeout"  # the body stalled: too long a gap between two chunks
    BUDGET_EXHAUSTED = "budget_exhausted"  # the post's (or batch's) time ran out before it was read
    TOO_MANY_LINKS = "too_many_links"  # past the post's link limit (PostSettings.max_links): not read
    NAME_NOT_RESOLVED = "name_not_resolved"
    TLS_ERROR = "tls_error"
    CONNECTION_FAILED = "connection_failed"
    PAYLOAD_ERROR = "payload_error"
    BAD_RESPONSE = "bad_response"
    BODY_TOO_LARGE = "body_too_large"
    BAD_ENCODING = "bad_encoding"  # a Content-Encoding not decoded here: unknown, doubled, unsupported
    TOO_MANY_REDIRECTS = "too_many_redirects"
    REDIRECT_WITHOUT_LOCATION = "redirect_without_location"
    UNSUPPORTED_CONTENT_TYPE = "unsupported_content_type"
    # refused before anything is sent (security.md)
    PRIVATE_ADDRESS = "private_address"
    BAD_URL = "bad_url"
    BAD_PORT = "bad_port"
    PORT_NOT_ALLOWED = "port_not_allowed"
    USERINFO_IN_URL = "userinfo_in_url"
    UNSUPPORTED_SCHEME = "unsupported_scheme"
    # archives
    NOT_IN_REPLAY = "not_in_replay"
    CORRUPT_CAPTURE = "corrupt_capture"
    REVISIT_ORIGINAL_MISSING = "revisit_original_missing"
    ARCHIVE_ERROR = "archive_error"
    WAYBACK_RATE_LIMITED = "wayback_rate_limited"
    WAYBACK_REFUSED = "wayback_refused"
    WAYBACK_UNAVAILABLE = "wayback_unavailable"
    # extraction
    EXTRACTION_FAILED = "extraction_failed"
    EXTRACTION_TIMEOUT = "extraction_timeout"
    EXTRACTION_CRASHED = "extraction_crashed"
    # the page was read, but not all of it (parser depth or size limit): the source stays ``ok``
    # and readable, and a quote missing from it is ``unverifiable``, not ``not_found``
    EXTRACTION_INCOMPLETE = "extraction_incomplete"
    # source health
    CHALLENGE_PAGE = "challenge_page"
    LOGIN_WALL = "login_wall"
    PAYWALL_MARKERS = "paywall_markers"
    REDIRECT_TO_HOME = "redirect_to_home"
    ERROR_PAGE_URL = "error_page_url"
    NOT_FOUND_TITLE = "not_found_title"
    SAME_AS_RANDOM_PATH = "same_as_random_path"
    # other stages
    ERROR = "error"
    BAD_INPUT = "bad_input"
    ALIGNMENT_FAILED = "alignment_failed"

    @classmethod
    def for_http_status(cls, status: int) -> SourceReason:
        """``http_<status>``: why an HTTP answer that is not a page is not read."""
        return cls(f"http_{status}")

    @property
    def http_status(self) -> int | None:
        """The HTTP status an ``http_<status>`` reason stands for; None for every named member."""
        head, _, code = self.value.partition("_")
        return int(code) if head == "http" and code.isdigit() else None

    @classmethod
    def _missing_(cls, value: object) -> SourceReason | None:
        # ``http_<status>`` members are made on first use and kept, so they compare by identity too.
        # Any status an answer can carry (0 to 999: servers do send 999 or 600), written canonically.
        if not (isinstance(value, str) and value.startswith("http_")):
            return None
        code = value[5:]
        if not (code.isascii() and code.isdigit() and str(int(code)) == code and int(code) <= 999):
            return None
        member = str.__new__(cls, value)
        member._name_ = value.upper()
        member._value_ = value
        return cls._value2member_map_.setdefault(value, member)  # type: ignore[return-value]


class TextKind(StrEnum):
    """Which extracted text of a page a span points into (``quote.source.text``)."""

    MAIN = "main"
    """The article text (trafilatura)."""
    PAGE = "page"
    """The whole-page text: headline, standfirst, captions and every other visible block."""


class FailureCode(StrEnum):
    """Why a whole report failed (``error.code``): the post could not be read or verified."""

    BAD_ENCODING = "bad_encoding"
    BAD_JSON = "bad_json"
    BAD_INPUT = "bad_input"
    INTERNAL_ERROR = "internal_error"
    TIMEOUT = "timeout"  # the post took longer than a queue job may (``QueueSettings.job_timeout_s``)
    BUDGET_EXHAUSTED = "budget_exhausted"  # a batch's time ran out before this post was started
    DEAD_LETTERED = "dead_lettered"  # delivered to workers again and again, never finished


# ---------------------------------------------------------------- posts


@dataclass(frozen=True, slots=True)
class Citation:
    """A URL the post cites: as written, its fetch key, and where it stands in the post."""

    url: str
    key: str
    span: Span


@dataclass(frozen=True, slots=True)
class Passage:
    """A stretch of the post that may be copied from a source.

    ``text`` is the passage as a reader sees it (blockquote markers, HTML tags and entities
    removed); ``span`` is where it stands in the submitted post.
    """

    text: str
    span: Span
    explicit: bool
    cited_url: str | None
    parts: tuple[Passage, ...] = ()
    alt_cited_url: str | None = None
    """The URL the passage would stand under if the post's URLs stood on the other side of their
    passages (above rather than below, or the reverse); None when its link is its own."""
    also_cited: tuple[str, ...] = ()
    """Further URLs the passage cites together with ``cited_url`` (several URLs on one line, a
    reference list): a passage found in any of them is faithful, and its report names which."""
    line_fragments: bool = False
    """Each line may quote on its own (the lines of a ``>`` quotation): lines that are not
    consecutive in the source are fragments picked apart, as if an ellipsis stood between them."""
    # parts: for an unmarked paragraph holding inline quotations, those quotations and the
    # commentary around them. The verifier reports the whole paragraph when it is a copy.


@dataclass(frozen=True, slots=True)
class Post:
    text: str
    format: InputFormat
    passages: tuple[Passage, ...]
    citations: tuple[Citation, ...]
    id: str | None = None
    posted_at: datetime | None = None

    @property
    def leaves(self) -> tuple[Passage, ...]:
        """Every passage, with a paragraph's inline quotations and commentary in its place."""
        return tuple(leaf for p in self.passages for leaf in (p.parts or (p,)))


# ---------------------------------------------------------------- fetching


@dataclass(frozen=True, slots=True)
class Redirect:
    url: str
    status: int


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One URL's resolution: the redirect chain, the final answer and its (decoded) body.

    ``status`` is ``ok`` only when a body worth extracting came back; every other status has a
    ``reason``. ``captured_at`` is set when the answer came from an archive (replay, store).
    """

    url: str
    final_url: str
    status: SourceStatus
    reason: SourceReason | None = None
    redirects: tuple[Redirect, ...] = ()
    http_status: int | None = None
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    fetched_at: datetime | None = None
    captured_at: datetime | None = None
    peer: str | None = None
    archive_url: str | None = None
    evidence: WarcEntry | None = None
    """Where the answer's WARC record lies, when it came from (or went to) a WARC file."""
    sha256: str | None = field(init=False, default=None)
    """Of the body bytes; computed once, here, because several stages need it."""
    body_sha256: InitVar[str | None] = None
    """The body's SHA-256 when the maker hashed these very bytes already (an extraction worker
    that read the capture): not hashed again. ``replace`` does not carry it, so a changed body is
    always hashed afresh."""

    def __post_init__(self, body_sha256: str | None) -> None:
        if not self.body:
            digest = None
        elif body_sha256 is not None:
            digest = body_sha256
        else:
            digest = hashlib.sha256(self.body).hexdigest()
        object.__setattr__(self, "sha256", digest)

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)


def header_value(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    """The first value of header ``name`` (any case) in a list of pairs, or None."""
    lname = name.lower()
    for key, value in headers:
        if key.lower() == lname:
            return value
    return None


class Fetcher(Protocol):
    """Answers URLs: the live web (``fetch.LiveFetcher``) or WARC files (``replay.ReplayArchive``).

    Neither method raises for a network or HTTP problem: the answer's ``status`` and ``reason``
    say what happened.
    """

    async def fetch(self, url: str) -> FetchResult:
        """The live version of ``url`` (for replay: its latest capture)."""
        ...

    async def fetch_at(self, url: str, when: datetime) -> FetchResult | None:
        """The version of ``url`` as it was at ``when`` (latest capture at or before it), if known."""
        ...


@dataclass(frozen=True, slots=True)
class ProbeAnswer:
    """What the soft-404 rule keeps of the answer to a host's made-up path (``extract/health.py``).

    One per origin, shared by every page of the host, so it is small and JSON-safe for a cache
    that other processes read: the body's digest instead of the body, the texts as the rule
    compares them. ``to_dict``/``from_dict`` round-trip exactly; ``v`` guards the format.
    """

    url: str
    final_url: str
    status: SourceStatus
    http_status: int | None = None
    sha256: str | None = None
    main_text: str | None = None
    """The extracted main text; None when the probe was not extracted."""
    page_text: str = ""
    """The visible text, normalised as the rule reads it (lower case, spaces collapsed)."""
    canonical_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": PROBE_ANSWER_VERSION,
            "url": self.url,
            "final_url": self.final_url,
            "status": self.status.value,
            "http_status": self.http_status,
            "sha256": self.sha256,
            "main_text": self.main_text,
            "page_text": self.page_text,
            "canonical_url": self.canonical_url,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProbeAnswer:
        """The answer ``to_dict`` wrote; ValueError for another format version or status."""
        if data.get("v") != PROBE_ANSWER_VERSION:
            raise ValueError(f"probe answer format {data.get('v')!r}, expected {PROBE_ANSWER_VERSION}")
        return cls(
            url=data["url"],
            final_url=data["final_url"],
            status=SourceStatus(data["status"]),
            http_status=data["http_status"],
            sha256=data["sha256"],
            main_text=data["main_text"],
            page_text=data["page_text"],
            canonical_url=data["canonical_url"],
        )


PROBE_ANSWER_VERSION = 1


@runtime_checkable
class ConditionalFetcher(Protocol):
    """A fetcher that can ask whether a page read before has changed (the live web can)."""

    async def fetch_if_changed(self, url: str, validators: tuple[tuple[str, str], ...]) -> FetchResult:
        """``http_status`` 304 and no body when unchanged, else the page as ``fetch`` gives it."""
        ...


# ---------------------------------------------------------------- extraction


@dataclass(frozen=True, slots=True)
class Extraction:
    """What a page says: trafilatura's main text and metadata, and a whole-page fallback text.

    ``page_text`` holds the headline, standfirst, captions and every other visible text block,
    for passages the main-text extractor leaves out.
    """

    main_text: str
    page_text: str
    title: str | None = None
    author: str | None = None
    published: str | None = None
    canonical_url: str | None = None
    signals: PageSignals | None = None
    """For source health, read in the extraction worker where the page is parsed anyway."""
    incomplete: bool = False
    """The parser stopped early (nesting past libxml2's depth limit) or the HTML was cut at the
    size cap: the texts may lack part of the page (``SourceReason.EXTRACTION_INCOMPLETE``)."""


@dataclass(frozen=True, slots=True)
class WarcEntry:
    """Where the local evidence store put a fetch: enough to find and check the exact record.

    ``file`` is relative to the store's root; ``offset``/``length`` locate the (gzipped) response
    record; ``digest`` is its ``WARC-Payload-Digest``; ``captured_at`` its ``WARC-Date`` (ISO).
    """

    file: str
    offset: int
    length: int | None
    digest: str | None
    captured_at: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WarcEntry:
        return cls(data["file"], data["offset"], data["length"], data["digest"], data["captured_at"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "offset": self.offset,
            "length": self.length,
            "digest": self.digest,
            "captured_at": self.captured_at,
        }


@dataclass(frozen=True, slots=True)
class PageSignals:
    """What source health reads from a page's tree besides its text (``extract/signals.py``)."""

    headings: tuple[str, ...]
    """The title and the first ``h1``s."""
    class_tokens: frozenset[str]
    """Every class and id (lower case), plus ``script:<host>`` for known paywall scripts."""
    not_free: bool
    """JSON-LD or microdata says the page is not free to read."""


class WaybackStatus(StrEnum):
    """What became of a Save Page Now capture (``source.archive.wayback.status``)."""

    SUCCESS = "success"
    PENDING = "pending"
    SKIPPED = "skipped"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class WaybackEntry:
    """The report's ``source.archive.wayback``: the snapshot a capture made or found, or why not."""

    status: WaybackStatus
    url: str | None = None
    timestamp: str | None = None
    job_id: str | None = None
    message: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WaybackEntry:
        return cls(
            WaybackStatus(data["status"]), data["url"], data["timestamp"], data["job_id"], data["message"]
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "url": self.url,
            "timestamp": self.timestamp,
            "job_id": self.job_id,
            "message": self.message,
        }


# ---------------------------------------------------------------- alignment


@dataclass(frozen=True, slots=True)
class DiffPart:
    op: DiffOp
    post: str
    source: str

    def to_dict(self) -> dict[str, str]:
        return {"op": self.op.value, "post": self.post, "source": self.source}


@dataclass(frozen=True, slots=True)
class Alignment:
    """The best match of one passage in one text.

    ``status`` is one of verbatim, cosmetic, elided, altered or not_found; ``span`` is the
    matched region of the text (None when nothing matched); ``coverage`` is the share of the
    passage's words found in order in the text.
    """

    status: QuoteStatus
    score: float
    span: Span | None = None
    diff: tuple[DiffPart, ...] = ()
    reasons: tuple[Reason, ...] = ()
    coverage: float = 0.0


NO_MATCH = Alignment(status=QuoteStatus.NOT_FOUND, score=0.0)


# ---------------------------------------------------------------- report


@dataclass(frozen=True, slots=True)
class StageFailure:
    """Why a whole report failed: a closed code and a one-line message for people."""

    code: FailureCode
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code.value, "message": self.message}


@dataclass(frozen=True, slots=True)
class AtPostCapture:
    captured_at: str
    sha256: str | None
    archive_url: str | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AtPostCapture:
        return cls(data["captured_at"], data["sha256"], data["archive_url"])

    def to_dict(self) -> dict[str, Any]:
        return {"captured_at": self.captured_at, "sha256": self.sha256, "archive_url": self.archive_url}


@dataclass(frozen=True, slots=True)
class SourceReport:
    url: str
    final_url: str
    status: SourceStatus
    reason: SourceReason | None = None
    redirects: tuple[Redirect, ...] = ()
    http_status: int | None = None
    title: str | None = None
    author: str | None = None
    published: str | None = None
    canonical_url: str | None = None
    sha256: str | None = None
    fetched_at: str | None = None
    archive_warc: WarcEntry | None = None
    archive_wayback: WaybackEntry | None = None
    at_post: AtPostCapture | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SourceReport:
        """The inverse of ``to_dict`` (a source read by one worker, kept in Redis for the fleet)."""
        archive = data.get("archive") or {}
        reason = data.get("reason")
        return cls(
            url=data["url"],
            final_url=data["final_url"],
            status=SourceStatus(data["status"]),
            reason=None if reason is None else SourceReason(reason),
            redirects=tuple(Redirect(r["url"], r["status"]) for r in data.get("redirects", ())),
            http_status=data.get("http_status"),
            title=data.get("title"),
            author=data.get("author"),
            published=data.get("published"),
            canonical_url=data.get("canonical_url"),
            sha256=data.get("sha256"),
            fetched_at=data.get("fetched_at"),
            archive_warc=WarcEntry.from_dict(archive["warc"]) if archive.get("warc") else None,
            archive_wayback=WaybackEntry.from_dict(archive["wayback"]) if archive.get("wayback") else None,
            at_post=AtPostCapture.from_dict(data["at_post"]) if data.get("at_post") else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "final_url": self.final_url,
            "redirects": [{"url": r.url, "status": r.status} for r in self.redirects],
            "status": self.status.value,
            "reason": self.reason,
            "http_status": self.http_status,
            "title": self.title,
            "author": self.author,
            "published": self.published,
            "canonical_url": self.canonical_url,
            "sha256": self.sha256,
            "fetched_at": self.fetched_at,
            "archive": {
                "warc": self.archive_warc.to_dict() if self.archive_warc else None,
                "wayback": self.archive_wayback.to_dict() if self.archive_wayback else None,
            },
            "at_post": self.at_post.to_dict() if self.at_post else None,
        }


@dataclass(frozen=True, slots=True)
class QuoteSource:
    """Where a passage stands in its source: span, W3C TextQuoteSelector, text-fragment link."""

    url: str
    span: Span
    exact: str
    prefix: str
    suffix: str
    text_fragment_url: str
    text: TextKind = TextKind.MAIN

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "text": self.text.value,
            "span": list(self.span),
            "exact": self.exact,
            "prefix": self.prefix,
            "suffix": self.suffix,
            "text_fragment_url": self.text_fragment_url,
        }


@dataclass(frozen=True, slots=True)
class QuoteReport:
    text: str
    post_span: Span
    explicit: bool
    cited_url: str | None
    status: QuoteStatus
    flagged: bool
    score: float
    source: QuoteSource | None = None
    diff: tuple[DiffPart, ...] = ()
    reasons: tuple[Reason, ...] = ()
    found_in: str | None = None
    """For a misattributed passage: the cited URL whose page holds it; for a passage citing several
    pages at once: the one it was found in."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "post_span": list(self.post_span),
            "explicit": self.explicit,
            "cited_url": self.cited_url,
            "status": self.status.value,
            "flagged": self.flagged,
            "score": round(self.score, 4),
            "source": self.source.to_dict() if self.source else None,
            "diff": [d.to_dict() for d in self.diff],
            "reasons": [r.value for r in self.reasons],
            "found_in": self.found_in,
        }


@dataclass(frozen=True, slots=True)
class Report:
    id: str | None
    posted_at: str | None
    verdict: Verdict
    checked_at: str
    generator_version: str
    sources: tuple[SourceReport, ...] = ()
    quotes: tuple[QuoteReport, ...] = ()
    error: StageFailure | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "id": self.id,
            "posted_at": self.posted_at,
            "verdict": self.verdict.value,
            "checked_at": self.checked_at,
            "generator": {"name": "provenance", "version": self.generator_version},
            "sources": [s.to_dict() for s in self.sources],
            "quotes": [q.to_dict() for q in self.quotes],
            "error": self.error.to_dict() if self.error else None,
        }

    @property
    def flagged(self) -> bool:
        return self.verdict is Verdict.FLAGGED


# ---------------------------------------------------------------- progress events


class EventKind(StrEnum):
    POST_STARTED = "post_started"
    SOURCE_READ = "source_read"
    QUOTE_JUDGED = "quote_judged"
    POST_FINISHED = "post_finished"


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """One step of a verification, announced to whoever listens (progress bar, SSE stream)."""

    kind: EventKind
    post_id: str | None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "post_id": self.post_id, **self.data}

    def plain_data(self) -> dict[str, Any]:
        """``data`` ready for JSON: report entries (a source, a quote) as their dicts."""
        return {
            k: v.to_dict() if isinstance(v, SourceReport | QuoteReport) else v for k, v in self.data.items()
        }
