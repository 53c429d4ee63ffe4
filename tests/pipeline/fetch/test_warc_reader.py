"""The one checked WARC reader (service/pipeline/fetch/warc_reader.py): indexing a file, reading a
capture with its digests checked and its body capped, revisits, WARC dates and WARC folders."""

from __future__ import annotations

import gzip
import tempfile
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from isal import isal_zlib

from service.pipeline.errors import ArchiveError, BodyTooLarge, FetchError
from service.pipeline.fetch import Capture, index_warc, read_capture, warc_files
from service.pipeline.fetch.warc_reader import _records, parse_warc_date
from service.pipeline.models import SourceReason
from tests.pipeline._warc_helpers import Cap, tamper, write_warc

URL_A = "http://example.com/a"
URL_B = "http://example.com/b"
DAY_1 = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
DAY_2 = datetime(2024, 1, 2, 12, 0, tzinfo=UTC)
BODY = b"<!doctype html><html><body><p>The minister resigned on Monday.</p></body></html>"
LIMIT = 10_000


def _only(path: Path) -> Capture:
    [capture] = index_warc(path)
    return capture


def _corrupt(capture: Capture, *, original: Capture | None = None) -> FetchError:
    """The error reading ``capture`` raised; fails the test unless it says corrupt_capture."""
    with pytest.raises(FetchError) as caught:
        read_capture(capture, limit=LIMIT, original=original)
    assert caught.value.reason is SourceReason.CORRUPT_CAPTURE
    assert not isinstance(caught.value, BodyTooLarge)
    return caught.value


# ---------------------------------------------------------------- index_warc


@pytest.mark.parametrize("compress", [True, False])
def test_index_lists_responses_and_revisits_in_file_order(tmp_path: Path, compress: bool) -> None:
    """Every response and revisit record, in file order, with URI, WARC-Date, offset and payload
    digest; request records (one before each response here) are not captures."""
    path = write_warc(tmp_path / "a.warc", [
        Cap(URL_B, DAY_2, BODY),
        Cap(URL_A, DAY_1, status="302 Found", headers=(("Location", URL_B),)),
        Cap(URL_B, DAY_2 + timedelta(days=1), b"sha1:ABC", kind="revisit"),
    ], compress=compress)  # fmt: skip
    captures = index_warc(path)
    assert [(c.url, c.captured_at, c.revisit) for c in captures] == [
        (URL_B, DAY_2, False), (URL_A, DAY_1, False), (URL_B, DAY_2 + timedelta(days=1), True)
    ]  # fmt: skip
    assert all(c.path == path for c in captures)
    offsets = [c.offset for c in captures]
    assert offsets == sorted(offsets)
    assert offsets[0] > 0  # the first capture's request record comes before it
    assert captures[0].digest is not None
    assert captures[0].digest.startswith("sha1:")
    assert captures[2].digest == "sha1:ABC"


def test_index_of_an_empty_file_is_empty(tmp_path: Path) -> None:
    """A WARC with no records has no captures."""
    empty = tmp_path / "empty.warc.gz"
    empty.write_bytes(b"")
    assert index_warc(empty) == []


@pytest.mark.parametrize(
    "content", [b"this is not a warc file\r\n\r\n", b"<html>a web page</html>\n", gzip.compress(b"hello\n")]
)
def test_index_of_a_file_that_is_not_a_warc_is_an_archive_error(tmp_path: Path, content: bytes) -> None:
    """Text, HTML or a gzipped non-WARC: ArchiveError, not a warcio error and not an empty index."""
    bad = tmp_path / "bad.warc.gz"
    bad.write_bytes(content)
    with pytest.raises(ArchiveError):
        index_warc(bad)


def test_index_of_a_file_cut_inside_a_records_headers_is_an_archive_error(tmp_path: Path) -> None:
    """A file cut inside a response record's WARC headers: ArchiveError, like any unreadable WARC."""
    path = write_warc(tmp_path / "a.warc", [Cap(URL_A, DAY_1, BODY)], compress=False)
    data = path.read_bytes()
    path.write_bytes(data[: data.index(b"WARC-Target-URI", _only(path).offset)])
    with pytest.raises(ArchiveError):
        index_warc(path)


# ---------------------------------------------------------------- read_capture


