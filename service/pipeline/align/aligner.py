"""Quote alignment: where a passage stands in a source text, and how it differs from it.

A source is tokenised and indexed once (``index_text``); each passage is then matched by
seed-and-extend: shared word k-grams give exact runs, the best chain of runs says where the
passage comes from and how its parts join, and only the small stretches between runs are aligned
word by word. The cost grows with the passage and the occurrences of its k-grams, not with the
page, so a 100k-word page costs about what a short one does once indexed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import accumulate

from service.pipeline.align.chain import Geometry, Join, best_chain, find_blocks, refill_pieces
from service.pipeline.align.diff import Assembly, Gap, Region, RegionKind, Texts, assemble
from service.pipeline.align.editorial import bracket_reasons
from service.pipeline.align.elision import edge_gaps, gap_words, misleading_classes
from service.pipeline.align.tokens import (
    ELLIPSIS,
    PassageWords,
    Tokens,
    collapse_space,
    is_negation,
    is_number,
    passage_words,
    tokenize,
)
from service.pipeline.align.widgets import is_widget
from service.pipeline.models import NO_MATCH, Alignment, DiffOp, DiffPart, QuoteStatus, Reason
from service.settings import AlignSettings

__all__ = ["TextIndex", "align_quote", "align_words", "index_text"]

_SCORES = {QuoteStatus.VERBATIM: 1.0, QuoteStatus.COSMETIC: 0.98, QuoteStatus.ELIDED: 0.95}
_JOIN_REASONS = {Join.SPLICE: Reason.SPLICED, Join.REORDER: Reason.REORDERED}
_NOT_CHANGES = frozenset({Reason.BRACKETED_SUBSTITUTION})


@dataclass(frozen=True, slots=True, eq=False)
class TextIndex:
    """A source text's words, their ids, and k-gram position lists (built once, reused per passage)."""

    text: str
    tokens: Tokens
    ids: list[int]
    vocab: dict[str, int]
    positions: dict[int, list[int]]
    brk_cum: list[int]
    _grams: dict[int, dict[tuple[int, ...], list[int]]] = field(default_factory=dict)

    def grams(self, k: int) -> dict[tuple[int, ...], list[int]]:
        """Positions of every k-word sequence of the text (built on first use per ``k``)."""
        table = self._grams.get(k)
        if table is None:
            table = {}
            for j, key in enumerate(zip(*(self.ids[t:] for t in range(k)), strict=False)):
                hits = table.get(key)
                if hits is None:
                    table[key] = [j]
                else:
                    hits.append(j)
            self._grams[k] = table
        return table


def index_text(text: str, *, seed_words: int = 3) -> TextIndex:
    """Tokenise ``text`` once and index its word k-grams for ``align_quote``."""
    tokens = tokenize(text)
    vocab: dict[str, int] = {}
    ids = [vocab.get(w) or vocab.setdefault(w, len(vocab)) for w in tokens.norms]
    positions: dict[int, list[int]] = {}
    for j, wid in enumerate(ids):
        hits = positions.get(wid)
        if hits is None:
            positions[wid] = [j]
        else:
            hits.append(j)
    brk_cum = [0, *accumulate(int(b) for b in tokens.brk)]
    index = TextIndex(text, tokens, ids, vocab, positions, brk_cum)
    index.grams(seed_words)
    return index


def _chunk_matches(text: str, chunks: list[str]) -> Iterator[tuple[int, int]]:
    """Where ``chunks`` stand in ``text`` separated by whitespace only, on word edges.

    Written with ``str.find``/``startswith`` rather than a regular expression: compiling a
    pattern of a long passage costs more than the whole search.
    """
    first = chunks[0]
    start = text.find(first)
    while start >= 0:
        end = _follow(text, start + len(first), chunks)
        if end is not None and _edges_ok(text, start, end, chunks):
            yield start, end
        start = text.find(first, start + 1)


def _follow(text: str, pos: int, chunks: list[str]) -> int | None:
    for chunk in chunks[1:]:
        gap = pos
        while gap < len(text) and text[gap].isspace():
            gap += 1
        if gap == pos or not text.startswith(chunk, gap):
            return None
        pos = gap + len(chunk)
    return pos


def _edges_ok(text: str, start: int, end: int, chunks: list[str]) -> bool:
    if chunks[0][0].isalnum() and start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        return False
    return not (chunks[-1][-1].isalnum() and end < len(text) and (text[end].isalnum() or text[end] == "_"))


def find_verbatim(passage: str, text: str) -> Alignment | None:
    """The passage found character for character (whitespace aside), without tokenising the text.

    Most faithful copies are verbatim, and a search for the passage's first chunk with
    ``str.find`` (no regular expression is compiled per passage, see ``_chunk_matches``) is far
    cheaper than building the text's index, which ``align_quote`` then only needs for the rest.
    """
    chunks = passage.split()
    if not chunks:
        return None
    found = next(_chunk_matches(text, chunks), None)
    if found is None:
        return None
    start, end = found
    # Spans cover words, as the aligner's do: punctuation at the edges stays outside.
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    if start == end:
        return None
    words = " ".join(chunks)
    return Alignment(
        status=QuoteStatus.VERBATIM,
        score=_SCORES[QuoteStatus.VERBATIM],
        span=(start, end),
        diff=(DiffPart(DiffOp.EQUAL, words, words),),
        coverage=1.0,
    )


