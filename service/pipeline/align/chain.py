"""Seed-and-extend: exact word runs shared by a passage and a text, and the best chain of them.

A passage is matched against a page through runs of identical words ("blocks") that start at a
shared k-gram; the best chain of blocks (in passage order) tells where the passage comes from and
how its parts join: closely (small edits), across an ellipsis marker, spliced from afar or out of
order. Cost is linear in the passage times the occurrences of its k-grams, never in page length.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from itertools import pairwise

REPEAT_LIMIT = 64  # k-grams seen more often than this are used only when nothing rarer matched
BLOCK_LIMIT = 400  # blocks kept for chaining (the longest first)
DEPTH_LIMIT = 8  # blocks kept over any one passage word (a page may repeat a sentence)
NEAR_DELETION = 5  # words a passage may drop between two runs before it counts as spliced
MARKER_REACH = 400  # words over which an elision gap starts to cost more


class Join(Enum):
    """How two consecutive blocks of a chain meet."""

    LOCAL = "local"  # a few words inserted, deleted or replaced between them
    GAP = "gap"  # an ellipsis marker stands between them and the text skips ahead
    SPLICE = "splice"  # the text skips ahead (or across a sentence) with no marker
    REORDER = "reorder"  # the second block stands earlier in the text than the first


@dataclass(frozen=True, slots=True)
class MatchedRun:
    """Passage words ``[i, i + size)`` equal text words ``[j, j + size)``."""

    i: int
    j: int
    size: int

    @property
    def iend(self) -> int:
        return self.i + self.size

    @property
    def jend(self) -> int:
        return self.j + self.size


@dataclass(frozen=True, slots=True)
class Geometry:
    """What the chain needs to know about the two texts besides their words."""

    markers: tuple[int, ...]
    brk: Sequence[bool]
    brk_cum: Sequence[int]


def find_blocks(
    pids: Sequence[int],
    sids: Sequence[int],
    grams: dict[tuple[int, ...], list[int]],
    k: int,
    markers: Sequence[int] = (),
) -> list[MatchedRun]:
    """Every maximal run of equal words that contains a shared k-gram, cut at ellipsis markers."""
    blocks: list[MatchedRun] = []
    reach: dict[int, int] = {}
    common: list[tuple[int, list[int]]] = []
    for i in range(len(pids) - k + 1):
        occ = grams.get(tuple(pids[i : i + k]))
        if not occ:
            continue
        if len(occ) > REPEAT_LIMIT:
            common.append((i, occ))
            continue
        _extend_all(i, occ, pids, sids, reach, blocks)
    if not blocks:
        for i, occ in common:
            _extend_all(i, occ[:REPEAT_LIMIT], pids, sids, reach, blocks)
    elif common:
        _near_blocks(common, len(pids), pids, sids, reach, blocks)
    return _prune(_cut(blocks, markers), len(pids))


def _cut(blocks: list[MatchedRun], markers: Sequence[int]) -> list[MatchedRun]:
    """Split blocks that run across a marker: each piece of an elided quote stands on its own."""
    if not markers:
        return blocks
    out: list[MatchedRun] = []
    for b in blocks:
        start = b.i
        for cut in markers[bisect_right(markers, b.i) : bisect_left(markers, b.iend)]:
            out.append(MatchedRun(start, b.j + start - b.i, cut - start))
            start = cut
        out.append(MatchedRun(start, b.j + start - b.i, b.iend - start))
    return out


def _near_blocks(
    common: list[tuple[int, list[int]]],
    m: int,
    pids: Sequence[int],
    sids: Sequence[int],
    reach: dict[int, int],
    blocks: list[MatchedRun],
) -> None:
    """Use frequent k-grams only where they stand near the rarer matches (a repetitive page)."""
    ranges = sorted({(b.j - b.i - MARKER_REACH, b.jend + m - b.iend + MARKER_REACH) for b in blocks})
    for i, occ in common:
        near: list[int] = []
        for lo, hi in ranges:
            near += occ[bisect_left(occ, lo) : bisect_right(occ, hi)]
        _extend_all(i, sorted(set(near))[:REPEAT_LIMIT], pids, sids, reach, blocks)


def _extend_all(
    i: int,
    occ: list[int],
    pids: Sequence[int],
    sids: Sequence[int],
    reach: dict[int, int],
    out: list[MatchedRun],
) -> None:
    """Grow each seed at passage word ``i`` into a maximal block, once per diagonal."""
    m, n = len(pids), len(sids)
    for j in occ:
        diag = j - i
        if reach.get(diag, -1) > i:
            continue
        i0, j0 = i, j
        while i0 > 0 and j0 > 0 and pids[i0 - 1] == sids[j0 - 1]:
            i0 -= 1
            j0 -= 1
        i1, j1 = i + 1, j + 1
        while i1 < m and j1 < n and pids[i1] == sids[j1]:
            i1 += 1
            j1 += 1
        reach[diag] = i1
        out.append(MatchedRun(i0, j0, i1 - i0))


def _prune(blocks: list[MatchedRun], m: int) -> list[MatchedRun]:
    """Keep the longest blocks, at most ``DEPTH_LIMIT`` over any passage word, sorted by passage position."""
    depth = [0] * m
    kept: list[MatchedRun] = []
    for b in sorted(blocks, key=lambda b: (-b.size, b.j)):
        if min(depth[b.i : b.iend]) >= DEPTH_LIMIT:
            continue
        kept.append(b)
        for t in range(b.i, b.iend):
            depth[t] += 1
        if len(kept) >= BLOCK_LIMIT:
            break
    return sorted(kept, key=lambda b: (b.i, b.j))


def crossing(geo: Geometry, j0: int, j1: int) -> bool:
    """Whether dropping text words ``[j0, j1)`` removes a sentence boundary or whole sentences."""
    if j1 - j0 < 1:
        return False
    inner = geo.brk_cum[j1 - 1] - geo.brk_cum[j0] > 0
    whole = j0 > 0 and geo.brk[j0 - 1] and geo.brk[j1 - 1]
    return inner or bool(whole)


def has_marker(geo: Geometry, lo: int, hi: int) -> bool:
    """Whether an ellipsis marker stands at a word boundary within ``[lo, hi]``."""
    return bisect_right(geo.markers, hi) > bisect_left(geo.markers, lo)


def join(geo: Geometry, iend: int, jend: int, i: int, j: int) -> tuple[Join, float]:
    """How a block ending at (iend, jend) meets one starting at (i, j), and what that costs."""
    gp, delta = i - iend, j - jend
    if delta < 0:
        return Join.REORDER, 4.0
    if has_marker(geo, iend, i):
        return Join.GAP, 0.3 + min(2.5, delta / MARKER_REACH)
    if delta - gp <= NEAR_DELETION and not (delta > gp and crossing(geo, jend, j - gp if gp else j)):
        return Join.LOCAL, min(0.2 * max(gp, delta), 2.5)
    return Join.SPLICE, 3.0


def best_chain(blocks: list[MatchedRun], geo: Geometry) -> list[MatchedRun]:
    """The highest-scoring sequence of blocks in passage order (overlaps trimmed), first on ties.

    Each block's best predecessor is sought best-first: the chains found so far, highest score
    first, until none could still beat the best found (a predecessor adds at most its own score).
    The answer is the plain dynamic programme's, but a repetitive page's hundreds of blocks no
    longer cost every pair of them.
    """
    if not blocks:
        return []
    score = [float(b.size) for b in blocks]
    back: list[tuple[int, int]] = [(-1, 0)] * len(blocks)
    ranked: list[tuple[float, int]] = []  # (-score, block): best chains first, earlier blocks on ties
    for y, b in enumerate(blocks):
        for neg, x in ranked:
            if b.size - neg < score[y]:
                break  # no chain ranked lower can reach the best found
            step = _step(blocks[x], b, geo)
            if step is None:
                continue
            trim, pen = step
            value = score[x] + b.size - trim - pen
            # The earliest predecessor wins ties, as in a scan of the blocks in order.
            if value > score[y] or (value == score[y] and x < back[y][0]):
                score[y] = value
                back[y] = (x, trim)
        insort(ranked, (-score[y], y))
    end = max(range(len(blocks)), key=lambda y: (score[y], -blocks[y].j))
    chain: list[MatchedRun] = []
    while end >= 0:
        b = blocks[end]
        prev, trim = back[end]
        chain.append(MatchedRun(b.i + trim, b.j + trim, b.size - trim))
        end = prev
    chain.reverse()
    return chain


def _step(a: MatchedRun, b: MatchedRun, geo: Geometry) -> tuple[int, float] | None:
    """How block ``b`` follows block ``a`` in a chain (words trimmed off ``b``, penalty), or None."""
    if a.i >= b.i or a.iend >= b.iend:
        return None
    trim = max(0, a.iend - b.i)
    back_j = a.jend - b.j - trim
    if 0 < back_j <= 2:  # the passage repeats a word or two of the text: an insertion
        trim += back_j
    if trim >= b.size:
        return None
    _, pen = join(geo, a.iend, a.jend, b.i + trim, b.j + trim)
    return trim, pen


def refill_pieces(
    chain: list[MatchedRun],
    piece: Sequence[int],
    pids: Sequence[int],
    sids: Sequence[int],
    positions: dict[int, list[int]],
    geo: Geometry,
) -> list[MatchedRun]:
    """Place marker-separated pieces the seeds missed (too short) next to their neighbours."""
    if not geo.markers or not chain:
        return chain
    covered = {piece[t] for b in chain for t in range(b.i, b.iend)}
    for a, b in pairwise(chain):
        if b.j < a.jend and piece[b.i] != piece[a.iend - 1]:
            covered.discard(piece[b.i])  # out of order: on a repetitive page, look near first
    starts = [0, *geo.markers]
    ends = [*geo.markers, len(pids)]
    out = list(chain)
    for p, (p0, p1) in enumerate(zip(starts, ends, strict=True)):
        if p in covered:
            continue
        before = [b for b in out if b.iend <= p0]
        after = [b for b in out if b.i >= p1]
        prev = before[-1] if before else None
        nxt = after[0] if after else None
        if nxt is not None and prev is not None and nxt.j < prev.jend:
            nxt = None
        found = _place(pids[p0:p1], prev, nxt, sids, positions)
        if found is not None:
            out = [b for b in out if not p0 <= b.i < p1]
            out.append(MatchedRun(p0, found, p1 - p0))
            out.sort(key=lambda b: b.i)
    return out


def _place(
    words: Sequence[int],
    prev: MatchedRun | None,
    nxt: MatchedRun | None,
    sids: Sequence[int],
    positions: dict[int, list[int]],
) -> int | None:
    """Where a short piece stands in the text: after its left neighbour, before its right one, near."""
    size = len(words)
    reach = 30 if size == 1 else 300
    if prev is not None:
        lo = prev.jend
        hi = nxt.j - size if nxt is not None else lo + reach
    elif nxt is not None:
        lo, hi = nxt.j - size - reach, nxt.j - size
    else:
        return None
    occ = positions.get(words[0], [])
    found = occ[bisect_left(occ, lo) : bisect_right(occ, hi)]
    if prev is not None and nxt is not None:
        found = [j for j in found if j - lo <= reach or hi - j <= reach]
    wanted = list(words)
    for j in found if prev is not None else reversed(found):
        if list(sids[j : j + size]) == wanted:
            return j
    return None