def test_read_gives_status_headers_body_and_peer(tmp_path: Path) -> None:
    """The capture's HTTP status, its headers as stored, its body and its WARC-IP-Address."""
    headers = (("Content-Type", "text/html"), ("X-Served-By", "cache-1"))
    path = write_warc(tmp_path / "a.warc.gz", [Cap(URL_A, DAY_1, BODY, status="404 Not Found",
                                                   headers=headers, ip="192.0.2.7")])  # fmt: skip
    answer = read_capture(_only(path), limit=LIMIT)
    assert (answer.status, answer.body, answer.ip) == (404, BODY, "192.0.2.7")
    assert answer.headers[:2] == headers
    without_ip = write_warc(tmp_path / "b.warc.gz", [Cap(URL_A, DAY_1, BODY)])
    assert read_capture(_only(without_ip), limit=LIMIT).ip is None


def test_read_decodes_gzip_and_chunking(tmp_path: Path) -> None:
    """Content-Encoding and chunked transfer are undone: the body is the page itself."""
    packed = gzip.compress(BODY)
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(packed), packed)
    headers = (("Content-Type", "text/html"), ("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked"))
    path = write_warc(tmp_path / "gz.warc.gz", [Cap(URL_A, DAY_1, chunked, headers=headers)])
    assert read_capture(_only(path), limit=LIMIT).body == BODY


@pytest.mark.parametrize("status", ["301 Moved Permanently", "302 Found", "307 Temporary Redirect"])
def test_a_redirect_capture_reads_without_its_body(tmp_path: Path, status: str) -> None:
    """A redirect's status and Location are read; its body is not (it is never a page)."""
    path = write_warc(tmp_path / "r.warc.gz", [
        Cap(URL_A, DAY_1, b"<a href=b>moved</a>", status=status, headers=(("Location", URL_B),))
    ])  # fmt: skip
    answer = read_capture(_only(path), limit=LIMIT)
    assert (answer.status, answer.body) == (int(status[:3]), b"")
    assert ("Location", URL_B) in answer.headers


def test_a_body_past_the_limit_is_too_large(tmp_path: Path) -> None:
    """One byte over the limit raises BodyTooLarge (reason body_too_large); exactly at it reads."""
    path = write_warc(tmp_path / "big.warc.gz", [Cap(URL_A, DAY_1, BODY)])
    capture = _only(path)
    assert read_capture(capture, limit=len(BODY)).body == BODY
    with pytest.raises(BodyTooLarge) as caught:
        read_capture(capture, limit=len(BODY) - 1)
    assert caught.value.reason is SourceReason.BODY_TOO_LARGE


