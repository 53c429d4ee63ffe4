"""Redis names and queue messages: every name under the prefix, messages that round-trip through
Redis's byte strings, and a version this code does not know refused rather than guessed at."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.pipeline.streams import GROUP, JobMessage, MessageError, RedisNames, ResultMessage

json_scalars = st.none() | st.booleans() | st.integers() | st.text()
posts = st.dictionaries(st.text(max_size=10), json_scalars, max_size=5).map(lambda d: {**d, "text": "x"})


def as_redis(fields: dict[str, str]) -> dict[bytes, bytes]:
    """What redis-py hands back for a stream entry: bytes keys and values."""
    return {key.encode(): value.encode() for key, value in fields.items()}


@given(batch=st.text(min_size=1, max_size=30), seq=st.integers(0, 10**9), post=posts,
       line=st.integers(0, 10**9))  # fmt: skip
def test_job_message_round_trips_through_redis_bytes(
    batch: str, seq: int, post: dict[str, Any], line: int
) -> None:
    """Any job survives its trip as stream fields, keys and values as bytes."""
    message = JobMessage(batch, seq, post, "markdown", line=line)
    back = JobMessage.from_fields(as_redis(message.to_fields()))
    assert back == message
    assert back.job_id == f"{batch}:{seq}"


@given(seq=st.integers(0, 10**9), report=st.text(), flagged=st.booleans(),
       error=st.none() | st.sampled_from(["bad_json", "timeout", "dead_lettered"]),
       sources=st.integers(0, 500))  # fmt: skip
def test_result_message_round_trips(
    seq: int, report: str, flagged: bool, error: str | None, sources: int
) -> None:
    """A result keeps the report line and what a progress bar needs, exactly."""
    result = ResultMessage(seq, report, "flagged" if flagged else "verified", flagged, error, sources, "w1")
    assert ResultMessage.from_fields(result.to_fields()) == result


def test_a_lone_surrogate_travels_escaped() -> None:
    """A post holding a lone surrogate (a ``\\ud800`` escape in its line) can still be sent."""
    message = JobMessage("b", 1, {"text": "broken \ud800 quote"})
    fields = message.to_fields()
    assert "\\ud800" in fields["post"]
    assert JobMessage.from_fields(as_redis(fields)) == message


def test_a_message_of_another_version_is_refused() -> None:
    """A newer producer's message is not half-read by an older worker."""
    fields = JobMessage("b", 1, {"text": "x"}).to_fields()
    fields["v"] = "2"
    with pytest.raises(MessageError, match="version"):
        JobMessage.from_fields(fields)
    with pytest.raises(MessageError, match="without 'post'"):
        JobMessage.from_fields({"v": "1", "batch": "b", "seq": "1", "format": "auto", "line": "1"})
    with pytest.raises(MessageError, match="not an object"):
        JobMessage.from_fields({**JobMessage("b", 1, {}).to_fields(), "post": "[1]"})


@given(prefix=st.text(alphabet="abcdefghij-:", min_size=1, max_size=12), url=st.text(max_size=3000))
def test_every_name_starts_with_the_prefix_and_stays_short(prefix: str, url: str) -> None:
    """Two deployments on one Redis never share a key, and a long URL never makes a long key."""
    names = RedisNames(prefix)
    keys = [
        names.jobs, names.dead, names.queued("b"), names.done("b"), names.results("b"), names.worker("w"),
        names.source("live", url), names.source_lease("live", url), names.wayback_claim(url, "2026120215"),
        names.wayback_limiter, names.ratelimit,
        names.host_slots("example.org"), names.host_next("example.org"),
    ]  # fmt: skip
    assert all(key.startswith(prefix + ":") for key in keys)
    assert len(names.source("live", url)) == len(prefix) + len(":source:") + 32
    assert names.source("live", url) != names.source("at:2020", url)
    assert GROUP == "workers"
