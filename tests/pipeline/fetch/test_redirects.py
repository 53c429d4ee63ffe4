"""The one redirect follower (service/pipeline/fetch/redirects.py) used by every fetcher."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.pipeline.fetch.redirects import Hop, follow_redirects, join_location
from service.pipeline.models import Redirect


async def test_hops_are_recorded_in_order_and_locations_resolved() -> None:
    """Each hop is recorded with the URL that sent it; a relative Location is resolved against it."""
    chain = {"https://a.test/1": Hop(301, "/2"), "https://a.test/2": Hop(302, "https://b.test/x?y=1")}
    seen: list[tuple[str, tuple[Redirect, ...]]] = []

    async def step(url: str, redirects: tuple[Redirect, ...]) -> str | Hop:
        seen.append((url, redirects))
        return chain.get(url, f"final:{url}")

    followed = await follow_redirects("https://a.test/1", step, max_redirects=10)
    assert followed.answer == "final:https://b.test/x?y=1"
    assert followed.url == "https://b.test/x?y=1"
    assert followed.redirects == (Redirect("https://a.test/1", 301), Redirect("https://a.test/2", 302))
    assert [url for url, _ in seen] == ["https://a.test/1", "https://a.test/2", "https://b.test/x?y=1"]
    assert seen[2][1] == followed.redirects


@given(st.integers(min_value=0, max_value=12), st.integers(min_value=0, max_value=12))
async def test_never_more_than_the_limit(chain_length: int, limit: int) -> None:
    """A chain within the limit ends in its answer; a longer one ends with no answer, the hop that
    passed the limit recorded, and the follower never asks more than ``limit + 1`` URLs."""
    asked: list[str] = []

    async def step(url: str, redirects: tuple[Redirect, ...]) -> str | Hop:
        asked.append(url)
        n = int(url.rsplit("/", 1)[1])
        return Hop(307, f"/{n + 1}") if n < chain_length else "done"

    followed = await follow_redirects("https://a.test/0", step, max_redirects=limit)
    assert len(asked) <= limit + 1
    if chain_length <= limit:
        assert followed.answer == "done"
        assert len(followed.redirects) == chain_length
    else:
        assert followed.answer is None
        assert len(followed.redirects) == limit + 1
        assert followed.url == f"https://a.test/{limit + 1}"


@pytest.mark.parametrize(
    ("base", "location", "joined"),
    [
        ("https://a.test/x/y", "z", "https://a.test/x/z"),
        ("https://a.test/x/y", "  /top ", "https://a.test/top"),
        ("https://a.test/x", "//b.test/p", "https://b.test/p"),
        ("https://a.test/x", "http://[bad", "http://[bad"),
    ],
)
def test_join_location(base: str, location: str, joined: str) -> None:
    """Location is resolved like a browser would; one that does not parse is kept as sent."""
    assert join_location(base, location) == joined