@settings(max_examples=30, deadline=None)
@given(size=st.integers(min_value=0, max_value=3000), limit=st.integers(min_value=0, max_value=3000))
def test_the_limit_rule(size: int, limit: int) -> None:
    """For any body size and limit: the body is read whole when it fits, refused when it does not."""
    body = bytes(range(256)) * (size // 256) + bytes(size % 256)
    with tempfile.TemporaryDirectory() as folder:
        capture = _only(write_warc(Path(folder) / "p.warc.gz", [Cap(URL_A, DAY_1, body)]))
        if size <= limit:
            assert read_capture(capture, limit=limit).body == body
        else:
            with pytest.raises(BodyTooLarge):
                read_capture(capture, limit=limit)


@pytest.mark.parametrize("compress", [True, False])
def test_a_record_cut_inside_its_payload_is_corrupt(tmp_path: Path, compress: bool) -> None:
    """A file cut short inside the response's payload is never read as a shorter page."""
    path = write_warc(tmp_path / "cut.warc", [Cap(URL_A, DAY_1, BODY)], compress=compress)
    capture = _only(path)
    data = path.read_bytes()
    cut = len(data) - 20 if compress else data.index(b"resigned")
    path.write_bytes(data[:cut])
    _corrupt(capture)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_any_cut_inside_the_record_block_is_corrupt(data: st.DataObject) -> None:
    """Wherever an uncompressed file is cut between the response's HTTP status line and the end of
    its payload, reading the capture raises corrupt_capture."""
    with tempfile.TemporaryDirectory() as folder:
        path = write_warc(Path(folder) / "p.warc", [Cap(URL_A, DAY_1, BODY)], compress=False)
        capture = _only(path)
        whole = path.read_bytes()
        start = whole.index(b"HTTP/1.1 200", capture.offset)
        cut = data.draw(st.integers(min_value=start, max_value=whole.index(BODY) + len(BODY) - 1))
        path.write_bytes(whole[:cut])
        _corrupt(capture)


def test_a_record_cut_inside_its_warc_headers_is_corrupt(tmp_path: Path) -> None:
    """A file cut inside the response's WARC headers (index made before the damage): corrupt_capture."""
    path = write_warc(tmp_path / "cut.warc", [Cap(URL_A, DAY_1, BODY)], compress=False)
    capture = _only(path)
    data = path.read_bytes()
    path.write_bytes(data[: data.index(b"WARC-Target-URI", capture.offset)])
    _corrupt(capture)


def test_an_edited_payload_is_corrupt(tmp_path: Path) -> None:
    """One word changed in an uncompressed record: the digests do not match, so it is no evidence."""
    path = write_warc(tmp_path / "e.warc", [Cap(URL_A, DAY_1, BODY)], compress=False)
    capture = _only(path)
    path.write_bytes(path.read_bytes().replace(b"resigned", b"stayed!!"))
    error = _corrupt(capture)
    assert capture.path.name in str(error)


def test_an_edited_gzip_member_is_corrupt(tmp_path: Path) -> None:
    """A gzip member rewritten to say something else still decompresses, but is no evidence."""
    path = write_warc(tmp_path / "e.warc.gz", [Cap(URL_A, DAY_1, BODY)])
    capture = _only(path)
    tamper(path, capture.offset, path.stat().st_size - capture.offset, b"resigned", b"stayed!!")
    _corrupt(capture)


def test_a_capture_pointing_at_nothing_is_corrupt(tmp_path: Path) -> None:
    """A missing file, an offset past the end, an offset inside a record, or at a request record:
    each is corrupt_capture, never an OS or warcio error."""
    path = write_warc(tmp_path / "a.warc.gz", [Cap(URL_A, DAY_1, BODY)])
    capture = _only(path)
    _corrupt(replace(capture, path=tmp_path / "missing.warc.gz"))
    _corrupt(replace(capture, offset=path.stat().st_size + 100))
    _corrupt(replace(capture, offset=capture.offset + 1))
    _corrupt(replace(capture, offset=0))  # the request record before the response


# ---------------------------------------------------------------- revisits


def _with_revisit(folder: Path) -> tuple[Capture, Capture]:
    """An original response (day 1) and, in another file, a revisit of it (day 2)."""
    original = _only(write_warc(folder / "first.warc.gz", [Cap(URL_A, DAY_1, BODY)]))
    assert original.digest is not None
    headers = (("Content-Type", "text/html"), ("X-Revisit", "yes"))
    revisit = _only(write_warc(folder / "second.warc.gz", [
        Cap(URL_A, DAY_2, original.digest.encode(), kind="revisit", headers=headers)
    ]))  # fmt: skip
    return original, revisit


def test_a_revisit_reads_its_originals_body(tmp_path: Path) -> None:
    """A revisit answers with its own status and headers and the original response's body."""
    original, revisit = _with_revisit(tmp_path)
    assert (revisit.revisit, revisit.digest, revisit.captured_at) == (True, original.digest, DAY_2)
    answer = read_capture(revisit, limit=LIMIT, original=original)
    assert (answer.status, answer.body) == (200, BODY)
    assert ("X-Revisit", "yes") in answer.headers


def test_a_revisit_without_its_original_is_missing_not_corrupt(tmp_path: Path) -> None:
    """No original given: FetchError with reason revisit_original_missing."""
    _, revisit = _with_revisit(tmp_path)
    with pytest.raises(FetchError) as caught:
        read_capture(revisit, limit=LIMIT)
    assert caught.value.reason is SourceReason.REVISIT_ORIGINAL_MISSING


def test_a_revisits_original_body_is_capped_too(tmp_path: Path) -> None:
    """The original's body counts against the limit like any body."""
    original, revisit = _with_revisit(tmp_path)
    with pytest.raises(BodyTooLarge):
        read_capture(revisit, limit=len(BODY) - 1, original=original)


def test_a_revisit_of_a_redirect_needs_no_original(tmp_path: Path) -> None:
    """A redirect revisit is read from its own headers: no body is needed, so none is missing."""
    path = write_warc(tmp_path / "r.warc.gz", [
        Cap(URL_A, DAY_1, b"sha1:ABC", kind="revisit", status="301 Moved", headers=(("Location", URL_B),))
    ])  # fmt: skip
    answer = read_capture(_only(path), limit=LIMIT)
    assert (answer.status, answer.body) == (301, b"")
    assert ("Location", URL_B) in answer.headers


# ---------------------------------------------------------------- parse_warc_date


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
     ("2024-01-02T03:04:05.123456Z", datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
     ("  2024-01-02T03:04:05Z\r\n", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
     ("2024-01-02T05:04:05+02:00", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
     ("2024-01-02T03:04:05", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
     ("2024-01-02", datetime(2024, 1, 2, tzinfo=UTC))],
)  # fmt: skip
def test_parse_warc_date(value: str, expected: datetime) -> None:
    """ISO 8601 with Z, fractions or an offset; naive means UTC; surrounding blanks ignored."""
    parsed = parse_warc_date(value)
    assert parsed == expected
    assert parsed is not None
    assert parsed.tzinfo is not None


def test_parse_warc_date_keeps_the_offset() -> None:
    """An offset is kept as given (the same instant as its UTC spelling)."""
    parsed = parse_warc_date("2024-01-02T05:04:05+02:00")
    assert parsed is not None
    assert parsed.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize("value", [None, "", "   ", "yesterday", "2024-13-01T00:00:00Z", "20240102030405"])
def test_unreadable_warc_dates_are_none(value: str | None) -> None:
    """Missing or unreadable dates are None, not an error."""
    assert parse_warc_date(value) is None


@given(st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5, minutes=-30))])))
def test_parse_warc_date_reads_back_any_moment(moment: datetime) -> None:
    """Any aware moment written in ISO 8601 reads back as the same moment."""
    assert parse_warc_date(moment.isoformat()) == moment
    assert parse_warc_date(moment.astimezone(UTC).isoformat().replace("+00:00", "Z")) == moment


