"""The anchor index (service/pipeline/align/anchors.py): which texts share a seed with a passage,
never leaving out one the aligner would find the passage in."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from service.pipeline.align.aligner import align_quote, index_text
from service.pipeline.align.anchors import AnchorIndex
from service.pipeline.align.tokens import passage_words, tokenize
from service.pipeline.models import QuoteStatus
from service.settings import AlignSettings

SETTINGS = AlignSettings()
TEXT = (Path(__file__).parents[2] / "data" / "align" / "nyt_elections.txt").read_text(encoding="utf-8")
SENTENCES = re.split(r"(?<=[.!?])\s+", TEXT)
# Overlapping pages (three sentences each, one sentence apart) sharing common phrases too ("of the").
PAGES = [" ".join(SENTENCES[n : n + 3]) for n in range(len(SENTENCES))]
INDEXES = [index_text(page) for page in PAGES]
ANCHORS = AnchorIndex((ix.tokens.norms for ix in INDEXES), n=SETTINGS.seed_words)
WORDS = tokenize(TEXT).words
EDITS = ["", "zeppelin", "the", "of", "said"]  # a word dropped, replaced by a foreign or a common one


def norms(text: str) -> list[str]:
    return passage_words(text).tokens.norms


def test_texts_sharing_a_gram_are_found_and_the_rest_are_not() -> None:
    """A passage's n-grams find the texts holding one of them; a text holding only its words
    in another order is not found by grams, but is by pairs of words."""
    index = AnchorIndex([norms("the port reopened on Monday"), norms("Monday the port was shut")], n=3)
    assert index.size == 2
    assert index.sharing_gram(norms("and the port reopened later")) == {0}
    assert index.sharing_gram(norms("the shut was port")) == set()
    assert index.sharing_pair(norms("shut port")) == {1}
    assert index.sharing_pair(norms("Monday")) == {0, 1}
    assert index.sharing_pair(norms("zeppelin marmalade")) == set()


def test_grams_do_not_cross_texts() -> None:
    """A gram made of one text's last words and the next text's first is no gram of either."""
    index = AnchorIndex([norms("alpha beta"), norms("gamma delta")], n=3)
    assert index.sharing_gram(norms("alpha beta gamma")) == set()


def _passage(start: int, size: int, edits: list[tuple[int, str]]) -> str:
    """Words ``[start, start + size)`` of the article (wrapping), some replaced or dropped."""
    words = [WORDS[(start + t) % len(WORDS)] for t in range(size)]
    for at, word in edits:
        words[at % size] = word
    return " ".join(w for w in words if w)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(2, 40),
    st.lists(st.tuples(st.integers(0, 100), st.sampled_from(EDITS)), max_size=6),
    st.booleans(),
)
def test_every_text_the_aligner_finds_the_passage_in_is_anchored(
    start: int, size: int, edits: list[tuple[int, str]], explicit: bool
) -> None:
    """Brute force against the index: each page where ``align_quote`` finds a passage (copied,
    changed, or stretched across two pages) shares a seed with it, as the library asks (pairs of
    words for a short passage, n-grams for a longer one)."""
    passage = _passage(start, size, edits)
    words = norms(passage)
    if not words:
        return
    short = len(words) <= max(SETTINGS.short_words, SETTINGS.seed_words)
    anchored = ANCHORS.sharing_pair(words) if short else ANCHORS.sharing_gram(words)
    for number, index in enumerate(INDEXES):
        found = align_quote(passage, index, explicit=explicit, settings=SETTINGS)
        if found.status is not QuoteStatus.NOT_FOUND:
            assert number in anchored, (passage, number, found.status)
