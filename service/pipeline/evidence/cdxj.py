"""The evidence store's CDXJ index files: the format pywb reads, sorted, versioned, upgraded in place.

A line is ``<SURT key> <14-digit timestamp> {json}`` (pywb's CDXJ: ``url``, ``mime``, ``status``,
``digest``, ``length``, ``offset``, ``filename``, plus our ``date``); keys come from
``urls.surt_key`` (the ``surt`` package, as pywb computes them), and a file is sorted byte-wise,
as pywb's binary search needs. The first line is ``HEADER`` (``!`` sorts before any key, and pywb
never reads outside the key range it looks for), which says the keys are SURT keys.

Files written by the previous version have no header and keys of our own older form; they are
read by re-keying each line from its ``url`` field (``read_index``), and ``upgrade`` rewrites
them (sorted, with the header) once nobody appends to them any more.

While a WARC is open its new lines go to ``<stem>.cdxj.tail`` (appended, unsorted: a crash loses
nothing) and are merged into the sorted ``<stem>.cdxj`` every ``TAIL_LINES`` lines and when the
WARC is closed. pywb only loads ``*.cdxj``: it sees every closed file and all but the last few
lines of the open one. Our own readers read the tail first and then the sorted file, so a merge
happening in between can only duplicate a line (deduplicated by file and offset), never hide one.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from service.pipeline.errors import InvalidURL
from service.pipeline.fetch.warc_reader import Capture, parse_warc_date
from service.pipeline.urls import surt_key

VERSION = 2
HEADER = '!meta 0 {"format": "provenance-cdxj", "version": 2, "keys": "surt"}'
TAIL_SUFFIX = ".tail"
TAIL_LINES = 32


@dataclass(frozen=True, slots=True)
class IndexLine:
    """One parsed index line: its key and its JSON fields."""

    key: str
    fields: dict[str, object]


def format_line(key: str, timestamp14: str, fields: dict[str, str]) -> str:
    """One CDXJ line, newline included."""
    return f"{key} {timestamp14} {json.dumps(fields, ensure_ascii=False)}\n"


def tail_of(index: Path) -> Path:
    """The unsorted tail file of an index."""
    return index.with_name(index.name + TAIL_SUFFIX)


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text("utf-8").splitlines()
    except (FileNotFoundError, UnicodeDecodeError):
        return []


def is_current(lines: list[str]) -> bool:
    """Whether index lines (as read from a ``.cdxj``) carry this version's header."""
    return bool(lines) and lines[0] == HEADER


def _parse(line: str, rekey: bool) -> IndexLine | None:
    if not line or line.startswith("!"):
        return None
    parts = line.split(" ", 2)
    if len(parts) != 3:
        return None
    try:
        fields = json.loads(parts[2])
    except ValueError:
        return None
    if not isinstance(fields, dict):
        return None
    key = parts[0]
    if rekey:
        try:
            key = surt_key(str(fields.get("url", "")))
        except InvalidURL:
            return None
    return IndexLine(key, fields)


def read_index(index: Path) -> Iterator[IndexLine]:
    """Every line of an index and its open tail, keys always in the current form: tail first."""
    for line in _read_lines(tail_of(index)):
        parsed = _parse(line, rekey=False)  # only this version writes tails
        if parsed is not None:
            yield parsed
    lines = _read_lines(index)
    rekey = not is_current(lines)
    for line in lines:
        parsed = _parse(line, rekey=rekey)
        if parsed is not None:
            yield parsed


def _rekeyed(lines: Iterable[str]) -> list[str]:
    out = []
    for line in lines:
        parsed = _parse(line, rekey=True)
        if parsed is not None:
            out.append(f"{parsed.key} {line.split(' ', 2)[1]} {line.split(' ', 2)[2]}")
    return out


def write_sorted(index: Path, lines: Iterable[str]) -> None:
    """Write ``lines`` (no header, no newline) sorted under the header, atomically."""
    body = sorted({line for line in lines if line.strip() and not line.startswith("!")})
    tmp = index.with_name(index.name + ".tmp")
    tmp.write_text("".join(f"{line}\n" for line in [HEADER, *body]), "utf-8")
    os.replace(tmp, index)


def merge_tail(index: Path, tail_fd: int | None = None) -> None:
    """Fold the tail into the sorted index (new sorted file first, then the tail emptied)."""
    tail = tail_of(index)
    current = _read_lines(index)
    kept = current if is_current(current) else _rekeyed(current)
    write_sorted(index, [*kept, *_read_lines(tail)])
    if tail_fd is not None:
        os.ftruncate(tail_fd, 0)
    else:
        with contextlib.suppress(FileNotFoundError):
            tail.unlink()


def _owner_alive(index: Path) -> bool:
    """Whether the process named in ``provenance-<stamp>-<pid>-<seq>`` still runs (on this host)."""
    parts = index.name.split("-")
    if len(parts) < 4 or not parts[2].isdigit():
        return False
    pid = int(parts[2])
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def upgrade(folder: Path, *, skip: Iterable[Path] = ()) -> list[Path]:
    """Rewrite old-form indexes (no header) and fold orphaned tails, for files whose writer is gone.

    Returns the indexes rewritten. A file whose writing process still runs on this host is left
    as it is (read correctly all the same); so is one that cannot be rewritten.
    """
    skipped = {p.resolve() for p in skip}
    done: list[Path] = []
    for index in sorted(folder.glob("*.cdxj")):
        if index.resolve() in skipped:
            continue
        stale = tail_of(index).exists() or not is_current(_read_lines(index)[:1])
        if not stale or _owner_alive(index):
            continue
        with contextlib.suppress(OSError):
            merge_tail(index)
            done.append(index)
    return done


def to_capture(fields: Mapping[str, object], folder: Path) -> Capture | None:
    """One index entry as a ``Capture``; None if torn or garbled."""
    try:
        digest = str(fields.get("digest") or "") or None
        mime = fields.get("mime")
        return Capture(
            url=str(fields["url"]),
            captured_at=_date(str(fields["date"])),
            path=folder / _plain_name(str(fields["filename"])),
            offset=int(str(fields["offset"])),
            length=int(str(fields["length"])),
            status=int(str(fields["status"])),
            mime=str(mime) if mime else None,
            digest=f"sha1:{digest}" if digest and ":" not in digest else digest,
        )
    except (ValueError, KeyError, TypeError):
        return None


def _plain_name(name: str) -> str:
    """An index entry names a file in the same folder, never a path elsewhere (``../x``)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"not a file name of this store: {name!r}")
    return name


def _date(value: str) -> datetime:
    parsed = parse_warc_date(value)
    if parsed is None:
        raise ValueError(f"not a date: {value!r}")
    return parsed