@given(st.text(max_size=40))
def test_parse_warc_date_never_raises(value: str) -> None:
    """Whatever a WARC-Date header holds: a timezone-aware moment, or None."""
    parsed = parse_warc_date(value)
    assert parsed is None or parsed.tzinfo is not None


# ---------------------------------------------------------------- warc_files


def test_warc_files_finds_warcs_below_a_folder(tmp_path: Path) -> None:
    """A folder gives every .warc and .warc.gz below it, sorted; other files are left out."""
    for name in ("b/two.warc", "a/deep/one.warc.gz", "three.warc.gz", "notes.txt", "x.warc.cdxj", "y.gz"):
        (tmp_path / "store" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "store" / name).write_bytes(b"")
    found = warc_files([tmp_path / "store"])
    assert [p.relative_to(tmp_path / "store").as_posix() for p in found] == [
        "a/deep/one.warc.gz", "b/two.warc", "three.warc.gz"
    ]  # fmt: skip


def test_warc_files_takes_files_as_given_and_keeps_the_order(tmp_path: Path) -> None:
    """A file is taken as given (whatever its name), folders expand in place, in argument order."""
    named = tmp_path / "capture.bin"
    named.write_bytes(b"")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "one.warc").write_bytes(b"")
    assert warc_files([named, tmp_path / "dir"]) == [named, tmp_path / "dir" / "one.warc"]
    assert warc_files([tmp_path / "dir", named]) == [tmp_path / "dir" / "one.warc", named]
    assert warc_files([]) == []


def test_warc_files_refuses_a_missing_path(tmp_path: Path) -> None:
    """A path that does not exist is an error, not an empty archive."""
    with pytest.raises(FileNotFoundError, match="nope"):
        warc_files([tmp_path / "nope.warc.gz"])


def _edit(path: Path, old: bytes, new: bytes) -> None:
    """Replace bytes of an uncompressed WARC in place (same length: every offset stays valid)."""
    assert len(old) == len(new)
    data = path.read_bytes()
    assert data.count(old) == 1
    path.write_bytes(data.replace(old, new))


