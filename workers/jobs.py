"""One job: one post in, its report out, through ``service.pipeline`` exactly as the in-process
batch verifies it (the same reading of the line, the same error reports)."""

from __future__ import annotations

import asyncio

import structlog
from service.pipeline import Deps, FailureCode, InputFormat, Report, verify_post
from service.pipeline.batch import post_or_error
from service.pipeline.report.build import error_report
from service.pipeline.streams import JobMessage, ResultMessage, json_text

log = structlog.get_logger(__name__)


def result_of(message: JobMessage, report: Report, *, worker: str) -> ResultMessage:
    """The result a batch collects: the report line and what its progress bar shows."""
    return ResultMessage(
        seq=message.seq,
        report=json_text(report.to_dict()),
        verdict=report.verdict.value,
        flagged=report.flagged,
        error=report.error.code.value if report.error else None,
        sources=len(report.sources),
        worker=worker,
    )


async def run_job(message: JobMessage, deps: Deps, *, timeout_s: float, worker: str) -> ResultMessage:
    """Verify the post of ``message``; every outcome, a failure included, is a report."""
    try:
        default_format = InputFormat(message.default_format)
    except ValueError:  # a newer producer's format: read the post as the in-process batch would
        default_format = InputFormat.AUTO
    item = post_or_error(message.post, message.line, default_format=default_format)
    if isinstance(item, Report):
        return result_of(message, item, worker=worker)
    try:
        async with asyncio.timeout(timeout_s):
            report = await verify_post(item, deps=deps)
    except TimeoutError:
        log.warning("job_timed_out", timeout_s=timeout_s)
        report = error_report(item.id, FailureCode.TIMEOUT, f"not verified within {timeout_s:g} s")
    except Exception as exc:  # one post's failure is its report's error, never the worker's end
        log.exception("job_failed")
        report = error_report(item.id, FailureCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
    return result_of(message, report, worker=worker)


def dead_letter_result(message: JobMessage, deliveries: int, *, worker: str) -> ResultMessage:
    """The report written for a job given up on, so that its batch still ends."""
    post_id = message.post.get("id")
    known = str(post_id) if isinstance(post_id, (str, int)) and not isinstance(post_id, bool) else None
    text = (
        f"line {message.line}: given up after {deliveries} deliveries; the worker handling it "
        "stopped each time (crashed, killed or cut off from Redis)"
    )
    return result_of(message, error_report(known, FailureCode.DEAD_LETTERED, text), worker=worker)
