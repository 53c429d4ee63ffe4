"""Reading a replayed capture in the extraction worker that will extract its page.

The parent used to read each replayed record (inflate it, check its two digests, take the body's
SHA-256) and then write the body to a worker to extract: about 1 ms of the parent's CPU a page on
the corpus batch (3.8 against 2.8 ms a page, alternate runs with and without), a quarter of all it
did, on the same two cores as the workers. A worker now reads the record through the one checked
reader (``warc_reader.read_capture``: the same checks, the same errors) and, when the answer is a
page that will be extracted (``worth_extracting``), extracts it at once. The parent gets back the
answer (its body still serves the report's hash and the health rules), the SHA-256 and the
reading, which the pool keeps in its cache, where the source's own extraction call finds it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from service.pipeline.errors import FetchError
from service.pipeline.extract.reading import PageReading, begin_call, read_page
from service.pipeline.fetch.answers import worth_extracting
from service.pipeline.fetch.warc_reader import Capture, StoredAnswer, read_capture
from service.pipeline.models import header_value


@dataclass(frozen=True, slots=True)
class CaptureReading:
    """A capture as a worker read it: its answer or the error that refused it; the body's SHA-256;
    its page's reading when it was extracted (``None``: not asked, no page, or its extraction
    failed, which the parent's own call for it then meets and reports)."""

    answer: StoredAnswer | None
    error: FetchError | None = None
    sha256: str | None = None
    reading: PageReading | None = None


def read_capture_page(
    capture: Capture,
    original: Capture | None,
    url: str,
    limit: int,
    accepted: tuple[str, ...],
    extract: bool,
    max_html_bytes: int,
    cpu_s: float | None = None,
    slot: int | None = None,
) -> CaptureReading:
    """Read ``capture`` (a revisit's body from ``original``), checked; extract its page when
    ``extract`` and the answer is one. ``cpu_s``/``slot``: the pool's limits (None: inline)."""
    if cpu_s is not None:
        begin_call(cpu_s, slot)
    try:
        answer = read_capture(capture, limit=limit, original=original)
    except FetchError as err:
        return CaptureReading(None, err)
    digest = hashlib.sha256(answer.body).hexdigest() if answer.body else None
    if not extract or not worth_extracting(answer.status, answer.headers, answer.body, accepted):
        return CaptureReading(answer, sha256=digest)
    content_type = header_value(answer.headers, "content-type")
    try:
        reading = read_page(answer.body, url, content_type, max_html_bytes)
    except Exception:  # noqa: BLE001 - the parent's extraction call meets it again and reports it
        reading = None
    return CaptureReading(answer, sha256=digest, reading=reading)
