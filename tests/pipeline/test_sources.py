"""Reading one cited source (service/pipeline/sources.py): what it reports and logs when a stage fails."""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from service.pipeline.deps import Deps
from service.pipeline.errors import ExtractionError
from service.pipeline.evidence.store import EvidenceStore
from service.pipeline.models import Extraction, InputFormat, QuoteStatus, SourceReason, SourceStatus
from service.pipeline.posts import parse_post
from service.pipeline.verify import verify_post
from service.settings import HttpSettings, Settings
from tests.fakes.sources import FakeFetcher, TextExtractor

NO_PROBE = Settings(http=HttpSettings(probe_soft_404=False))
URL = "https://news.example/a"
PAGE = (
    "Council approves new budget\n"
    "The city council approved a budget of 42 million dollars on Tuesday, after a debate that lasted "
    "nearly six hours and ended with a narrow vote.\n"
)
POST = (
    "The city council approved a budget of 42 million dollars on Tuesday, after a debate that lasted "
    "nearly six hours and ended with a narrow vote.\n\n" + URL + "\n"
)


class CrashingExtractor:
    """An extraction pool whose worker died on the page."""

    async def extract(
        self, body: bytes, *, url: str, content_type: str | None = None, digest: str | None = None
    ) -> Extraction:
        raise ExtractionError("an extraction worker died", reason=SourceReason.EXTRACTION_CRASHED)


async def test_failed_extraction_is_an_error_source_and_logged() -> None:
    """A page the extractor fails on is an error source with the failure's reason, its passage is
    unverifiable, and an ``extraction_failed`` warning names the URL and the reason."""
    deps = Deps(settings=NO_PROBE, fetcher=FakeFetcher({URL: PAGE}), extractor=CrashingExtractor())
    with capture_logs() as logs:
        report = await verify_post(parse_post(POST, InputFormat.TEXT), deps=deps)
    assert [(s.status, s.reason) for s in report.sources] == [(SourceStatus.ERROR, "extraction_crashed")]
    assert [q.status for q in report.quotes] == [QuoteStatus.UNVERIFIABLE]
    assert [e for e in logs if e["event"] == "extraction_failed"] == [
        {"event": "extraction_failed", "log_level": "warning", "url": URL, "reason": "extraction_crashed"}
    ]


async def test_evidence_the_store_cannot_write_is_logged_and_the_check_goes_on(tmp_path: Path) -> None:
    """When the evidence store cannot write (its folder cannot be created), the source is still read
    and its passage verified, without a WARC location, and ``evidence_not_stored`` names the URL and
    the store's error."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    store = EvidenceStore(blocker)
    deps = Deps(settings=NO_PROBE, fetcher=FakeFetcher({URL: PAGE}), extractor=TextExtractor(), store=store)
    with capture_logs() as logs:
        report = await verify_post(parse_post(POST, InputFormat.TEXT), deps=deps)
    assert [q.status for q in report.quotes] == [QuoteStatus.VERBATIM]
    assert [(s.status, s.archive_warc) for s in report.sources] == [(SourceStatus.OK, None)]
    [event] = [e for e in logs if e["event"] == "evidence_not_stored"]
    assert event["log_level"] == "warning"
    assert event["url"] == URL
    assert event["error"].startswith("cannot create ")
    assert str(blocker) in event["error"]