def align_quote(passage: str, index: TextIndex, *, explicit: bool, settings: AlignSettings) -> Alignment:
    """The best match of ``passage`` in the indexed text, with its status, span, diff and reasons."""
    return align_words(passage, passage_words(passage), index, explicit=explicit, settings=settings)


def align_words(
    passage: str, pw: PassageWords, index: TextIndex, *, explicit: bool, settings: AlignSettings
) -> Alignment:
    """``align_quote`` with the passage's words already read (``passage_words(passage)``): a
    passage compared with many texts is tokenised once, not once per text."""
    m = len(pw.tokens)
    if not m or not index.ids:
        return NO_MATCH
    pids = [index.vocab.get(w, -1) for w in pw.tokens.norms]
    geo = Geometry(pw.markers, index.tokens.brk, index.brk_cum)
    k = min(settings.seed_words, m)
    blocks = find_blocks(pids, index.ids, index.grams(k), k, pw.markers)
    while not blocks and k > 2 and m <= settings.short_words:
        k -= 1
        blocks = find_blocks(pids, index.ids, index.grams(k), k, pw.markers)
    chain = refill_pieces(best_chain(blocks, geo), pw.piece, pids, index.ids, index.positions, geo)
    if not chain:
        return NO_MATCH
    asm = assemble(chain, Texts(pw.tokens.norms, index.tokens.norms, geo))
    regions = [_cosmetic(r, pw.tokens, index.tokens) for r in asm.regions]
    return _judge(passage, pw, index, asm, regions, explicit=explicit, settings=settings)


def _cosmetic(r: Region, post: Tokens, src: Tokens) -> Region:
    """A change that only splits or joins words ("e-mail" / "email") is typography, not a change."""
    joined = r.kind is RegionKind.CHANGE and r.p1 > r.p0 and r.s1 > r.s0
    if joined and "".join(post.norms[r.p0 : r.p1]) == "".join(src.norms[r.s0 : r.s1]):
        return Region(RegionKind.EQUAL, r.p0, r.p1, r.s0, r.s1)
    return r


def _judge(
    passage: str,
    pw: PassageWords,
    index: TextIndex,
    asm: Assembly,
    regions: list[Region],
    *,
    explicit: bool,
    settings: AlignSettings,
) -> Alignment:
    """Status, score, span and reasons from the diff regions."""
    post, src = pw.tokens, index.tokens
    m = len(post)
    same = sum(r.p1 - r.p0 for r in regions if r.kind is RegionKind.EQUAL)
    coverage = same / m
    reasons = _reasons(regions, asm.joins, post, index, pw.brackets)
    edges = edge_gaps(
        src,
        asm.spans[0][0],
        asm.spans[-1][1],
        lead=ELLIPSIS.search(passage, 0, post.starts[0]) is not None,
        trail=ELLIPSIS.search(passage, post.ends[-1]) is not None,
        end_at=m,
    )
    if edges or misleading_classes(index.text, src, asm.gaps):
        reasons.add(Reason.MISLEADING_ELISION)
    splices = sum(j is Join.SPLICE for j in asm.joins)
    if splices and sum(is_widget(index.text, src, skip.s0, skip.s1) for skip in asm.skips) == splices:
        reasons.discard(Reason.SPLICED)  # the page's own widget stood inside the copied sentence
    span = _span(asm, src)
    shown = (*edges, *asm.gaps, *asm.skips)
    diff = _diff_parts(regions, post, src, tuple(sorted(shown, key=lambda g: g.at)))
    if reasons <= _NOT_CHANGES:
        if pw.markers:
            status = QuoteStatus.ELIDED
        elif not reasons and _same_text(
            passage[post.starts[0] : post.ends[-1]], index.text[span[0] : span[1]]
        ):
            status = QuoteStatus.VERBATIM
        else:
            status = QuoteStatus.COSMETIC
        return Alignment(status, _SCORES[status], span, diff, tuple(reasons), coverage)
    if not _convincing(regions, m, coverage, explicit=explicit, settings=settings):
        return Alignment(QuoteStatus.NOT_FOUND, round(0.3 * coverage, 4), None, (), (), coverage)
    src_words = sum(r.s1 - r.s0 for r in regions if r.kind is not RegionKind.EXTRA)
    score = round(0.9 * 2 * same / (m + src_words), 4)
    ordered = tuple(r for r in Reason if r in reasons)
    return Alignment(QuoteStatus.ALTERED, score, span, diff, ordered, coverage)


def _same_text(a: str, b: str) -> bool:
    """Equal but for whitespace: the test of a verbatim copy."""
    return collapse_space(a) == collapse_space(b)


def _longest_run(regions: list[Region]) -> int:
    best = run = 0
    for r in regions:
        run = run + r.p1 - r.p0 if r.kind is RegionKind.EQUAL else 0
        best = max(best, run)
    return best


