"""Which URLs each passage of a post cites: its own, the post's only one, or its URL line's.

Private helper of ``posts``, pure. A passage may cite several URLs at once (a line of several
URLs, a reference list); the first of a group is the one it stands under.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

Urls = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UrlLine:
    """A line that cites: where it stands, its URLs, and which way it points."""

    pos: int
    urls: Urls
    introduces: bool  # "From <url>:", "The [BBC](url) wrote this today:": heads what follows
    closes: bool  # "— <url>": signs what precedes


@dataclass(frozen=True, slots=True)
class Placed:
    """Where a passage stands (its start, its block's span) and the URLs its block gives it."""

    start: int
    block_start: int
    block_end: int
    own: Urls


def _with(urls: Urls, extra: Urls) -> Urls:
    return tuple(dict.fromkeys((*urls, *extra)))


def attach(
    drafts: Sequence[Placed], url_lines: Sequence[UrlLine], cited: Urls, *, everywhere: Urls = ()
) -> tuple[list[Urls], list[Urls]]:
    """Each passage's URLs: the post's only one (``cited``: every URL it cites), its own, or its
    URL line's by the post's convention.

    URLs stand below their passages (the seed's way) when more passages precede the first URL
    line than follow the last one (a lead or tail comment is outvoted); on a tie, when the first
    passage comes before the first URL line; always above when every URL line heads what follows.
    The second list is the attachment under the other convention, for the verifier to weigh.
    ``everywhere`` (a reference list's URLs) is cited by every passage that has no URL of its own.
    """
    if not cited or not drafts:
        return [() for _ in drafts], [() for _ in drafts]
    if len(cited) == 1:
        return [cited for _ in drafts], [cited for _ in drafts]
    if not url_lines:
        own = [d.own or everywhere for d in drafts]
        return own, own
    if all(u.introduces for u in url_lines):
        below = False
    else:
        leading = sum(d.start < url_lines[0].pos for d in drafts)
        trailing = sum(d.block_start > url_lines[-1].pos for d in drafts)
        below = leading > trailing if leading != trailing else drafts[0].start < url_lines[0].pos
    positions = [u.pos for u in url_lines]
    return (
        [d.own or _with(_between(d, url_lines, positions, below=below), everywhere) for d in drafts],
        [d.own or _with(_between(d, url_lines, positions, below=not below), everywhere) for d in drafts],
    )


def _between(d: Placed, url_lines: Sequence[UrlLine], positions: Sequence[int], *, below: bool) -> Urls:
    """The URL line a passage belongs to among the two around it (``positions``: theirs, sorted).

    "From <url>:" heads what follows and "— <url>" signs what precedes, whatever the post's
    convention; otherwise the convention decides.
    """
    before_end = bisect_left(positions, d.block_start)  # url_lines[:before_end] stand before
    after_start = bisect_left(positions, d.block_end)  # url_lines[after_start:] stand after
    if before_end == 0 or after_start == len(url_lines):
        return url_lines[before_end - 1 if before_end else min(after_start, len(url_lines) - 1)].urls
    before, after = url_lines[before_end - 1], url_lines[after_start]
    if before.introduces and not after.closes:
        return before.urls
    if after.closes and not before.introduces:
        return after.urls
    return after.urls if below else before.urls
