"""The ``capture`` command's work: fetch pages and write them as one standalone WARC file."""

from __future__ import annotations

import asyncio
from pathlib import Path

from service.pipeline.evidence.warc_writer import write_standalone_warc
from service.pipeline.models import Fetcher, FetchResult


async def export_warc(urls: list[str], path: Path, *, fetcher: Fetcher) -> list[FetchResult]:
    """Fetch ``urls`` (safely, like any live fetch) and write them as one standalone WARC file."""
    fetched = list(await asyncio.gather(*(fetcher.fetch(url) for url in urls)))
    await asyncio.to_thread(write_standalone_warc, path, fetched)
    return fetched
