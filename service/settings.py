"""Frozen settings, one dataclass per component, read once at the entry point.

The pipeline never reads the environment: ``service.cli`` builds these (flags over
``PROVENANCE_*`` variables over defaults) and passes them down.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

MIB = 1024 * 1024
KIB = 1024


class SettingsError(ValueError):
    """A ``PROVENANCE_*`` variable that cannot be read; the message names it."""


def _number(environ: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: not a number") from None
    if not value >= minimum:  # also rejects NaN
        raise SettingsError(f"{name}={raw!r}: must be at least {minimum:g}")
    return value


class ArchiveTarget(StrEnum):
    """Where live answers are kept as evidence: the local WARC store, the Wayback Machine."""

    WARC = "warc"
    WAYBACK = "wayback"


ARCHIVE_CHOICES = "none, warc, wayback, warc,wayback or wayback,warc"


def parse_archive(raw: str) -> frozenset[ArchiveTarget]:
    """``--archive`` / ``PROVENANCE_ARCHIVE``: ``none`` or targets joined by commas, in any order.

    One parser for the flag and the variable, so both accept and refuse the same spellings.
    """
    parts = [p.strip() for p in raw.split(",")]
    if not all(parts) or len(set(parts)) != len(parts):
        raise SettingsError(f"archive {raw!r}: use {ARCHIVE_CHOICES}")
    if parts == ["none"]:
        return frozenset()
    try:
        return frozenset(ArchiveTarget(p) for p in parts)
    except ValueError:
        raise SettingsError(f"archive {raw!r}: use {ARCHIVE_CHOICES}") from None


def _flag(environ: Mapping[str, str], name: str, default: bool = False) -> bool:
    value = environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _seconds_or_none(environ: Mapping[str, str], name: str, default: float | None) -> float | None:
    """A time limit in seconds where ``0`` means none (an empty or unset variable: the default)."""
    if not environ.get(name, "").strip():
        return default
    return _number(environ, name, 0.0) or None


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Limits of the fetcher (security.md §2).

    The five timeouts hold separately, each with its own source reason, so a report says which
    one ended a fetch: ``pool_timeout`` (waiting for a turn at the host: one of its
    ``limit_per_host`` slots, and the fleet's host gate), ``connect_timeout`` (name lookup, TCP,
    TLS), ``first_byte_timeout`` (request sent, no answer begun), ``read_timeout`` (the longest
    gap between two chunks of the body) and ``timeout`` (``total_timeout``: every hop of the
    redirect chain together). The wait for a turn is not part of the total: a URL queued behind
    stalled ones on its host gets its whole total once it is sent.
    """

    allow_private_addresses: bool = False
    max_body_bytes: int = 5 * MIB
    max_redirects: int = 10
    connect_timeout: float = 5.0
    total_timeout: float = 20.0
    pool_timeout: float = 60.0
    first_byte_timeout: float = 15.0
    read_timeout: float = 10.0
    limit_per_host: int = 2  # batch, queue workers, the API: a crawler's manners (security.md §6)
    # A single post verified at the command line: a person waiting on the links of one post, as a
    # browser opens them (browsers keep up to 6 connections to a host). ``cli._verify`` applies it.
    one_post_limit_per_host: int = 6
    limit: int = 64
    user_agent: str = "ProvenanceBot/0.1 (+https://github.com/provenance; source verification)"
    accepted_content_types: tuple[str, ...] = ("text/html", "application/xhtml+xml", "text/plain")
    probe_soft_404: bool = True  # fetch a made-up path of each cited host (once per origin) to spot soft 404s
    # Ports a URL may name when private addresses are refused (security.md §1.5); None = any.
    allowed_ports: tuple[int, ...] | None = (80, 443, 8000, 8080, 8443)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> HttpSettings:
        return cls(
            allow_private_addresses=_flag(environ, "PROVENANCE_ALLOW_PRIVATE_ADDRESSES"),
            connect_timeout=_number(environ, "PROVENANCE_CONNECT_TIMEOUT", 5.0, minimum=0.001),
            pool_timeout=_number(environ, "PROVENANCE_POOL_TIMEOUT", 60.0, minimum=0.001),
            first_byte_timeout=_number(environ, "PROVENANCE_FIRST_BYTE_TIMEOUT", 15.0, minimum=0.001),
            read_timeout=_number(environ, "PROVENANCE_READ_TIMEOUT", 10.0, minimum=0.001),
            total_timeout=_number(environ, "PROVENANCE_TOTAL_TIMEOUT", 20.0, minimum=0.001),
            limit_per_host=int(_number(environ, "PROVENANCE_LIMIT_PER_HOST", 2, minimum=1)),
            one_post_limit_per_host=int(_number(environ, "PROVENANCE_ONE_POST_LIMIT_PER_HOST", 6, minimum=1)),
        )


