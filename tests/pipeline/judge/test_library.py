"""A post's sources indexed once (service/pipeline/judge/library.py): the pages a passage may be
misattributed to are found through the anchor index, as a search of every page would find them,
and the work per passage does not grow with the number of pages the post cites."""

from __future__ import annotations

import random
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from service.pipeline.align.tokens import PassageWords, tokenize
from service.pipeline.judge import best_match, judge_passage
from service.pipeline.judge.library import Library, Shelf
from service.pipeline.judge.passage import match_rank
from service.pipeline.models import Passage, QuoteStatus
from service.pipeline.state import ReadSource
from tests.pipeline.judge._sources import SETTINGS, source

TEXT = (Path(__file__).parents[2] / "data" / "align" / "nyt_elections.txt").read_text(encoding="utf-8")
SENTENCES = re.split(r"(?<=[.!?])\s+", TEXT)
# Overlapping pages (three sentences each, one sentence apart): most passages stand in several.
ARTICLE = [source(f"https://nyt.example/{n}", " ".join(SENTENCES[n : n + 3])) for n in range(len(SENTENCES))]
WORDS = tokenize(TEXT).words
EDITS = ["", "zeppelin", "the", "of", "state"]  # a word dropped, replaced by a foreign or a common one
SHARED = "It was said by the people of the town that the meeting would go on."


def page(n: int) -> ReadSource:
    """A page of its own words (none shared with another page) and one sentence every page has."""
    rng = random.Random(n)
    own = " ".join(f"w{n}x{rng.randrange(10**6)}" for _ in range(60))
    return source(f"https://p{n}.example/", f"{own}. {SHARED} {own[::-1]}.")


def passage(text: str, url: str | None, *, explicit: bool = True) -> Passage:
    return Passage(text, (0, len(text)), explicit, url)


def test_words_are_read_once_and_shelves_keep_citation_order() -> None:
    """A passage's words are read once per post; a shelf leaves out the given sources and keeps
    the others in the post's order."""
    a, b, c = page(1), page(2), page(3)
    library = Library([a, b, c], settings=SETTINGS)
    assert library.words("some words here") is library.words("some words here")
    assert library.of([b, None]).sources == [a, c]
    assert library.of().sources == [a, b, c]
    assert Library([], settings=SETTINGS).of().likely(library.words("any words at all")) == []


def test_a_very_short_passage_may_be_anywhere() -> None:
    """A passage of three words or fewer is looked for in every page, held or not."""
    a, b = page(1), page(2)
    library = Library([a, b], settings=SETTINGS)
    assert library.of().likely(library.words("zeppelin marmalade quark")) == [a, b]


def _brute(text: str, shelf: Shelf) -> tuple[tuple[int, float], str | None]:
    """The best match over every page of the shelf, the first page winning ties (the rule's search)."""
    found = [
        (best_match(passage(text, None), s.current, settings=SETTINGS), s.report.url) for s in shelf.sources
    ]
    best, url = max(found, key=lambda f: match_rank(f[0]), default=(None, None))
    return (match_rank(best) if best is not None else (0, 0.0)), url


@settings(max_examples=120, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(4, 45),
    st.lists(st.tuples(st.integers(0, 100), st.sampled_from(EDITS)), max_size=5),
    st.integers(0, len(ARTICLE) - 1),
)
def test_the_indexed_search_finds_the_brute_force_best_page(
    start: int, size: int, edits: list[tuple[int, str]], cited: int
) -> None:
    """Wherever searching every page finds a passage (faithful or changed), searching only the
    pages the index names finds the same page first, with the same rank."""
    words = [WORDS[(start + t) % len(WORDS)] for t in range(size)]
    for at, word in edits:
        words[at % size] = word
    text = " ".join(w for w in words if w)
    library = Library(ARTICLE, settings=SETTINGS)
    shelf = library.of([ARTICLE[cited]])
    rank, url = _brute(text, shelf)
    if rank[0] == 0:
        return
    likely = [
        (match_rank(best_match(passage(text, None), s.current, settings=SETTINGS)), s.report.url)
        for s in shelf.likely(library.words(text))
    ]
    assert max(likely, key=lambda f: f[0]) == (rank, url)


class EveryPage(Library):
    """The search before the index: every page may hold every passage."""

    def likely(self, words: PassageWords) -> frozenset[int]:
        return frozenset(range(len(self.sources)))


@settings(max_examples=120, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(1, 45),
    st.lists(st.tuples(st.integers(0, 100), st.sampled_from(EDITS)), max_size=5),
    st.one_of(st.none(), st.integers(0, len(ARTICLE) - 1)),
    st.booleans(),
)
def test_reports_are_those_of_searching_every_page(
    start: int, size: int, edits: list[tuple[int, str]], cited: int | None, explicit: bool
) -> None:
    """A passage under a link of the post, or under none, gets the very report it got when
    every other page was searched: status, page found in, score, diff and reasons."""
    words = [WORDS[(start + t) % len(WORDS)] for t in range(size)]
    for at, word in edits:
        words[at % size] = word
    text = " ".join(w for w in words if w)
    own = ARTICLE[cited] if cited is not None else None
    reports = [
        judge_passage(
            Passage(text, (0, len(text)), explicit, own.key if own else None),
            own,
            kind(ARTICLE, settings=SETTINGS).of([own]),
            settings=SETTINGS,
        )
        for kind in (Library, EveryPage)
    ]
    assert reports[0] == reports[1]


def test_alignments_per_passage_do_not_grow_with_the_pages_cited() -> None:
    """Own words and a passage copied from another page, under a link or under none, cost the same
    number of alignments in a post citing 5 pages as in one citing 60: only the pages sharing a
    seed are aligned."""
    counts = []
    for n in (5, 60):
        pages = [page(k) for k in range(n)]
        library = Library(pages, settings=SETTINGS)
        copied = " ".join(pages[3].current[0].text.split()[:20])
        own_words = "Honestly I think people read what they wanted and nobody checks anything anymore."
        texts = (own_words, copied)
        reports = [
            judge_passage(passage(text, pages[1].key), pages[1], library.of([pages[1]]), settings=SETTINGS)
            for text in texts
        ]
        unattached = [
            judge_passage(passage(text, None), None, library.of(), settings=SETTINGS) for text in texts
        ]
        assert [r.status for r in reports] == [QuoteStatus.NOT_FOUND, QuoteStatus.MISATTRIBUTED]
        assert reports[1].found_in == pages[3].key
        assert [r.status for r in unattached] == [QuoteStatus.NOT_FOUND, QuoteStatus.VERBATIM]
        counts.append(library.alignments)
    assert counts[0] == counts[1]
    assert counts[0] <= 4
