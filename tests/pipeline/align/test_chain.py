"""Chaining exact runs (service/pipeline/align/chain.py): the best-first search of a block's
predecessor gives the plain dynamic programme's chain, and a repetitive page stays cheap."""

from __future__ import annotations

import random
from itertools import accumulate

from hypothesis import given, settings
from hypothesis import strategies as st

from service.pipeline.align import chain as chain_module
from service.pipeline.align.aligner import index_text
from service.pipeline.align.chain import Geometry, MatchedRun, best_chain, find_blocks
from service.settings import AlignSettings


def quadratic_chain(blocks: list[MatchedRun], geo: Geometry) -> list[MatchedRun]:
    """The reference: every pair of blocks tried, in order, the first best predecessor kept."""
    if not blocks:
        return []
    score = [float(b.size) for b in blocks]
    back: list[tuple[int, int]] = [(-1, 0)] * len(blocks)
    for y, b in enumerate(blocks):
        for x in range(y):
            step = chain_module._step(blocks[x], b, geo)
            if step is None:
                continue
            value = score[x] + b.size - step[0] - step[1]
            if value > score[y]:
                score[y], back[y] = value, (x, step[0])
    end = max(range(len(blocks)), key=lambda y: (score[y], -blocks[y].j))
    out = []
    while end >= 0:
        prev, trim = back[end]
        b = blocks[end]
        out.append(MatchedRun(b.i + trim, b.j + trim, b.size - trim))
        end = prev
    return out[::-1]


def geometry(markers: tuple[int, ...], brk: list[bool]) -> Geometry:
    return Geometry(markers, brk, [0, *accumulate(int(b) for b in brk)])


VOCAB = (
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lambda",
    "mu",
)
RUNS = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 120), st.integers(1, 9)), max_size=60)


@settings(max_examples=300, deadline=None)
@given(RUNS, st.lists(st.integers(1, 40), max_size=3), st.lists(st.booleans(), min_size=140, max_size=140))
def test_best_first_chain_is_the_dynamic_programmes(
    runs: list[tuple[int, int, int]], markers: list[int], brk: list[bool]
) -> None:
    """On any blocks (overlapping, repeated, out of order in the text), the chain is the one the
    plain scan of every pair of blocks gives, ties included."""
    blocks = sorted({MatchedRun(i, j, size) for i, j, size in runs}, key=lambda b: (b.i, b.j))
    geo = geometry(tuple(sorted(set(markers))), brk)
    assert best_chain(blocks, geo) == quadratic_chain(blocks, geo)


def test_a_repetitive_page_is_chained_without_trying_every_pair() -> None:
    """A page of a dozen words in every order shares hundreds of runs with a passage of them; the
    chain is found trying far fewer pairs of blocks than all of them, and is the reference's."""
    rng = random.Random(1)
    vocab = VOCAB
    index = index_text(" ".join(rng.choice(vocab) for _ in range(3000)))
    passage = index_text(" ".join(rng.choice(vocab) for _ in range(150)))
    k = AlignSettings().seed_words
    pids = [index.vocab.get(w, -1) for w in passage.tokens.norms]
    blocks = find_blocks(pids, index.ids, index.grams(k), k)
    geo = geometry((), list(index.tokens.brk))
    assert len(blocks) > 200
    tried = 0
    step = chain_module._step

    def counting(a: MatchedRun, b: MatchedRun, geo: Geometry) -> tuple[int, float] | None:
        nonlocal tried
        tried += 1
        return step(a, b, geo)

    chain_module._step = counting
    try:
        found = best_chain(blocks, geo)
    finally:
        chain_module._step = step
    assert found == quadratic_chain(blocks, geo)
    assert tried < len(blocks) * (len(blocks) - 1) // 2 // 2
