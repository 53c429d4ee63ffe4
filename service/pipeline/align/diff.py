"""From a chain of exact runs to a word diff over the whole passage.

Only the small stretches between runs (and the passage's edges next to a run) are aligned word by
word, with an edit-distance table on those stretches alone: never over a whole page.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from service.pipeline.align.chain import Geometry, Join, MatchedRun, join

DP_CELLS = 40_000  # largest stretch (passage words x text words) aligned word by word
EDGE_WORDS = 60  # passage words next to a run that may be aligned to the text beside it


class RegionKind(Enum):
    EQUAL = "equal"
    CHANGE = "change"  # a replacement, insertion (no text words) or deletion (no passage words)
    EXTRA = "extra"  # passage words matched nowhere: inserted in the middle, extended at an edge


@dataclass(frozen=True, slots=True)
class Region:
    """Passage words ``[p0, p1)`` against text words ``[s0, s1)``."""

    kind: RegionKind
    p0: int
    p1: int
    s0: int
    s1: int


@dataclass(frozen=True, slots=True)
class Gap:
    """What an ellipsis removed: text words ``[s0, s1)``, standing before passage word ``at``."""

    at: int
    s0: int
    s1: int


@dataclass(frozen=True, slots=True)
class Assembly:
    """The diff regions in passage order, the joins between segments, and each segment's text range.

    ``gaps`` holds the text each ellipsis skipped between two segments that join across it, and
    ``skips`` the text skipped forward where two segments join with no ellipsis (a splice).
    """

    regions: list[Region]
    joins: list[Join]
    spans: list[tuple[int, int]]
    gaps: tuple[Gap, ...] = ()
    skips: tuple[Gap, ...] = ()


def edit_regions(
    a: Sequence[str], b: Sequence[str], p: int, s: int, *, free_start: bool = False, free_end: bool = False
) -> list[Region]:
    """Word-level edit script of ``a`` (passage words from ``p``) against ``b`` (text words from ``s``).

    ``free_start``/``free_end`` let the alignment skip text words before/after it at no cost.
    """
    la, lb = len(a), len(b)
    table = [[0 if free_start else j for j in range(lb + 1)]]
    for i in range(1, la + 1):
        prev, word = table[-1], a[i - 1]
        row = [i] * (lb + 1)
        for j in range(1, lb + 1):
            row[j] = min(prev[j - 1] + (word != b[j - 1]), prev[j] + 1, row[j - 1] + 1)
        table.append(row)
    last = table[la]
    j = max(range(lb + 1), key=lambda x: (-last[x], x)) if free_end else lb
    i = la
    steps: list[tuple[bool, int, int, int, int]] = []  # (equal, di, dj, i, j) consumed from (i, j)
    while i > 0 or (j > 0 and not (free_start and i == 0)):
        here = table[i][j]
        if i and j and here == table[i - 1][j - 1] + (a[i - 1] != b[j - 1]):
            step = (a[i - 1] == b[j - 1], 1, 1)
        elif i and here == table[i - 1][j] + 1:
            step = (False, 1, 0)
        else:
            step = (False, 0, 1)
        i, j = i - step[1], j - step[2]
        steps.append((*step, i, j))
    out: list[Region] = []
    for same, di, dj, si, sj in reversed(steps):
        kind = RegionKind.EQUAL if same else RegionKind.CHANGE
        if out and out[-1].kind is kind:
            out[-1] = Region(kind, out[-1].p0, p + si + di, out[-1].s0, s + sj + dj)
        else:
            out.append(Region(kind, p + si, p + si + di, s + sj, s + sj + dj))
    return out


@dataclass(frozen=True, slots=True)
class Texts:
    """The comparison words of both sides, the passage's piece bounds and the text's geometry."""

    pn: Sequence[str]
    sn: Sequence[str]
    geo: Geometry

    def piece_start(self, t: int) -> int:
        markers = self.geo.markers
        k = bisect_right(markers, t)
        return markers[k - 1] if k else 0

    def piece_end(self, t: int) -> int:
        markers = self.geo.markers
        k = bisect_right(markers, t)
        return markers[k] if k < len(markers) else len(self.pn)


def segments(chain: list[MatchedRun], geo: Geometry) -> tuple[list[list[MatchedRun]], list[Join]]:
    """Split a chain where its blocks do not meet closely; say how each split joins."""
    segs: list[list[MatchedRun]] = []
    joins: list[Join] = []
    for b in chain:
        if segs:
            a = segs[-1][-1]
            kind, _ = join(geo, a.iend, a.jend, b.i, b.j)
            if kind is Join.LOCAL:
                segs[-1].append(b)
                continue
            joins.append(kind)
        segs.append([b])
    return segs, joins


def assemble(chain: list[MatchedRun], tx: Texts) -> Assembly:
    """Diff regions covering the whole passage, from the chain plus alignment of its edges."""
    segs, joins = segments(chain, tx.geo)
    regions: list[Region] = []
    spans: list[tuple[int, int]] = []
    cursor = 0
    floor = 0
    bounds: list[int] = []
    for k, seg in enumerate(segs):
        bounds.append(cursor)
        first, last = seg[0], seg[-1]
        left = _extend_left(tx, max(cursor, tx.piece_start(first.i)), first, floor)
        start = left[0].p0 if left else first.i
        if start > cursor:
            regions.append(Region(RegionKind.EXTRA, cursor, start, first.j, first.j))
        body = left + _interior(seg, tx)
        hi = min(segs[k + 1][0].i if k + 1 < len(segs) else len(tx.pn), tx.piece_end(last.iend - 1))
        ceiling = segs[k + 1][0].j if k + 1 < len(segs) and segs[k + 1][0].j >= last.jend else len(tx.sn)
        body += _extend_right(tx, hi, last, ceiling)
        regions += body
        cursor = body[-1].p1
        spans.append((body[0].s0, body[-1].s1))
        floor = body[-1].s1
    if cursor < len(tx.pn):
        end = regions[-1].s1 if regions else 0
        regions.append(Region(RegionKind.EXTRA, cursor, len(tx.pn), end, end))
    forward = [
        (kind, Gap(bounds[k + 1], spans[k][1], spans[k + 1][0]))
        for k, kind in enumerate(joins)
        if spans[k + 1][0] > spans[k][1]
    ]
    gaps = tuple(gap for kind, gap in forward if kind is Join.GAP)
    skips = tuple(gap for kind, gap in forward if kind is Join.SPLICE)
    return Assembly(regions, joins, spans, gaps, skips)


def _interior(seg: list[MatchedRun], tx: Texts) -> list[Region]:
    """The segment's runs and the small stretches between them."""
    out: list[Region] = []
    for n, b in enumerate(seg):
        if n:
            a = seg[n - 1]
            gp, gs = b.i - a.iend, b.j - a.jend
            if gp * gs > DP_CELLS:
                out.append(Region(RegionKind.CHANGE, a.iend, b.i, a.jend, b.j))
            elif gp or gs:
                out += edit_regions(tx.pn[a.iend : b.i], tx.sn[a.jend : b.j], a.iend, a.jend)
        out.append(Region(RegionKind.EQUAL, b.i, b.iend, b.j, b.jend))
    return out