def _convincing(
    regions: list[Region], m: int, coverage: float, *, explicit: bool, settings: AlignSettings
) -> bool:
    """Whether a changed passage is still a copy of the text (else it counts as not found)."""
    longest = _longest_run(regions)
    if explicit:
        if m <= settings.short_words and coverage >= settings.short_coverage and longest >= 2:
            return True
        return longest >= settings.long_run or (
            longest >= settings.explicit_run and coverage >= settings.explicit_coverage
        )
    if longest >= settings.implicit_long_run and coverage >= settings.implicit_long_coverage:
        return True
    if m <= settings.implicit_short_words and coverage >= settings.implicit_short_coverage and longest >= 3:
        return True  # a short copied line with one word changed has no long run left
    return longest >= settings.implicit_run and coverage >= settings.implicit_coverage


def _reasons(
    regions: list[Region],
    joins: list[Join],
    post: Tokens,
    index: TextIndex,
    brackets: tuple[tuple[int, int], ...],
) -> set[Reason]:
    """Why the passage differs: one or more reasons per changed region and per far join."""
    src = index.tokens
    out = {_JOIN_REASONS[j] for j in joins if j in _JOIN_REASONS}
    edge = {0, len(regions) - 1}
    for n, r in enumerate(regions):
        if r.kind is RegionKind.EQUAL:
            continue
        stand_in = bracket_reasons(r, post, src, brackets)
        if stand_in is not None:
            out |= stand_in
            continue
        pn, sn = post.norms[r.p0 : r.p1], src.norms[r.s0 : r.s1]
        if not pn and r.kind is RegionKind.CHANGE and is_widget(index.text, src, r.s0, r.s1):
            continue  # the page's own widget stood there: a reader skips it too
        if sorted(w for w in pn if is_number(w)) != sorted(w for w in sn if is_number(w)):
            out.add(Reason.NUMBER_CHANGED)
        if sum(map(is_negation, pn)) != sum(map(is_negation, sn)):
            out.add(Reason.NEGATION_CHANGED)
        if r.kind is RegionKind.EXTRA:
            out.add(Reason.EXTENDED if n in edge else Reason.WORDS_INSERTED)
        elif not pn:
            out.add(Reason.WORDS_DELETED)
        elif not sn:
            out.add(Reason.WORDS_INSERTED)
        else:
            out |= _replacement(r, post, src)
    return out


def _replacement(r: Region, post: Tokens, src: Tokens) -> set[Reason]:
    """Reasons of a replacement: names swapped, and words replaced unless only numbers/names were."""
    pcaps = {post.norms[t] for t in range(r.p0, r.p1) if post.cap[t]}
    scaps = {src.norms[t] for t in range(r.s0, r.s1) if src.cap[t]}
    out = {Reason.NAME_CHANGED} if pcaps and scaps and pcaps != scaps else set()
    pairs = zip(range(r.p0, r.p1), range(r.s0, r.s1), strict=False)
    explained = r.p1 - r.p0 == r.s1 - r.s0 and all(
        post.norms[a] == src.norms[b]
        or (is_number(post.norms[a]) and is_number(src.norms[b]))
        or (post.cap[a] and src.cap[b])
        for a, b in pairs
    )
    if not explained:
        out.add(Reason.WORDS_REPLACED)
    return out


def _span(asm: Assembly, src: Tokens) -> tuple[int, int]:
    """Character span of the match: all of it when its parts are in order, else its largest part."""
    spans = asm.spans
    if any(j in _JOIN_REASONS for j in asm.joins):
        s0, s1 = max(spans, key=lambda s: s[1] - s[0])
    else:
        s0, s1 = spans[0][0], spans[-1][1]
    return src.starts[s0], src.ends[s1 - 1]


_OPS = {(True, True): DiffOp.REPLACE, (True, False): DiffOp.INSERT, (False, True): DiffOp.DELETE}


def _diff_parts(
    regions: list[Region], post: Tokens, src: Tokens, gaps: tuple[Gap, ...] = ()
) -> tuple[DiffPart, ...]:
    """Word-level diff parts covering the whole passage, neighbours of one kind merged.

    What each ellipsis removed, and what a splice skipped, stands as a ``delete`` part where it
    was left out, so that every join a reason names can be seen.
    """
    parts: list[DiffPart] = []
    pending = list(gaps)
    for r in regions:
        while pending and pending[0].at <= r.p0:
            parts.append(DiffPart(DiffOp.DELETE, "", gap_words(src, pending.pop(0))))
        pw = " ".join(post.words[r.p0 : r.p1])
        sw = "" if r.kind is RegionKind.EXTRA else " ".join(src.words[r.s0 : r.s1])
        op = DiffOp.EQUAL if r.kind is RegionKind.EQUAL else _OPS[(bool(pw), bool(sw))]
        if parts and parts[-1].op is op:
            last = parts[-1]
            parts[-1] = DiffPart(op, f"{last.post} {pw}".strip(), f"{last.source} {sw}".strip())
        else:
            parts.append(DiffPart(op, pw, sw))
    parts += [DiffPart(DiffOp.DELETE, "", gap_words(src, gap)) for gap in pending]
    return tuple(parts)
