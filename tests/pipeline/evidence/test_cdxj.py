"""The evidence store's CDXJ files (service/pipeline/evidence/cdxj.py): pywb's key and order, a
short unsorted tail for the open file, indexes of the previous version read and upgraded."""

from __future__ import annotations

import ipaddress
import json
from datetime import datetime, timedelta
from pathlib import Path

from yarl import URL

from service.pipeline.evidence import cdxj
from service.pipeline.evidence.store import EvidenceStore
from service.pipeline.models import FetchResult, SourceStatus
from service.pipeline.urls import normalize_url
from tests.pipeline._warc_helpers import WHEN

URLS = [
    "http://127.0.0.1:18080/ipv4",
    "https://xn--bcher-kva.example/buch/",
    "https://www1.example.com/w1",
    "https://example.org/a%2Fb",
    "https://example.org/",
]


def page(url: str, when: datetime, body: bytes) -> FetchResult:
    """A plain 200 fetch of ``url`` at ``when``."""
    return FetchResult(
        url=url, final_url=url, status=SourceStatus.OK, http_status=200, content_type="text/html",
        headers=(("Content-Type", "text/html"),), body=body, fetched_at=when, peer="127.0.0.1",
    )  # fmt: skip


def legacy_key(url: str) -> str:
    """The key the previous version wrote (urls.surt_key before the ``surt`` package): normalised
    URL, host reversed unless an IP, ``www.`` dropped, query sorted, lower case."""
    parsed = URL(normalize_url(url))
    host = (parsed.host or "").lower()
    try:
        ipaddress.ip_address(host)
    except ValueError:
        host = ",".join(reversed(host.removeprefix("www.").split(".")))
    if parsed.port is not None and not parsed.is_default_port():
        host = f"{host}:{parsed.port}"
    query = "&".join(sorted(parsed.raw_query_string.split("&"))) if parsed.raw_query_string else ""
    return f"{host}){parsed.raw_path or '/'}{'?' + query if query else ''}".lower()


def body_lines(index: Path) -> list[str]:
    """An index file's lines after its header."""
    return [line for line in index.read_text("utf-8").splitlines() if not line.startswith("!")]


def test_closed_index_is_byte_sorted_with_header(tmp_path: Path) -> None:
    """A closed file's index starts with the version header and is sorted byte-wise (pywb's binary
    search), keyed as pywb keys: ``1,0,0,127:18080)``, punycode, ``www1.`` dropped, ``%2f`` decoded."""
    with EvidenceStore(tmp_path) as store:
        for i, url in enumerate(URLS):
            store.record(page(url, WHEN + timedelta(seconds=i), url.encode()))
    [index] = store.folder.glob("*.cdxj")
    lines = index.read_text("utf-8").splitlines()
    assert lines[0] == cdxj.HEADER
    assert lines == sorted(lines, key=lambda line: line.encode())
    keys = {line.split(" ")[0] for line in lines[1:]}
    assert keys == {
        "1,0,0,127:18080)/ipv4",
        "example,xn--bcher-kva)/buch",
        "com,example)/w1",
        "org,example)/a/b",
        "org,example)/",
    }
    assert not cdxj.tail_of(index).exists()


def test_open_file_keeps_only_a_short_unsorted_tail(tmp_path: Path) -> None:
    """While a WARC is open, all but the last few lines are already in the sorted index; every
    capture is found whichever side of a merge it sits on."""
    store = EvidenceStore(tmp_path)
    count = cdxj.TAIL_LINES + 5
    for i in range(count):
        store.record(page(f"https://t.test/{count - i}", WHEN + timedelta(seconds=i), b"%d" % i))
    [index] = store.folder.glob("*.cdxj")
    tail = cdxj.tail_of(index).read_text("utf-8").splitlines()
    sorted_part = body_lines(index)
    assert len(tail) == 5
    assert len(sorted_part) == cdxj.TAIL_LINES
    assert sorted_part == sorted(sorted_part)
    assert all(len(store.captures(f"https://t.test/{n}")) == 1 for n in range(1, count + 1))
    store.close()
    assert len(body_lines(index)) == count


def _make_legacy(root: Path, *, pid: int = 999_999_999) -> Path:
    """A store written the old way: unsorted-then-sorted lines with legacy keys, no header, under a
    file name whose writer process is gone."""
    with EvidenceStore(root) as store:
        for i, url in enumerate(URLS):
            store.record(page(url, WHEN + timedelta(seconds=i), url.encode()))
    [index] = store.folder.glob("*.cdxj")
    [warc] = store.folder.glob("*.warc.gz")
    stem = f"provenance-20240101000000-{pid}-00000"
    warc = warc.rename(warc.with_name(stem + ".warc.gz"))
    legacy = []
    for line in body_lines(index):
        _, stamp, fields = line.split(" ", 2)
        data = json.loads(fields)
        data["filename"] = warc.name
        legacy.append(f"{legacy_key(data['url'])} {stamp} {json.dumps(data)}")
    index.unlink()
    old = warc.with_name(stem + ".cdxj")
    old.write_text("".join(f"{line}\n" for line in sorted(legacy)), "utf-8")
    return old


def test_previous_version_index_is_read_by_rekeying(tmp_path: Path) -> None:
    """An index with the old keys and no header is read as if keyed by SURT (nothing rewritten)."""
    old = _make_legacy(tmp_path)
    before = old.read_text("utf-8")
    keys = {line.key for line in cdxj.read_index(old)}
    assert "1,0,0,127:18080)/ipv4" in keys
    assert "example,xn--bcher-kva)/buch" in keys
    assert old.read_text("utf-8") == before


def test_previous_version_store_is_upgraded_and_replays(tmp_path: Path) -> None:
    """Opening a store written by the previous version rewrites its finished indexes (header,
    SURT keys, sorted), and every capture reads back."""
    old = _make_legacy(tmp_path)
    store = EvidenceStore(tmp_path)
    for url in URLS:
        [capture] = store.captures(url)
        assert store.read(capture).body == url.encode()
    lines = old.read_text("utf-8").splitlines()
    assert lines[0] == cdxj.HEADER
    assert lines == sorted(lines)
    assert any(line.startswith("1,0,0,127:18080)/ipv4 ") for line in lines)


def test_index_of_a_live_writer_is_left_alone(tmp_path: Path) -> None:
    """A legacy index whose writer still runs on this host is read, never rewritten under it."""
    import os

    old = _make_legacy(tmp_path, pid=os.getppid())
    before = old.read_text("utf-8")
    store = EvidenceStore(tmp_path)
    assert store.upgrade_indexes() == []
    assert len(store.captures(URLS[0])) == 1
    assert old.read_text("utf-8") == before


def test_orphaned_tail_is_read_then_folded(tmp_path: Path) -> None:
    """A tail left by a crashed writer is read at once and folded into its index on upgrade."""
    store = EvidenceStore(tmp_path)
    store.record(page("https://crash.test/a", WHEN, b"a"))
    [index] = store.folder.glob("*.cdxj")
    tail = cdxj.tail_of(index)
    lines = tail.read_text("utf-8")
    store._current = None  # the process "dies": nothing is merged or closed
    orphan = index.with_name(index.name.replace(f"-{index.name.split('-')[2]}-", "-999999999-"))
    index.rename(orphan)
    cdxj.tail_of(orphan).write_text(lines, "utf-8")
    tail.unlink()
    later = EvidenceStore(tmp_path)
    assert [c.url for c in later.captures("https://crash.test/a")] == ["https://crash.test/a"]
    assert not cdxj.tail_of(orphan).exists()
    assert len(body_lines(orphan)) == 1
