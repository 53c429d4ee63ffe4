"""Following redirects: the one loop every fetcher uses (live web, WARC replay, the evidence
store's past versions, the Wayback Machine's raw replay).

Modelled on httpx's ``_send_handling_redirects``: a fetcher's step sends one request and answers
either a final result or a ``Hop``; only this module loops, resolves ``Location`` against the URL
that sent it, records each hop and stops at the limit. Written here rather than taken from
aiohttp, whose built-in following cannot check each hop against the address guard or read hops
out of an archive.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from yarl import URL

from service.pipeline.fetch.answers import REDIRECT_STATUSES
from service.pipeline.models import Redirect
from service.pipeline.urls import URL_PARSE_ERRORS

__all__ = ["REDIRECT_STATUSES", "Followed", "Hop", "follow_redirects", "join_location"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Hop:
    """A redirecting answer: its status and its ``Location`` as sent (resolved by the follower)."""

    status: int
    location: str


@dataclass(frozen=True, slots=True)
class Followed(Generic[T]):
    """Where following ended: the final answer (None once more than the limit of redirects were
    met), the hops on the way, and the last URL requested."""

    answer: T | None
    redirects: tuple[Redirect, ...]
    url: str


Step = Callable[[str, tuple[Redirect, ...]], Awaitable["T | Hop"]]
"""One request: given the URL to ask and the hops so far, a final answer or the next hop."""


def join_location(base: str, location: str) -> str:
    """``Location`` resolved against the URL that sent it; left as sent if either does not parse."""
    try:
        return str(URL(base).join(URL(location.strip())))
    except URL_PARSE_ERRORS:
        return location.strip()


async def follow_redirects(url: str, step: Step[T], *, max_redirects: int) -> Followed[T]:
    """Ask ``url``, then each ``Location`` in turn, up to ``max_redirects`` hops."""
    redirects: list[Redirect] = []
    current = url
    for _ in range(max_redirects + 1):
        answer = await step(current, tuple(redirects))
        if not isinstance(answer, Hop):
            return Followed(answer, tuple(redirects), current)
        redirects.append(Redirect(url=current, status=answer.status))
        current = join_location(current, answer.location)
    return Followed(None, tuple(redirects), current)
