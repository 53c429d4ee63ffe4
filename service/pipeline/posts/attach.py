"""Which URLs each passage of a post cites: its own, the post's only one, or its URL line's.

Private helper of ``posts``, pure. A passage may cite several URLs at once (a line of several
URLs, a reference list); the first of a group is the one it stands under.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from service.pipeline.posts.blocks import BlockKind, Line
from service.pipeline.posts.citing import ref_number

Urls = tuple[str, ...]
MAX_CITED_TOGETHER = 10  # a longer list of URLs is a link dump, not the sources of one passage


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


def citing_lines(lines: Sequence[Line]) -> list[UrlLine]:
    """The post's citing lines; a list of them (adjacent lines of one paragraph: ``Sources:`` then
    ``- <a>`` ``- <b>``) is one line citing every URL in it, up to ``MAX_CITED_TOGETHER``."""
    found: list[tuple[Line, list[str]]] = []
    previous: Line | None = None
    for ln in lines:
        if ln.kind is BlockKind.URL:
            adjacent = previous is not None and previous.kind is BlockKind.URL and previous.para == ln.para
            if adjacent and len(found[-1][1]) < MAX_CITED_TOGETHER:
                found[-1][1].extend(ln.urls)
            else:
                found.append((ln, list(ln.urls)))
        previous = ln
    return [UrlLine(ln.start, tuple(dict.fromkeys(urls)), ln.introduces, ln.closes) for ln, urls in found]


def references(lines: Sequence[Line], text: str) -> dict[int, str]:
    """A reference list's entries by number: ``[1] https://…`` lines (the first one wins); without
    numbered entries, the URLs of the citing lines after the post's last words, in order, when
    there are several (an HTML ``<ol>`` of links, or a bare list of URLs under ``… [1] … [2]``)."""
    refs: dict[int, str] = {}
    for ln in lines:
        if ln.kind is BlockKind.URL and ln.url and (n := ref_number(text[ln.start : ln.end])) is not None:
            refs.setdefault(n, ln.url)
    if refs:
        return refs
    tail: list[Line] = []
    for ln in reversed(lines):
        if ln.kind in (BlockKind.TEXT, BlockKind.QUOTE, BlockKind.HEADING):
            break
        if ln.kind is BlockKind.URL:
            tail.append(ln)
    urls = list(dict.fromkeys(url for ln in reversed(tail) for url in ln.urls))
    return dict(enumerate(urls, start=1)) if len(urls) > 1 else {}