@dataclass(frozen=True, slots=True)
class BudgetSettings:
    """Wall-clock budgets of one post and of one in-process batch, in seconds; None: no limit.

    A post past its budget still gets its report: the sources not read by then are
    ``error``/``budget_exhausted`` and their quotes ``unverifiable``. A batch past its budget
    writes an error report (``budget_exhausted``) for every post not started; posts under way get
    what is left of the batch's time as their own budget. The post budget sits below the queue's
    job timeout (300 s), so that a worker writes a report instead of losing the job.
    """

    post_s: float | None = 120.0
    batch_s: float | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> BudgetSettings:
        return cls(
            post_s=_seconds_or_none(environ, "PROVENANCE_POST_BUDGET", 120.0),
            batch_s=_seconds_or_none(environ, "PROVENANCE_BATCH_BUDGET", None),
        )


@dataclass(frozen=True, slots=True)
class PostSettings:
    """Limits on one post: its length in characters and how many distinct URLs it may cite.

    Reading is linear, but at about 10 µs a line a post of many short lines still costs a
    second of CPU per 100,000 characters: past ``max_chars`` a post is refused before it is read
    (a clear error; the API's body cap comes first). Only the first ``max_links`` cited URLs are
    fetched; the others are still reported, each ``error``/``too_many_links``.
    """

    max_chars: int = 100_000
    max_links: int = 1_000

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> PostSettings:
        return cls(
            max_chars=int(_number(environ, "PROVENANCE_MAX_POST_CHARS", 100_000, minimum=1)),
            max_links=int(_number(environ, "PROVENANCE_MAX_LINKS", 1_000, minimum=1)),
        )


@dataclass(frozen=True, slots=True)
class ExtractSettings:
    """Extraction runs in a process pool; a page over ``timeout_s`` kills its worker."""

    workers: int = 2
    timeout_s: float = 10.0  # wall clock per page; the worker is killed past it
    cpu_limit_s: float = 10.0  # CPU time per page (RLIMIT_CPU in the worker), besides the wall clock
    max_html_bytes: int = 5 * MIB  # HTML handed to lxml is cut here

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ExtractSettings:
        return cls(
            workers=int(_number(environ, "PROVENANCE_EXTRACT_WORKERS", 2, minimum=1)),
            timeout_s=_number(environ, "PROVENANCE_EXTRACT_TIMEOUT", 10.0, minimum=0.1),
            cpu_limit_s=_number(environ, "PROVENANCE_EXTRACT_CPU_LIMIT", 10.0, minimum=1),
            max_html_bytes=int(_number(environ, "PROVENANCE_MAX_HTML_BYTES", 5 * MIB, minimum=1024)),
        )


@dataclass(frozen=True, slots=True)
class AlignSettings:
    """Thresholds of the quote aligner; see ``service/pipeline/align/aligner.py`` for their meaning."""

    seed_words: int = 3
    context_chars: int = 32
    # A changed passage is shown as ``altered`` (not ``not_found``) only with a real matched core:
    short_words: int = 8  # passages this short may be seeded by word pairs ...
    short_coverage: float = 0.5  # ... and count as a copy with this share of words matched in order
    long_run: int = 8  # an explicit quote sharing a run this long is a copy, whatever else changed
    explicit_run: int = 4  # ... or a shorter run together with
    explicit_coverage: float = 0.3  # this share of its words matched in order
    implicit_run: int = 6  # unmarked text (maybe the poster's own words) needs a long run
    implicit_coverage: float = 0.6  # and most of its words matched in order
    implicit_long_run: int = 10  # ... or a run this long (a real sentence, then invented words)
    implicit_long_coverage: float = 0.5  # with half of its words matched
    implicit_short_words: int = 14  # ... or a short line
    implicit_short_coverage: float = 0.75  # nearly all of whose words are matched in order


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """The local WARC evidence store; it lives under ``Settings.data_dir`` (its only root)."""

    max_file_bytes: int = 100 * MIB


