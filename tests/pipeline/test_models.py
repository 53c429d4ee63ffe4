"""The pipeline's typed values (service/pipeline/models.py): the closed set of source reasons, the
report's field names, header lookup."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.pipeline.models import (
    AtPostCapture,
    FailureCode,
    FetchResult,
    InputFormat,
    Passage,
    Post,
    Redirect,
    SourceReason,
    SourceReport,
    SourceStatus,
    WarcEntry,
    WaybackEntry,
    WaybackStatus,
    header_value,
)

# The contract's field names, as tests/test_cli.py checks them on a real report (README "Each source").
SOURCE_KEYS = {"url", "final_url", "redirects", "status", "reason", "http_status", "title", "author",
               "published", "canonical_url", "sha256", "fetched_at", "archive", "at_post"}  # fmt: skip
ARCHIVE_KEYS = {"warc", "wayback"}
AT_POST_KEYS = {"captured_at", "sha256", "archive_url"}
WARC_KEYS = {"file", "offset", "length", "digest", "captured_at"}
WAYBACK_KEYS = {"status", "url", "timestamp", "job_id", "message"}

WARC = WarcEntry("warc/provenance-1.warc.gz", 120, 800, "sha1:ABC", "2024-05-14T09:30:00+00:00")
WAYBACK = WaybackEntry(WaybackStatus.PENDING, job_id="spn2-abc", message="queued")


# ---------------------------------------------------------------- SourceReason


@pytest.mark.parametrize("code", [100, 204, 301, 404, 451, 500, 599])
def test_http_reasons_are_one_member_per_status(code: int) -> None:
    """for_http_status(code), SourceReason("http_<code>") and a second call are the same member,
    whose value is http_<code> and whose http_status is the code."""
    reason = SourceReason.for_http_status(code)
    assert reason is SourceReason(f"http_{code}")
    assert reason is SourceReason.for_http_status(code)
    assert reason == f"http_{code}"
    assert (reason.value, reason.name, reason.http_status) == (f"http_{code}", f"HTTP_{code}", code)
    assert isinstance(reason, SourceReason)


@given(st.integers(min_value=100, max_value=599))
def test_every_http_status_has_its_reason(code: int) -> None:
    """For every status from 100 to 599 the reason reads back as that status."""
    reason = SourceReason.for_http_status(code)
    assert reason.http_status == code
    assert SourceReason(reason.value) is reason


@pytest.mark.parametrize(
    "value", ["http_abc", "http_099", "http_00", "http_1000", "http_", "HTTP_404",
              "http_40x", "http_-40", " http_404", "fetch", ""]
)  # fmt: skip
def test_values_outside_the_closed_set_are_refused(value: str) -> None:
    """Anything but a named member or http_<0..999 written canonically> is a ValueError."""
    with pytest.raises(ValueError, match="is not a valid SourceReason"):
        SourceReason(value)


@pytest.mark.parametrize("code", [1000, -404])
def test_for_http_status_refuses_impossible_statuses(code: int) -> None:
    """A status no HTTP status line can carry (three digits at most) has no reason."""
    with pytest.raises(ValueError, match=f"'http_{code}' is not a valid SourceReason"):
        SourceReason.for_http_status(code)


@pytest.mark.parametrize("code", [0, 99, 600, 999])
def test_odd_statuses_servers_send_have_a_reason(code: int) -> None:
    """Statuses outside 100..599 that broken or playful servers send still read back as themselves
    (a replayed 999 must be ``error http_999``, not a crash)."""
    assert SourceReason.for_http_status(code).http_status == code


def test_only_ascii_digits_make_an_http_reason() -> None:
    """http_ followed by digits of another script is no HTTP status reason."""
    with pytest.raises(ValueError, match="is not a valid SourceReason"):
        SourceReason("http_٤٠٤")


def test_named_reasons_have_no_http_status() -> None:
    """Every named member stands for no HTTP status."""
    named = [r for r in SourceReason if not r.value.startswith("http_")]
    assert named  # the iteration lists the named members
    assert all(r.http_status is None for r in named)


# ---------------------------------------------------------------- report entries


def test_source_report_has_the_contracts_fields() -> None:
    """A source's dict has exactly the contract's keys, with archive and at_post shaped as documented."""
    full = SourceReport(
        url="http://a.test/", final_url="https://a.test/", status=SourceStatus.DEAD,
        reason=SourceReason.for_http_status(404), redirects=(Redirect("http://a.test/", 301),),
        http_status=404, archive_warc=WARC, archive_wayback=WAYBACK,
        at_post=AtPostCapture("2024-01-01T00:00:00+00:00", None, None),
    )  # fmt: skip
    data = full.to_dict()
    assert set(data) == SOURCE_KEYS
    assert set(data["archive"]) == ARCHIVE_KEYS
    assert set(data["archive"]["warc"]) == WARC_KEYS
    assert set(data["archive"]["wayback"]) == WAYBACK_KEYS
    assert set(data["at_post"]) == AT_POST_KEYS
    assert (data["status"], data["reason"], data["http_status"]) == ("dead", "http_404", 404)
    assert data["redirects"] == [{"url": "http://a.test/", "status": 301}]
    assert json.loads(json.dumps(data)) == data


def test_a_bare_source_report_keeps_every_key() -> None:
    """Absent parts are null, never missing: the key set is the same for the least a source can say."""
    data = SourceReport(url="u", final_url="u", status=SourceStatus.OK).to_dict()
    assert set(data) == SOURCE_KEYS
    assert data["archive"] == {"warc": None, "wayback": None}
    assert (data["at_post"], data["reason"], data["redirects"]) == (None, None, [])


def test_warc_entry_fields() -> None:
    """archive.warc: file, offset, length, digest and captured_at, as given."""
    assert WARC.to_dict() == {"file": "warc/provenance-1.warc.gz", "offset": 120, "length": 800,
                              "digest": "sha1:ABC", "captured_at": "2024-05-14T09:30:00+00:00"}  # fmt: skip


@pytest.mark.parametrize("status", list(WaybackStatus))
def test_wayback_entry_fields(status: WaybackStatus) -> None:
    """archive.wayback: the status's name and the snapshot's url, timestamp, job id and message."""
    data = WaybackEntry(status, url="https://web.archive.org/web/1/x", timestamp="1").to_dict()
    assert set(data) == WAYBACK_KEYS
    assert data["status"] == status.value
    assert (data["url"], data["timestamp"], data["job_id"], data["message"]) == (
        "https://web.archive.org/web/1/x", "1", None, None
    )  # fmt: skip


# ---------------------------------------------------------------- headers and fetch results


@pytest.mark.parametrize("name", ["content-type", "Content-Type", "CONTENT-TYPE", "cOnTeNt-TyPe"])
def test_header_value_ignores_case(name: str) -> None:
    """A header is found whatever the case of the name asked or stored; the first one wins."""
    headers = [("X-A", "1"), ("CONTENT-type", "text/html"), ("content-type", "text/plain")]
    assert header_value(headers, name) == "text/html"
    assert header_value(headers, "x-b") is None
    assert header_value([], name) is None


_NAMES = st.text(alphabet="abcXYZ-", min_size=1, max_size=4)


@given(st.lists(st.tuples(_NAMES, st.text(max_size=5)), max_size=6), _NAMES)
def test_header_value_is_the_first_match_in_any_case(headers: list[tuple[str, str]], name: str) -> None:
    """For any header list: the first value whose name equals the asked one, case aside, or None;
    the same for the name in upper or lower case, and through FetchResult.header."""
    expected = next((v for k, v in headers if k.lower() == name.lower()), None)
    assert header_value(headers, name) == expected
    assert header_value(headers, name.upper()) == header_value(headers, name.swapcase()) == expected
    result = FetchResult(url="u", final_url="u", status=SourceStatus.OK, headers=tuple(headers))
    assert result.header(name) == expected


@given(st.binary(max_size=64))
def test_fetch_result_hashes_its_body(body: bytes) -> None:
    """sha256 is the body's hex digest, and None for an empty body."""
    result = FetchResult(url="u", final_url="u", status=SourceStatus.OK, body=body)
    assert result.sha256 == (hashlib.sha256(body).hexdigest() if body else None)


