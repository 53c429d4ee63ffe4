"""The local WARC evidence store: every fetch written under ``<root>/warc/``, indexed, readable.

Files are ``provenance-YYYYMMDDHHMMSS-<pid>-<seq>.warc.gz``: each process writes only files it
created (exclusive create, append only), so several processes can share one root; within a
process a lock serialises writers (asyncio tasks call ``arecord``, which runs in a thread). A
file is closed and a new one started once it reaches ``max_file_bytes``. The folder is a valid
``--replay`` source as it is.

Each fetch is written as one block in one ``write`` (records are built in memory first), so a
reader never sees half a record of a finished fetch. The index of ``<stem>.warc.gz`` is
``<stem>.cdxj``: lines ``<surt key> <14-digit timestamp> {json}`` are **appended unsorted**
as records are written (so an index survives a crash) and rewritten sorted when the WARC is
closed; readers sort what they read, so an open file's index works too.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.pipeline.errors import ArchiveError, FetchError, InvalidURL
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
from service.pipeline.urls import surt_key
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
    """The WARC this process is appending to, and its index."""

    def __init__(self, folder: Path, name: str, fd: int) -> None:
        self.name = name
        self.path = folder / name
        self.index = folder / (name.removesuffix(".warc.gz") + ".cdxj")
        self.fd = fd
        self.index_fd = os.open(self.index, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.size = 0
        self.pid = os.getpid()

    def close(self) -> None:
        """Close both files and sort the index; if sorting fails, readers still sort on read."""
        for fd in (self.fd, self.index_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        tmp = self.index.with_suffix(".cdxj.tmp")
        with contextlib.suppress(OSError):
            lines = sorted(line for line in self.index.read_text("utf-8").splitlines() if line.strip())
            tmp.write_text("".join(line + "\n" for line in lines), "utf-8")
            os.replace(tmp, self.index)


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
                _write_all(current.index_fd, "".join(entries).encode("utf-8"))
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
            key = surt_key(url)
        except InvalidURL:
            return []
        same_key = sorted(self._scan(key), key=lambda c: (c.captured_at, c.path.name, c.offset))
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

    def _open(self) -> _OpenFile:
        folder = self.folder
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ArchiveError(f"cannot create {folder}: {e}") from e
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        for seq in range(100_000):
            name = f"provenance-{stamp}-{os.getpid()}-{seq:05d}.warc.gz"
            try:
                fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
            except FileExistsError:
                continue
            opened = _OpenFile(folder, name, fd)
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
            lines.append(f"{surt_key(url)} {_timestamp14(when)} {json.dumps(fields, ensure_ascii=False)}\n")
        return lines

    def _scan(self, key: str) -> Iterator[Capture]:
        folder = self.folder
        if not folder.is_dir():
            return
        for index in sorted(folder.glob("*.cdxj")):
            try:
                text = index.read_text("utf-8")
            except OSError:
                continue  # rotated away between glob and read
            for line in text.splitlines():
                capture = _parse_line(line, key, folder)
                if capture is not None:
                    yield capture


def _parse_line(line: str, key: str, folder: Path) -> Capture | None:
    """One index line as a ``Capture`` if it is for ``key``; None otherwise or if torn/garbled."""
    parts = line.split(" ", 2)
    if len(parts) != 3 or parts[0] != key:
        return None
    try:
        fields = json.loads(parts[2])
        digest = fields.get("digest") or None
        return Capture(
            url=str(fields["url"]),
            captured_at=_parse_warc_date(str(fields["date"])),
            path=folder / _plain_name(str(fields["filename"])),
            offset=int(fields["offset"]),
            length=int(fields["length"]),
            status=int(fields["status"]),
            mime=fields.get("mime") or None,
            digest=f"sha1:{digest}" if digest and ":" not in digest else digest,
        )
    except (ValueError, KeyError, TypeError):
        return None


def _plain_name(name: str) -> str:
    """An index entry names a file in the same folder, never a path elsewhere (``../x``)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"not a file name of this store: {name!r}")
    return name