@dataclass(frozen=True, slots=True)
class WaybackSettings:
    """The Internet Archive's Wayback Machine: lookups (CDX, availability) and Save Page Now 2."""

    base_url: str = "https://web.archive.org"
    availability_url: str = "https://archive.org/wayback/available"
    access_key: str | None = None
    secret_key: str | None = None
    captures_per_minute: float = 6.0
    anonymous_captures_per_minute: float = 3.0
    skip_if_archived_within_hours: float = 24.0
    capture_wait_s: float = 5.0
    poll_interval_s: float = 3.0
    drain_s: float = 15.0  # how long a run lingers, after its reports, for captures to land
    request_timeout_s: float = 20.0

    @property
    def authenticated(self) -> bool:
        return bool(self.access_key and self.secret_key)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> WaybackSettings:
        base = environ.get("PROVENANCE_WAYBACK_URL", "https://web.archive.org").rstrip("/")
        default_avail = "https://archive.org/wayback/available"
        return cls(
            base_url=base,
            availability_url=environ.get(
                "PROVENANCE_WAYBACK_AVAILABILITY_URL",
                default_avail if base == "https://web.archive.org" else f"{base}/wayback/available",
            ),
            access_key=environ.get("PROVENANCE_WAYBACK_ACCESS_KEY") or None,
            secret_key=environ.get("PROVENANCE_WAYBACK_SECRET_KEY") or None,
            captures_per_minute=_number(environ, "PROVENANCE_WAYBACK_CAPTURES_PER_MINUTE", 6.0, minimum=0.1),
            skip_if_archived_within_hours=_number(environ, "PROVENANCE_WAYBACK_SKIP_HOURS", 24.0),
            capture_wait_s=_number(environ, "PROVENANCE_WAYBACK_CAPTURE_WAIT", 5.0),
            drain_s=_number(environ, "PROVENANCE_WAYBACK_DRAIN", 15.0),
        )


def _origins(environ: Mapping[str, str]) -> tuple[str, ...]:
    raw = environ.get("PROVENANCE_CORS_ORIGIN", "")
    return tuple(o.strip() for o in raw.replace(",", " ").split() if o.strip())


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """``provenance serve``: where it listens, who may call it, and how much it takes."""

    host: str = "127.0.0.1"
    port: int = 8080
    cors_origins: tuple[str, ...] = ()
    open_access: bool | None = None
    """No API key needed. None: open when listening on loopback only, keys required otherwise."""
    allow_open_public: bool = False  # refuse to start open on a public interface unless told to
    verify_wait_s: float = 30.0  # POST /v1/verify answers the report if done by then, else 202
    max_body_bytes: int = 64 * KIB
    max_batch_bytes: int = 10 * MIB
    max_check_html_bytes: int = 5 * MIB
    job_ttl_s: float = 3600.0  # how long finished jobs and batches are kept
    rate_limit: str = "120/minute"  # per key (or per client address in open mode); ``limits`` syntax
    max_jobs_per_key: int = 8  # verifications running at once for one key
    keepalive_s: float = 15.0  # SSE comment interval
    check_cache_size: int = 4096
    source_max_age_s: float = 900.0  # a page read by the server is read again after this long

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ApiSettings:
        open_raw = environ.get("PROVENANCE_OPEN_ACCESS")
        return cls(
            host=environ.get("PROVENANCE_HOST", "127.0.0.1"),
            port=int(_number(environ, "PROVENANCE_PORT", 8080, minimum=0)),
            cors_origins=_origins(environ),
            open_access=None if open_raw is None else _flag(environ, "PROVENANCE_OPEN_ACCESS"),
            verify_wait_s=_number(environ, "PROVENANCE_VERIFY_WAIT", 30.0),
            max_body_bytes=int(_number(environ, "PROVENANCE_MAX_BODY_BYTES", 64 * KIB, minimum=1)),
            job_ttl_s=_number(environ, "PROVENANCE_JOB_TTL", 3600.0, minimum=1),
            rate_limit=environ.get("PROVENANCE_RATE_LIMIT", "120/minute"),
            max_jobs_per_key=int(_number(environ, "PROVENANCE_MAX_JOBS_PER_KEY", 8, minimum=1)),
        )


