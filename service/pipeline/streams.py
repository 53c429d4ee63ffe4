"""Every Redis name the service uses, and the versioned messages that travel through Redis.

One module, so that a key's layout is read in one place and two parts of the system cannot
disagree about it (R11). Every name starts with the deployment's prefix
(``PROVENANCE_REDIS_PREFIX``). Messages are JSON with a version field ``v``; a reader refuses a
version it does not know instead of guessing (never pickle: a queue is a trust boundary).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis.asyncio import Redis

VERSION = 1
GROUP = "workers"
"""The consumer group every worker joins (KEDA's ``consumerGroup``)."""


class MessageError(ValueError):
    """A message from Redis that this version cannot read."""


def _digest(*parts: str) -> str:
    """A fixed-length key part: URLs may be long and hold any character."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class RedisNames:
    """The keys of one deployment."""

    prefix: str

    # ---------------------------------------------------------------- the queue
    @property
    def jobs(self) -> str:
        """The job stream (KEDA's ``stream``); its consumer group is ``GROUP``."""
        return f"{self.prefix}:jobs"

    @property
    def dead(self) -> str:
        """Jobs delivered ``max_deliveries`` times without a result, with their last error."""
        return f"{self.prefix}:jobs:dead"

    def queued(self, batch: str) -> str:
        """Set of a batch's job numbers ever enqueued (a re-run enqueues each once)."""
        return f"{self.prefix}:batch:{batch}:queued"

    def done(self, batch: str) -> str:
        """Set of a batch's job numbers whose result was written (written once per job)."""
        return f"{self.prefix}:batch:{batch}:done"

    def results(self, batch: str) -> str:
        """Stream of a batch's results, in the order they were written; the batch reads it."""
        return f"{self.prefix}:batch:{batch}:results"

    def worker(self, name: str) -> str:
        """A worker's heartbeat (expires when the worker stops beating)."""
        return f"{self.prefix}:worker:{name}"

    @property
    def workers(self) -> str:
        """The pattern matching every heartbeat."""
        return f"{self.prefix}:worker:*"

    # ---------------------------------------------------------------- the fleet's shared state
    def source(self, kind: str, key: str) -> str:
        """A source read by one process, serving every process (``fleet.SharedCache``)."""
        return f"{self.prefix}:source:{_digest(kind, key)}"

    def source_lease(self, kind: str, key: str) -> str:
        """Held by the one process reading a source; the others wait for its value."""
        return f"{self.prefix}:source-lease:{_digest(kind, key)}"

    def host_slots(self, host: str) -> str:
        """Requests under way to one host, across every process (a sorted set of leases)."""
        return f"{self.prefix}:host:{host}:slots"

    def host_next(self, host: str) -> str:
        """When the next request to one host may start (the minimum delay)."""
        return f"{self.prefix}:host:{host}:next"

    def wayback_claim(self, url_key: str, hour: str) -> str:
        """Set by the one process that submits a URL to Save Page Now in an hour."""
        return f"{self.prefix}:wayback-claim:{hour}:{_digest(url_key)}"

    @property
    def wayback_limiter(self) -> str:
        """The Save Page Now rate limit shared by every process."""
        return f"{self.prefix}:wayback"

    # ---------------------------------------------------------------- the API
    @property
    def ratelimit(self) -> str:
        return f"{self.prefix}:ratelimit"

    @property
    def api_keys(self) -> str:
        """API keys by the SHA-256 of their token (``api/credentials.py::RedisKeyStore``)."""
        return f"{self.prefix}:apikeys"

    def api_job(self, job: str) -> str:
        """An API verification: owner, post, status, report, HTML report, error (a hash)."""
        return f"{self.prefix}:apijob:{job}"

    def api_job_events(self, job: str) -> str:
        """Its progress events, in order, as the worker announces them (a stream)."""
        return f"{self.prefix}:apijob:{job}:events"

    def api_running(self, owner: str) -> str:
        """An API key's verifications not finished yet (a sorted set by start time)."""
        return f"{self.prefix}:apijobs:running:{owner}"


def field_text(fields: Mapping[Any, Any], name: str) -> str | None:
    """A field of a stream entry or hash as text, whichever way redis-py handed it (bytes keys or not)."""
    value = fields.get(name, fields.get(name.encode()))
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _text(fields: Mapping[Any, Any], name: str) -> str:
    value = field_text(fields, name)
    if value is None:
        raise MessageError(f"message without {name!r}")
    return value


def json_text(value: object) -> str:
    """JSON as readable text, or ASCII-escaped when it holds a lone surrogate (a ``\\ud800``
    escape in the input): Redis takes only encodable strings, and both spell the same value."""
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode()
    except UnicodeEncodeError:
        return json.dumps(value)
    return text


def _check_version(fields: Mapping[Any, Any]) -> None:
    version = _text(fields, "v")
    if version != str(VERSION):
        raise MessageError(f"message version {version!r}; this worker reads version {VERSION}")


@dataclass(frozen=True, slots=True)
class JobMessage:
    """One post to verify: an entry of the job stream.

    ``post`` is the input line's object (``{id, text, format?, posted_at?}``), read again by the
    worker exactly as the in-process batch reads it; ``seq`` its place in the batch's output.
    """

    batch: str
    seq: int
    post: Mapping[str, Any]
    default_format: str = "auto"
    line: int = 0
    """The line number in the batch's input, named in an error report as the in-process batch does."""
    job: str = ""
    """An API verification's id: the worker then announces progress to it and writes its report
    into it (``RedisNames.api_job``) instead of into a batch's results."""
    deadline: float | None = None
    """When the batch's budget ends (Unix time): a worker that picks the job up later writes a
    ``budget_exhausted`` report without reading the post; one under way stops reading then."""

    @property
    def job_id(self) -> str:
        return f"{self.batch}:{self.seq}"

    def to_fields(self) -> dict[str, str]:
        return {
            "v": str(VERSION),
            "batch": self.batch,
            "seq": str(self.seq),
            "post": json_text(self.post),
            "format": self.default_format,
            "line": str(self.line),
            "job": self.job,
            "deadline": "" if self.deadline is None else repr(self.deadline),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[Any, Any]) -> JobMessage:
        _check_version(fields)
        try:
            post = json.loads(_text(fields, "post"))
            seq = int(_text(fields, "seq"))
            line = int(_text(fields, "line"))
            written = field_text(fields, "deadline")  # absent from an older client's jobs
            deadline = float(written) if written else None
        except ValueError as exc:
            raise MessageError(f"unreadable job: {exc}") from None
        if not isinstance(post, dict):
            raise MessageError("unreadable job: post is not an object")
        return cls(_text(fields, "batch"), seq, post, _text(fields, "format"), line,
                   field_text(fields, "job") or "", deadline)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ResultMessage:
    """One finished job: its report (as the JSON line the batch writes) and what progress shows."""

    seq: int
    report: str
    verdict: str
    flagged: bool
    error: str | None
    sources: int
    worker: str

    def to_fields(self) -> dict[str, str]:
        summary = {"verdict": self.verdict, "flagged": self.flagged, "error": self.error,
                   "sources": self.sources, "worker": self.worker}  # fmt: skip
        return {
            "v": str(VERSION),
            "seq": str(self.seq),
            "report": self.report,
            "summary": json.dumps(summary),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[Any, Any]) -> ResultMessage:
        _check_version(fields)
        try:
            summary = json.loads(_text(fields, "summary"))
            return cls(
                seq=int(_text(fields, "seq")),
                report=_text(fields, "report"),
                verdict=str(summary["verdict"]),
                flagged=bool(summary["flagged"]),
                error=summary["error"],
                sources=int(summary["sources"]),
                worker=str(summary["worker"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise MessageError(f"unreadable result: {exc}") from None


def connect(url: str, *, block_s: float = 2.0) -> Redis:
    """A client for the queue: RESP2 pinned (RESP3 changes the shape of stream replies), a
    socket timeout longer than any blocking read (else a blocked read times out as an error), and
    connections that never lose a task's cancellation (``redis_connection``)."""
    from redis.asyncio import Redis

    from service.pipeline.redis_connection import CANCEL_KEEPING

    client = Redis.from_url(url, protocol=2, socket_timeout=block_s + 10.0, socket_connect_timeout=5.0)
    pool = client.connection_pool  # no connection is made before the first command
    pool.connection_class = CANCEL_KEEPING.get(pool.connection_class, pool.connection_class)
    return client
