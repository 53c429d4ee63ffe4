"""A post's sources as judging sees them: indexed together once, shared by all its passages.

Judging asks two things many times per post: a passage's words (the same passage is compared with
many texts) and which of the post's other pages might hold it (the misattribution rule). Both are
answered here once per post, so that the cost of a post grows with its passages plus its pages,
not with their product.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from service.pipeline.align.anchors import AnchorIndex
from service.pipeline.align.tokens import PassageWords, passage_words
from service.pipeline.state import ReadSource
from service.settings import AlignSettings

__all__ = ["Library", "Shelf"]

# Passages this short (in words) are aligned against every page: a copy may differ from its page
# in the tokens at its edges ("'s going" inside "it's going"), which only a longer passage outlives.
_ALWAYS_ALIGNED = 3


class Library:
    """The post's sources in citation order; their texts' anchor index is built on first use."""

    def __init__(self, sources: Iterable[ReadSource], *, settings: AlignSettings) -> None:
        self.sources = tuple(sources)
        self.settings = settings
        self._words: dict[str, PassageWords] = {}
        self._index: AnchorIndex | None = None
        self._owner: list[int] = []  # the source of each indexed text
        self.alignments = 0  # texts aligned with, counted by ``judge`` (what the index saves)

    def words(self, text: str) -> PassageWords:
        """A passage's words, read once per post however many texts it is compared with."""
        found = self._words.get(text)
        if found is None:
            found = self._words[text] = passage_words(text)
        return found

    def of(self, excluded: Iterable[ReadSource | None] = ()) -> Shelf:
        """The library without ``excluded`` (a passage's own links): where else it may be found."""
        gone = frozenset(id(s) for s in excluded if s is not None)
        return Shelf(self, tuple(n for n, s in enumerate(self.sources) if id(s) not in gone))

    def _anchors(self) -> tuple[AnchorIndex, list[int]]:
        if self._index is None:
            texts = []
            for number, source in enumerate(self.sources):
                for text in source.current:
                    texts.append(text.index.tokens.norms)
                    self._owner.append(number)
            self._index = AnchorIndex(texts, n=self.settings.seed_words)
        return self._index, self._owner

    def likely(self, words: PassageWords) -> frozenset[int]:
        """The sources (by number) one of whose texts shares a seed with the passage: the only ones
        ``align_quote`` can find it in. Every source for a very short passage."""
        norms = words.tokens.norms
        m, seed = len(norms), self.settings.seed_words
        if m <= _ALWAYS_ALIGNED or seed < 2:
            return frozenset(range(len(self.sources)))
        index, owner = self._anchors()
        # The aligner seeds with k = min(seed_words, m) words, and a short passage with fewer, down to 2.
        short = m <= max(self.settings.short_words, seed)
        texts = index.sharing_pair(norms) if short else index.sharing_gram(norms)
        return frozenset(owner[t] for t in texts)


@dataclass(frozen=True, slots=True)
class Shelf:
    """Some of a library's sources (in citation order): the pages a passage may be misattributed to."""

    library: Library
    numbers: tuple[int, ...]

    @property
    def sources(self) -> list[ReadSource]:
        return [self.library.sources[n] for n in self.numbers]

    def likely(self, words: PassageWords) -> list[ReadSource]:
        """These sources that may hold the passage, in citation order (see ``Library.likely``)."""
        if not self.numbers:
            return []
        found = self.library.likely(words)
        return [self.library.sources[n] for n in self.numbers if n in found]


def shelf_of(others: Shelf | Sequence[ReadSource], *, settings: AlignSettings) -> Shelf:
    """``others`` as a shelf: a caller judging one passage may pass its sources as a plain list."""
    if isinstance(others, Shelf):
        return others
    return Library(others, settings=settings).of()
