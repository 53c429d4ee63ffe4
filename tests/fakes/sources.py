"""In-memory collaborators for verification tests: pages by URL, text 'extraction'."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from service.pipeline.extract.page_text import decode_html, parse_html
from service.pipeline.extract.signals import read_signals
from service.pipeline.models import Extraction, FetchResult, PageSignals, SourceReason, SourceStatus


@dataclass
class FakeFetcher:
    """Answers URLs from dicts; ``then`` holds at-post versions. Counts every fetch."""

    pages: dict[str, str]
    then: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, SourceStatus] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    async def fetch(self, url: str) -> FetchResult:
        self.calls.append(url)
        status = self.statuses.get(url)
        if status is not None:
            return FetchResult(url=url, final_url=url, status=status, reason=SourceReason.FETCH_FAILED)
        if url not in self.pages:
            return FetchResult(
                url=url, final_url=url, status=SourceStatus.ERROR, reason=SourceReason.NOT_IN_REPLAY
            )
        return FetchResult(
            url=url,
            final_url=url,
            status=SourceStatus.OK,
            http_status=200,
            body=self.pages[url].encode(),
            content_type="text/plain",
            fetched_at=datetime(2024, 1, 1, tzinfo=UTC),
        )

    async def fetch_at(self, url: str, when: datetime) -> FetchResult | None:
        if url not in self.then:
            return None
        return FetchResult(
            url=url,
            final_url=f"https://archive.test/{url}",
            status=SourceStatus.OK,
            http_status=200,
            body=self.then[url].encode(),
            captured_at=datetime(2020, 1, 1, tzinfo=UTC),
        )


def _signals(body: bytes) -> PageSignals | None:
    """What the real worker reads for health (titles, classes), for an HTML body; health never
    parses a page itself."""
    if not body.lstrip().startswith(b"<"):
        return None
    root, _ = parse_html(decode_html(body), 1 << 20)
    return None if root is None else read_signals(root, None)


class TextExtractor:
    """Treats the body as the article text; the first line doubles as the title."""

    def __init__(self) -> None:
        self.calls = 0

    async def extract(
        self, body: bytes, *, url: str, content_type: str | None = None, digest: str | None = None
    ) -> Extraction:
        self.calls += 1
        text = body.decode()
        title = text.split("\n", 1)[0]
        return Extraction(main_text=text, page_text=text, title=title, signals=_signals(body))