def _extend_left(tx: Texts, lo: int, first: MatchedRun, floor: int) -> list[Region]:
    """Align the passage words before a segment with the text just before it, as far as it holds."""
    lo = max(lo, first.i - EDGE_WORDS)
    size = first.i - lo
    w0 = max(floor if floor <= first.j else 0, first.j - size - 4)
    if size <= 0 or w0 >= first.j:
        return []
    regs = edit_regions(tx.pn[lo : first.i], tx.sn[w0 : first.j], lo, w0, free_start=True)
    eq = [n for n, r in enumerate(regs) if r.kind is RegionKind.EQUAL]
    inner = regs[eq[0] :] if eq else []
    outer = regs[: eq[0]] if eq else regs
    if inner and not _holds(inner, inner[0]):
        return []
    if len(outer) == 1 and _small_swap(outer[0]) and not tx.geo.brk[outer[0].s1 - 1]:
        return outer + inner
    return inner


def _extend_right(tx: Texts, hi: int, last: MatchedRun, ceiling: int) -> list[Region]:
    """Align the passage words after a segment with the text just after it, as far as it holds."""
    hi = min(hi, last.iend + EDGE_WORDS)
    size = hi - last.iend
    w1 = min(ceiling, last.jend + size + 4)
    if size <= 0 or w1 <= last.jend:
        return []
    regs = edit_regions(tx.pn[last.iend : hi], tx.sn[last.jend : w1], last.iend, last.jend, free_end=True)
    eq = [n for n, r in enumerate(regs) if r.kind is RegionKind.EQUAL]
    inner = regs[: eq[-1] + 1] if eq else []
    outer = regs[eq[-1] + 1 :] if eq else regs
    if inner and not _holds(inner, inner[-1]):
        return []
    if len(outer) == 1 and _small_swap(outer[0]) and not tx.geo.brk[outer[0].s0 - 1]:
        return inner + outer
    return inner


def _holds(regs: list[Region], outermost: Region) -> bool:
    """An edge alignment counts when mostly equal or when it ends in two equal words or more."""
    same = sum(r.p1 - r.p0 for r in regs if r.kind is RegionKind.EQUAL)
    return 2 * same >= sum(r.p1 - r.p0 for r in regs) or outermost.p1 - outermost.p0 >= 2


def _small_swap(r: Region) -> bool:
    """One or two words replaced by as many: an edit at the edge, not an extension."""
    return r.kind is RegionKind.CHANGE and 1 <= r.p1 - r.p0 <= 2 and r.p1 - r.p0 == r.s1 - r.s0