def _optional_port(environ: Mapping[str, str], name: str) -> int | None:
    raw = environ.get(name, "").strip()
    return None if not raw else int(_number(environ, name, 0, minimum=1))


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """The Redis queue: ``provenance worker`` and ``provenance batch --redis`` (dependencies.md §4).

    Times are in seconds. A job idle past ``lease_s`` (its worker died or hung) is reclaimed by
    another worker; after ``max_deliveries`` deliveries it goes to the dead-letter stream instead.
    """

    worker_name: str | None = None  # default: <hostname>-<pid>
    job_timeout_s: float = 300.0
    lease_s: float = 60.0
    max_deliveries: int = 5
    drain_grace_s: float = 25.0  # SIGTERM: in-flight jobs get this long, then go back to the queue
    heartbeat_s: float = 10.0
    metrics_port: int | None = None
    block_s: float = 2.0  # how long one read waits for new jobs
    enqueue_window: int = 2000  # jobs a batch client keeps queued ahead of its output
    result_ttl_s: float = 7 * 24 * 3600.0  # how long a batch's results and markers are kept
    source_ttl_s: float = 3600.0  # a page read by one worker serves the fleet this long
    host_concurrency: int = 2  # requests at once to one host, across every worker
    host_delay_s: float = 0.0  # minimum time between two requests to one host, across every worker

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> QueueSettings:
        return cls(
            worker_name=environ.get("PROVENANCE_WORKER_NAME") or None,
            job_timeout_s=_number(environ, "PROVENANCE_JOB_TIMEOUT", 300.0, minimum=1),
            lease_s=_number(environ, "PROVENANCE_LEASE", 60.0, minimum=1),
            max_deliveries=int(_number(environ, "PROVENANCE_MAX_DELIVERIES", 5, minimum=1)),
            drain_grace_s=_number(environ, "PROVENANCE_DRAIN_GRACE", 25.0),
            heartbeat_s=_number(environ, "PROVENANCE_HEARTBEAT", 10.0, minimum=0.1),
            metrics_port=_optional_port(environ, "PROVENANCE_METRICS_PORT"),
            result_ttl_s=_number(environ, "PROVENANCE_RESULT_TTL", 7 * 24 * 3600.0, minimum=60),
            source_ttl_s=_number(environ, "PROVENANCE_SOURCE_TTL", 3600.0, minimum=1),
            host_concurrency=int(_number(environ, "PROVENANCE_HOST_CONCURRENCY", 2, minimum=1)),
            host_delay_s=_number(environ, "PROVENANCE_HOST_DELAY", 0.0),
        )


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything one run needs."""

    http: HttpSettings = field(default_factory=HttpSettings)
    extract: ExtractSettings = field(default_factory=ExtractSettings)
    align: AlignSettings = field(default_factory=AlignSettings)
    replay: tuple[Path, ...] = ()
    data_dir: Path = Path("provenance-data")
    archive: frozenset[ArchiveTarget] = frozenset()
    redis_url: str | None = None
    redis_prefix: str = "provenance"  # every Redis key this deployment writes starts with it
    concurrency: int = 8
    store: StoreSettings = field(default_factory=StoreSettings)
    wayback: WaybackSettings = field(default_factory=WaybackSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    queue: QueueSettings = field(default_factory=QueueSettings)
    budget: BudgetSettings = field(default_factory=BudgetSettings)
    post: PostSettings = field(default_factory=PostSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        # The local store is the default; an empty variable counts as unset, as for every other.
        raw_archive = environ.get("PROVENANCE_ARCHIVE", "").strip() or "warc"
        try:
            archive = parse_archive(raw_archive)
        except SettingsError:
            raise SettingsError(f"PROVENANCE_ARCHIVE={raw_archive!r}: use {ARCHIVE_CHOICES}") from None
        data_dir = Path(environ.get("PROVENANCE_DATA_DIR", "provenance-data"))
        return cls(
            wayback=WaybackSettings.from_env(environ),
            api=ApiSettings.from_env(environ),
            queue=QueueSettings.from_env(environ),
            budget=BudgetSettings.from_env(environ),
            post=PostSettings.from_env(environ),
            http=HttpSettings.from_env(environ),
            extract=ExtractSettings.from_env(environ),
            data_dir=data_dir,
            archive=archive,
            redis_url=environ.get("PROVENANCE_REDIS_URL") or None,
            redis_prefix=environ.get("PROVENANCE_REDIS_PREFIX", "provenance") or "provenance",
            concurrency=int(_number(environ, "PROVENANCE_CONCURRENCY", 8, minimum=1)),
        )
