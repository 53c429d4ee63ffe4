"""The past version of a page from the evidence store and the Wayback Machine (evidence/past.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from structlog.testing import capture_logs

from service.pipeline.evidence.past import EvidenceFetcher
from service.pipeline.evidence.store import EvidenceStore
from service.pipeline.models import FetchResult, SourceStatus
from tests.fakes.sources import FakeFetcher
from tests.fakes.wayback import FakeWayback
from tests.pipeline._warc_helpers import tamper
from tests.pipeline.conftest import MakeClient


async def test_past_comes_from_the_store_before_the_wayback_machine(
    fake: FakeWayback, make_client: MakeClient, tmp_path: Path
) -> None:
    """fetch_at answers from the local store when it has a capture early enough, else Wayback."""
    url = "https://news.example/a"
    fake.add_snapshot(url, "20200101000000", "<html><body><p>From the archive.</p></body></html>")
    with EvidenceStore(tmp_path) as store:
        stored = FetchResult(url=url, final_url=url, status=SourceStatus.OK, http_status=200,
                             headers=(("Content-Type", "text/html"),), body=b"<p>From our store.</p>",
                             fetched_at=datetime(2021, 6, 1, tzinfo=UTC))  # fmt: skip
        store.record(stored)
        fetcher = EvidenceFetcher(FakeFetcher({}), store=store, wayback=make_client())
        recent = await fetcher.fetch_at(url, datetime(2022, 1, 1, tzinfo=UTC))
        older = await fetcher.fetch_at(url, datetime(2020, 6, 1, tzinfo=UTC))
        none = await fetcher.fetch_at(url, datetime(2019, 1, 1, tzinfo=UTC))
    assert recent is not None
    assert recent.body == b"<p>From our store.</p>"
    assert recent.evidence is not None
    assert recent.evidence.file.startswith("warc/")
    assert older is not None
    assert b"From the archive." in older.body
    assert older.archive_url == f"{fake.base_url}/web/20200101000000/{url}"
    assert none is None


async def test_a_tampered_stored_record_is_not_evidence(tmp_path: Path) -> None:
    """The at-post lookup reads the store through the checked reader: a record whose digest does
    not verify is skipped (and logged), never compared as the page at post time."""
    url = "https://news.example/edited"
    with EvidenceStore(tmp_path) as store:
        stored = FetchResult(url=url, final_url=url, status=SourceStatus.OK, http_status=200,
                             headers=(("Content-Type", "text/html"),), body=b"<p>The minister resigned.</p>",
                             fetched_at=datetime(2021, 6, 1, tzinfo=UTC))  # fmt: skip
        record = store.record(stored)
        assert record.length is not None
        fetcher = EvidenceFetcher(FakeFetcher({}), store=store)
        intact = await fetcher.fetch_at(url, datetime(2022, 1, 1, tzinfo=UTC))
        assert intact is not None
        assert intact.body == stored.body
        tamper(tmp_path / record.file, record.offset, record.length, b"resigned", b"stayed!!")
        with capture_logs() as logs:
            tampered = await fetcher.fetch_at(url, datetime(2022, 1, 1, tzinfo=UTC))
    assert tampered is None
    [event] = [e for e in logs if e["event"] == "store_capture_unreadable"]
    assert event["url"] == url
    assert event["log_level"] == "warning"


async def test_unreadable_stored_capture_is_logged_and_the_wayback_machine_answers(
    fake: FakeWayback, make_client: MakeClient, tmp_path: Path
) -> None:
    """A stored capture whose WARC file is gone is skipped with a ``store_capture_unreadable``
    warning naming the URL and the read error; the Wayback Machine's capture answers instead."""
    url = "https://news.example/a"
    fake.add_snapshot(url, "20200101000000", "<html><body><p>From the archive.</p></body></html>")
    with EvidenceStore(tmp_path) as store:
        store.record(
            FetchResult(url=url, final_url=url, status=SourceStatus.OK, http_status=200,
                        body=b"<p>From our store.</p>", fetched_at=datetime(2021, 6, 1, tzinfo=UTC))
        )  # fmt: skip
        store.close()
        [warc] = store.folder.glob("*.warc.gz")
        warc.unlink()
        fetcher = EvidenceFetcher(FakeFetcher({}), store=store, wayback=make_client())
        with capture_logs() as logs:
            found = await fetcher.fetch_at(url, datetime(2022, 1, 1, tzinfo=UTC))
    assert found is not None
    assert b"From the archive." in found.body
    [event] = [e for e in logs if e["event"] == "store_capture_unreadable"]
    assert (event["log_level"], event["url"]) == ("warning", url)
    assert event["error"].startswith("unreadable capture warc/")
    assert warc.name in event["error"]


async def test_refused_wayback_lookup_is_logged_and_gives_no_past(
    fake: FakeWayback, make_client: MakeClient
) -> None:
    """When the Wayback Machine refuses the CDX lookup (403), there is no at-post version and a
    ``wayback_lookup_failed`` warning names the URL and the refusal."""
    fake.cdx_status = 403
    url = "https://news.example/a"
    fake.add_snapshot(url, "20200101000000", "<html><body><p>From the archive.</p></body></html>")
    fetcher = EvidenceFetcher(FakeFetcher({}), wayback=make_client())
    with capture_logs() as logs:
        found = await fetcher.fetch_at(url, datetime(2022, 1, 1, tzinfo=UTC))
    assert found is None
    assert fake.hits["cdx"] == 1
    assert [e for e in logs if e["event"] == "wayback_lookup_failed"] == [
        {"event": "wayback_lookup_failed", "log_level": "warning", "url": url, "error": "CDX: HTTP 403"}
    ]