def test_post_leaves_put_parts_in_place_of_their_paragraph() -> None:
    """A paragraph with parts is replaced by its parts; a passage without parts stands as itself."""
    quote = Passage("quoted words", (5, 17), True, "u")
    comment = Passage("my words", (19, 27), False, "u")
    paragraph = Passage("“...”", (0, 27), False, "u", parts=(quote, comment))
    alone = Passage("alone", (30, 35), True, None)
    post = Post("text", InputFormat.TEXT, (paragraph, alone), ())
    assert post.leaves == (quote, comment, alone)


# ---------------------------------------------------------------- README's table of them


def test_readme_lists_every_status_reason_and_post_error() -> None:
    """README's "Source statuses and reasons" names every member of SourceStatus, SourceReason
    and FailureCode (the contract lists only some): a new reason without a line there fails."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    section = readme.split("### Source statuses and reasons", 1)[1].split("**Misleading elision.**", 1)[0]
    named = set(re.findall(r"`([a-z_0-9]+)`", section))
    expected = {m.value for m in (*SourceStatus, *SourceReason, *FailureCode)}
    assert expected - named == set()


def test_a_body_digest_given_is_kept_and_a_changed_body_is_hashed_afresh() -> None:
    """``body_sha256`` spares hashing a body its maker hashed already; ``replace`` does not carry
    it, so a result with another body never keeps the old digest; without it the body is hashed."""
    from dataclasses import replace

    from service.pipeline.models import FetchResult, SourceStatus

    digest = hashlib.sha256(b"page").hexdigest()
    kept = FetchResult(url="u", final_url="u", status=SourceStatus.OK, body=b"page", body_sha256=digest)
    assert kept.sha256 == digest
    assert replace(kept, body=b"other").sha256 == hashlib.sha256(b"other").hexdigest()
    assert replace(kept, url="v").sha256 == digest
    assert FetchResult(url="u", final_url="u", status=SourceStatus.OK, body=b"page").sha256 == digest
    assert FetchResult(url="u", final_url="u", status=SourceStatus.OK, body_sha256=digest).sha256 is None