def test_a_revisits_edited_original_is_corrupt(tmp_path: Path) -> None:
    """A revisit takes its body from its original, read under the same digest check: an edited
    original is no evidence, through the revisit either."""
    original_path = write_warc(tmp_path / "a.warc", [Cap(URL_A, DAY_1, BODY)], compress=False)
    original = _only(original_path)
    assert original.digest is not None
    again = Cap(URL_A, DAY_2, original.digest.encode(), kind="revisit")
    revisit = _only(write_warc(tmp_path / "b.warc", [again], compress=False))
    assert read_capture(revisit, limit=LIMIT, original=original).body == BODY
    _edit(original_path, b"resigned", b"resumed!")
    _corrupt(revisit, original=original)


def test_a_redirects_edited_location_is_corrupt(tmp_path: Path) -> None:
    """A redirect record with a body is digest-checked too: an edited Location is not followed."""
    hop = Cap(URL_A, DAY_1, b"<a href=/good>moved</a>", status="302 Found",
              headers=(("Location", "/good-page"), ("Content-Type", "text/html")))  # fmt: skip
    path = write_warc(tmp_path / "r.warc", [hop], compress=False)
    capture = _only(path)
    assert read_capture(capture, limit=LIMIT).status == 302
    _edit(path, b"Location: /good-page", b"Location: /evil-page")
    _corrupt(capture)


def test_a_record_that_is_not_the_indexed_capture_is_corrupt(tmp_path: Path) -> None:
    """An index entry pointing at another URL's record is refused, not read as this URL's page."""
    path = write_warc(tmp_path / "two.warc.gz", [Cap(URL_A, DAY_1, BODY), Cap(URL_B, DAY_1, b"<p>other</p>")])
    first, second = index_warc(path)
    assert read_capture(second, limit=LIMIT).body == b"<p>other</p>"
    _corrupt(replace(first, offset=second.offset))


def test_an_odd_status_reads_back() -> None:
    """A record whose status is outside 100..599 (a server's 999) reads back with that status."""
    with tempfile.TemporaryDirectory() as folder:
        path = write_warc(
            Path(folder) / "odd.warc.gz", [Cap(URL_A, DAY_1, BODY, status="999 Request denied")]
        )
        assert read_capture(_only(path), limit=LIMIT).status == 999


# ---------------------------------------------------------------- the inflater


def test_records_are_inflated_by_isal_and_read_as_zlib_reads_them(tmp_path: Path) -> None:
    """Our reader is the one warcio uses (a warcio that built its own would fall back to zlib
    unseen), and it reads every record as warcio's own zlib reader does."""
    path = write_warc(tmp_path / "two.warc.gz", [Cap(URL_A, DAY_1, BODY), Cap(URL_B, DAY_2, BODY * 50)])
    zlib_type: type = type(zlib.decompressobj(16 + zlib.MAX_WBITS))
    isal_type: type = type(isal_zlib.decompressobj(16 + isal_zlib.MAX_WBITS))
    assert zlib_type is not isal_type
    with path.open("rb") as fh:
        records = _records(fh)
        ours = []
        for rec in records:
            assert type(records.reader.decompressor) is isal_type
            ours.append((rec.rec_type, rec.content_stream().read()))
    from warcio.archiveiterator import ArchiveIterator

    with path.open("rb") as fh:
        theirs = [(rec.rec_type, rec.content_stream().read()) for rec in ArchiveIterator(fh)]
    assert ours == theirs
    assert [body for kind, body in ours if kind == "response"] == [BODY, BODY * 50]


@settings(max_examples=60, deadline=None)
@given(place=st.integers(0, 2**20), flip=st.integers(1, 255))
def test_any_damaged_byte_of_a_gzip_member_is_corrupt_or_harmless(place: int, flip: int) -> None:
    """One byte of the record's gzip member changed anywhere: the read is refused as
    corrupt_capture (an inflate error of isal never escapes as another error) or, where the byte
    was one gzip ignores (its header's time, say), the body read is the page as written."""
    with tempfile.TemporaryDirectory() as folder:
        path = write_warc(Path(folder) / "d.warc.gz", [Cap(URL_A, DAY_1, BODY * 20)])
        capture = _only(path)
        whole = bytearray(path.read_bytes())
        assert capture.length is not None
        whole[capture.offset + place % capture.length] ^= flip  # record ids differ run to run
        path.write_bytes(bytes(whole))
        try:
            body = read_capture(capture, limit=LIMIT * 10).body
        except FetchError as error:
            body = error.reason  # type: ignore[assignment]
        assert body in (BODY * 20, SourceReason.CORRUPT_CAPTURE)
