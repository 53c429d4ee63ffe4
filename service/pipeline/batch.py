"""Many posts in, one report each out, in input order, with flat memory.

Input and output are streamed: at most ``window`` posts are held at once, ``concurrency`` of
them being verified. A line that cannot be read becomes a report with ``error`` set and the
batch goes on; so does a post whose verification fails unexpectedly.

A batch with a budget (``BudgetSettings.batch_s``) still writes a report for every line: posts
under way when it runs out stop reading their sources then (``budget_exhausted`` sources), and
every post not started by then gets an error report (``budget_exhausted``) without being read.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from service.pipeline.deps import Deps
from service.pipeline.errors import InputError
from service.pipeline.models import EventKind, FailureCode, InputFormat, Post, ProgressEvent, Report
from service.pipeline.posts.input import MAX_POST_CHARS, post_from_mapping
from service.pipeline.report.build import error_report
from service.pipeline.streams import json_text
from service.pipeline.verify import verify_post

log = structlog.get_logger(__name__)

INLINE_LINE_BYTES = 1024  # lines up to this long are read on the event loop (see ``run_batch``)


def _decode(line: str | bytes, lineno: int) -> str | Report:
    if isinstance(line, str):
        return line
    try:
        return line.decode("utf-8-sig" if lineno == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        return error_report(None, FailureCode.BAD_ENCODING, f"line {lineno}: not UTF-8 (byte {exc.start})")


def read_object(line: str | bytes, lineno: int) -> dict[str, Any] | Report:
    """A batch line's JSON object, or the error report that stands in for an unreadable line.

    Lines may come as bytes, so that one line in another encoding is that line's error, not a
    silent replacement character in a quote (which could then be flagged as altered).
    """
    text = _decode(line, lineno)
    if isinstance(text, Report):
        return text
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return error_report(None, FailureCode.BAD_JSON, f"line {lineno}: not JSON ({exc.msg})")
    except (ValueError, RecursionError) as exc:  # 5,000-digit numbers, nesting past the stack
        return error_report(
            None, FailureCode.BAD_JSON, f"line {lineno}: unreadable JSON ({type(exc).__name__})"
        )
    if not isinstance(data, dict):
        return error_report(None, FailureCode.BAD_JSON, f"line {lineno}: not a JSON object")
    return data


def post_or_error(
    data: Mapping[str, Any], lineno: int, *, default_format: InputFormat, max_chars: int = MAX_POST_CHARS
) -> Post | Report:
    """The post a batch line's object holds, or its error report (in-process and queue workers)."""
    try:
        return post_from_mapping(data, default_format=default_format, max_chars=max_chars)
    except InputError as exc:
        return error_report(known_id(data), FailureCode.BAD_INPUT, f"line {lineno}: {exc}")


def known_id(data: Mapping[str, Any]) -> str | None:
    """The id a post's error report keeps: the line's own, when it is one an id can be."""
    post_id = data.get("id")
    return str(post_id) if isinstance(post_id, (str, int)) and not isinstance(post_id, bool) else None


def read_line(
    line: str | bytes, lineno: int, *, default_format: InputFormat, max_chars: int = MAX_POST_CHARS
) -> Post | Report:
    """A post, or the error report that stands in for an unreadable line."""
    data = read_object(line, lineno)
    if isinstance(data, Report):
        return data
    return post_or_error(data, lineno, default_format=default_format, max_chars=max_chars)


@dataclass(frozen=True, slots=True)
class BatchSummary:
    posts: int
    flagged: int
    errors: int
    not_started: int = 0  # posts given a ``budget_exhausted`` error report: the batch ran out of time


def _not_started(post: Post, deps: Deps) -> Report:
    budget = deps.settings.budget.batch_s or 0.0
    message = f"the batch's budget of {budget:g} s ran out before this post was started"
    return error_report(post.id, FailureCode.BUDGET_EXHAUSTED, message)


async def _verify_one(
    item: Post | Report, deps: Deps, gate: asyncio.Semaphore, deadline: float | None
) -> Report:
    if isinstance(item, Report):
        return item
    loop = asyncio.get_running_loop()
    if deadline is not None and loop.time() >= deadline:  # not even queued for a turn
        return _not_started(item, deps)
    async with gate:
        if deadline is not None and loop.time() >= deadline:
            return _not_started(item, deps)
        try:
            return await verify_post(item, deps=deps, until=deadline)
        except Exception as exc:
            log.exception("post_failed", post_id=item.id)
            return error_report(item.id, FailureCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")


async def run_batch(
    lines: Iterable[str | bytes],
    write: Callable[[str], object],
    *,
    deps: Deps,
    concurrency: int = 8,
    default_format: InputFormat = InputFormat.AUTO,
) -> BatchSummary:
    """Verify every non-blank line of ``lines``; ``write`` gets one JSON report line per post.

    Within the batch's budget (``deps.settings.budget.batch_s``), if it has one: see the module.
    """
    gate = asyncio.Semaphore(max(1, concurrency))
    window: deque[asyncio.Task[Report]] = deque()
    limit = max(1, concurrency) * 4
    posts = flagged = errors = not_started = 0
    budget = deps.settings.budget.batch_s
    deadline = None if budget is None else asyncio.get_running_loop().time() + budget

    async def drain(keep: int) -> None:
        nonlocal posts, flagged, errors, not_started
        while len(window) > keep or (window and window[0].done()):
            report = await window.popleft()
            # Readable UTF-8, or ASCII escapes for a report holding a lone surrogate (a "\\ud800" of
            # the input): every line stays valid UTF-8 JSON, as the queue writes it (streams.json_text).
            write(json_text(report.to_dict()) + "\n")
            posts += 1
            flagged += report.flagged
            errors += report.error is not None
            not_started += report.error is not None and report.error.code is FailureCode.BUDGET_EXHAUSTED
            if report.error is not None and deps.events is not None:
                # Verified posts announce themselves; a post that never got that far does it here.
                data = {"verdict": report.verdict.value, "error": report.error.code}
                deps.events(ProgressEvent(kind=EventKind.POST_FINISHED, post_id=report.id, data=data))

    try:
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            # A long line in a thread: even linear, reading a long hostile post takes a while, and
            # the event loop (other posts' fetches, the extraction pool's clocks) must not wait for
            # it. A short one here: the hand-off to a thread cost more than reading it (a hostile
            # line of ``INLINE_LINE_BYTES`` holds the loop a few milliseconds at most).
            max_chars = deps.settings.post.max_chars
            if len(line) <= INLINE_LINE_BYTES:
                item = read_line(line, lineno, default_format=default_format, max_chars=max_chars)
            else:
                item = await asyncio.to_thread(
                    read_line, line, lineno, default_format=default_format, max_chars=max_chars
                )
            window.append(asyncio.create_task(_verify_one(item, deps, gate, deadline)))
            await drain(limit - 1)
        await drain(0)
    finally:  # cancelled (a job's timeout, a shutdown): nothing of this batch runs on unseen
        for task in window:
            task.cancel()
        await asyncio.gather(*window, return_exceptions=True)
    if not_started:
        log.warning("batch_budget_exhausted", budget_s=budget, not_started=not_started, posts=posts)
    return BatchSummary(posts=posts, flagged=flagged, errors=errors, not_started=not_started)
