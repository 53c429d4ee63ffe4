"""The local WARC evidence store: every fetch written under ``<root>/warc/``, indexed, readable.

Files are ``provenance-YYYYMMDDHHMMSS-<pid>-<seq>.warc.gz``: each process writes only files it
created (exclusive create, append only), so several processes can share one root; within a
process a lock serialises writers (asyncio tasks call ``arecord``, which runs in a thread). A
file is closed and a new one started once it reaches ``max_file_bytes``. The folder is a valid
``--replay`` source as it is, and a pywb collection (``cdxj.py``: sorted CDXJ with SURT keys).

Each fetch is written as one block in one ``write`` (records are built in memory first), so a
reader never sees half a record of a finished fetch. The index of ``<stem>.warc.gz`` is
``<stem>.cdxj`` (sorted, with a versioned header) plus, while the WARC is open, a short unsorted
``<stem>.cdxj.tail`` merged into it every few fetches and on close. Indexes written by the
previous version (other keys, no header) are read by re-keying and rewritten when a store opens.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.pipeline.errors import ArchiveError, FetchError, InvalidURL
from service.pipeline.evidence import cdxj
from service.pipeline.evidence.warc_writer import (
    Headers,
    RecordLocation,
    hop_targets,
    new_writer,
    write_fetch,
    write_warcinfo,
)
from service.pipeline.fetch.answers import http_status_error, status_for_error
from service.pipeline.fetch.warc_reader import Capture, parse_warc_date, read_capture
from service.pipeline.models import Extraction, FetchResult, WarcEntry
from service.pipeline.urls import lookup_keys, surt_key
from service.settings import MIB, StoreSettings

WARC_DIR = "warc"


def _timestamp14(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def _parse_warc_date(value: str) -> datetime:
    parsed = parse_warc_date(value)
    if parsed is None:
        raise ValueError(f"not a WARC date: {value!r}")
    return parsed


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _OpenFile:
    """The WARC this process is appending to, its sorted index and the index's unsorted tail."""

    def __init__(self, folder: Path, name: str, fd: int) -> None:
        self.name = name
        self.path = folder / name
        self.index = folder / (name.removesuffix(".warc.gz") + ".cdxj")
        self.fd = fd
        cdxj.write_sorted(self.index, [])
        self.tail_fd = os.open(cdxj.tail_of(self.index), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.tail_lines = 0
        self.size = 0
        self.pid = os.getpid()

    def add_index_lines(self, lines: list[str]) -> None:
        """Append to the tail; fold it into the sorted index once it holds ``TAIL_LINES``."""
        _write_all(self.tail_fd, "".join(lines).encode("utf-8"))
        self.tail_lines += len(lines)
        if self.tail_lines >= cdxj.TAIL_LINES:
            cdxj.merge_tail(self.index, self.tail_fd)
            self.tail_lines = 0

    def close(self) -> None:
        """Close the WARC, fold the tail into the sorted index; if that fails, readers read the tail."""
        with contextlib.suppress(OSError):
            os.close(self.fd)
        try:
            cdxj.merge_tail(self.index, self.tail_fd)
            cdxj.tail_of(self.index).unlink()
        except OSError:
            pass  # the tail stays; readers read it and the next store's upgrade folds it
        finally:
            with contextlib.suppress(OSError):
                os.close(self.tail_fd)


class EvidenceStore:
    """Writes fetches to the WARC store and finds them again (see the module doc for the layout)."""

    def __init__(
        self,
        root: Path,
        settings: StoreSettings | None = None,
        *,
        request_headers: Headers = (),
        max_body_bytes: int = 5 * MIB,
    ) -> None:
        self.root = root
        self._settings = settings or StoreSettings()
        self._max_body_bytes = max_body_bytes  # what a read takes back: the fetcher's own cap
        self._request_headers = tuple(request_headers)
        self._lock = threading.Lock()
        self._current: _OpenFile | None = None
        self._upgraded = False

    @property
    def folder(self) -> Path:
        return self.root / WARC_DIR

    def __enter__(self) -> EvidenceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Finish the current file (its index is sorted); the next record starts a new one."""
        with self._lock:
            self._finish()

    def record(
        self, fetched: FetchResult, *, extraction: Mapping[str, Any] | Extraction | None = None
    ) -> WarcEntry:
        """Store one fetch (redirect hops, final response, metadata); where its response went.

        Raises ``ArchiveError`` for a fetch that got no HTTP answer at all.
        """
        buf = io.BytesIO()
        written = write_fetch(
            new_writer(buf), fetched, extraction=extraction, request_headers=self._request_headers
        )
        block = buf.getvalue()
        with self._lock:
            current = self._writable()
            base = current.size
            entries = self._index_entries(fetched, written.hops, written.response, base, current.name)
            try:
                _write_all(current.fd, block)
                current.size += len(block)
                current.add_index_lines(entries)
            except OSError as e:
                self._finish()  # never append after a torn write: the next fetch starts a new file
                raise ArchiveError(f"cannot write {current.name}: {e}") from e
            if current.size >= self._settings.max_file_bytes:
                self._finish()
        return WarcEntry(
            file=f"{WARC_DIR}/{current.name}",
            offset=base + written.response.offset,
            length=written.response.length,
            digest=written.response.digest,
            captured_at=_parse_warc_date(written.response.warc_date).isoformat(),
        )

    async def arecord(
        self, fetched: FetchResult, *, extraction: Mapping[str, Any] | Extraction | None = None
    ) -> WarcEntry:
        """``record`` in a worker thread, for async callers (file I/O never blocks the loop)."""
        return await asyncio.to_thread(self.record, fetched, extraction=extraction)

    def captures(self, url: str) -> list[Capture]:
        """Every stored response for ``url``, oldest first: exact URL matches, else same SURT key."""
        try:
            keys = set(lookup_keys(url))
        except InvalidURL:
            return []
        self._upgrade_once()
        same_key = sorted(self._scan(keys), key=lambda c: (c.captured_at, c.path.name, c.offset))
        exact = [c for c in same_key if c.url == url]
        return exact or same_key

    def capture_at(self, url: str, when: datetime) -> Capture | None:
        """The latest capture of ``url`` at or before ``when`` (naive means UTC)."""
        moment = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        earlier = [c for c in self.captures(url) if c.captured_at <= moment]
        return earlier[-1] if earlier else None

    def read(self, capture: Capture) -> FetchResult:
        """The stored response back as a ``FetchResult``: status, headers, exact body, peer.

        Read through the one checked WARC reader: a record whose digests do not verify raises
        ``ArchiveError`` and is never evidence. ``status`` follows the fetcher's rules for the
        stored HTTP status (a 3xx hop reads back as an error with reason ``http_3xx``, its
        ``Location`` in the headers).
        """
        try:
            stored = read_capture(capture, limit=self._max_body_bytes)
        except FetchError as e:
            raise ArchiveError(f"unreadable capture {self.relative(capture)}:{capture.offset}: {e}") from e
        found = stored.as_fetch_result(capture, url=capture.url, final_url=capture.url)
        err = http_status_error(stored.status)
        return found if err is None else replace(found, status=status_for_error(err), reason=err.reason)

    def relative(self, capture: Capture) -> str:
        """The capture's file relative to the store's root, as reports name it."""
        try:
            return capture.path.relative_to(self.root).as_posix()
        except ValueError:
            return str(capture.path)

    def entry(self, capture: Capture) -> WarcEntry:
        """The report's ``archive.warc`` entry for a stored capture."""
        return WarcEntry(
            file=self.relative(capture),
            offset=capture.offset,
            length=capture.length,
            digest=capture.digest,
            captured_at=capture.captured_at.isoformat(),
        )

    async def aread(self, capture: Capture) -> FetchResult:
        """``read`` in a worker thread."""
        return await asyncio.to_thread(self.read, capture)

    # ------------------------------------------------------------ internals

    def _writable(self) -> _OpenFile:
        current = self._current
        if current is not None and current.pid != os.getpid():
            current = self._current = None  # a forked child: the parent owns that file
        return current or self._open()

    def upgrade_indexes(self) -> list[Path]:
        """Rewrite indexes of the previous version (and fold tails left by a crash) for pywb; files
        a live process on this host still writes are left alone. Returns the files rewritten."""
        if not self.folder.is_dir():
            return []
        held = [self._current.index] if self._current is not None else []
        return cdxj.upgrade(self.folder, skip=held)

    def _upgrade_once(self) -> None:
        if not self._upgraded:
            self._upgraded = True
            self.upgrade_indexes()

    def _open(self) -> _OpenFile:
        folder = self.folder
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ArchiveError(f"cannot create {folder}: {e}") from e
        self._upgrade_once()
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        for seq in range(100_000):
            name = f"provenance-{stamp}-{os.getpid()}-{seq:05d}.warc.gz"
            try:
                fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
            except FileExistsError:
                continue
            try:
                opened = _OpenFile(folder, name, fd)
            except OSError as e:
                os.close(fd)
                raise ArchiveError(f"cannot create the index of {name}: {e}") from e
            buf = io.BytesIO()
            write_warcinfo(new_writer(buf), name, isPartOf="provenance-evidence-store")
            _write_all(fd, buf.getvalue())
            opened.size = len(buf.getvalue())
            self._current = opened
            return opened
        raise ArchiveError(f"no free WARC file name in {folder}")

    def _finish(self) -> None:
        current, self._current = self._current, None
        if current is not None and current.pid == os.getpid():
            current.close()

    @staticmethod
    def _index_entries(
        fetched: FetchResult,
        hops: tuple[RecordLocation, ...],
        response: RecordLocation,
        base: int,
        name: str,
    ) -> list[str]:
        located: list[tuple[str, int, str | None, RecordLocation]] = [
            (url, status, None, loc) for (url, status, _), loc in zip(hop_targets(fetched), hops, strict=True)
        ]
        located.append((fetched.final_url, fetched.http_status or 0, fetched.content_type, response))
        lines = []
        for url, status, mime, loc in located:
            when = _parse_warc_date(loc.warc_date)
            fields = {
                "url": url,
                "mime": (mime or "").split(";")[0].strip() or "unk",
                "status": str(status),
                "digest": (loc.digest or "").removeprefix("sha1:"),
                "length": str(loc.length),
                "offset": str(base + loc.offset),
                "filename": name,
                "date": when.isoformat(),
            }
            lines.append(cdxj.format_line(surt_key(url), _timestamp14(when), fields))
        return lines

    def _scan(self, keys: set[str]) -> Iterator[Capture]:
        folder = self.folder
        if not folder.is_dir():
            return
        seen: set[tuple[str, int]] = set()
        for index in sorted(folder.glob("*.cdxj")):
            for line in cdxj.read_index(index):
                if line.key not in keys:
                    continue
                capture = cdxj.to_capture(line.fields, folder)
                if capture is not None and (capture.path.name, capture.offset) not in seen:
                    seen.add((capture.path.name, capture.offset))
                    yield capture
