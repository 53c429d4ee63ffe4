"""Which of many texts a passage can possibly match: one inverted index over all of them.

A passage not found under its own link is looked for in every other page the post cites. Aligned
against each page in turn, that costs passages x pages, and nearly every page shares nothing with
the passage. ``align_quote`` finds nothing in a text that shares no seed with the passage (a word
k-gram; for a short passage, a word pair), so only the texts sharing one need aligning: this index
says which, at a cost that grows with the passage, not with the number of texts.

The answer is a superset, never a guess: a text left out would have given ``align_quote`` no
block to chain, hence no match. Grams are keyed by the words' ids, so each text is read once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import pairwise

__all__ = ["AnchorIndex"]

_SHIFT = 32  # bits per word id in a gram's key: ids stay far below 2**32


class AnchorIndex:
    """Word n-grams and words of a set of texts (numbered in order), each mapped to the texts holding it."""

    def __init__(self, texts: Iterable[Sequence[str]], *, n: int) -> None:
        self.n = n
        self._vocab: dict[str, int] = {}
        self._grams: dict[int, list[int]] = {}
        self._words: dict[int, list[int]] = {}
        self.size = 0
        for number, norms in enumerate(texts):
            self._add(number, norms)
            self.size = number + 1

    def _add(self, number: int, norms: Sequence[str]) -> None:
        vocab = self._vocab
        ids = [vocab.get(w) or vocab.setdefault(w, len(vocab) + 1) for w in norms]
        for wid in set(ids):
            self._words.setdefault(wid, []).append(number)
        for key in set(self._keys(ids)):
            self._grams.setdefault(key, []).append(number)

    def _keys(self, ids: Sequence[int]) -> Iterable[int]:
        """One int per n-gram of ``ids`` (0 stands for a word no text holds: never a key)."""
        windows = zip(*(ids[t:] for t in range(self.n)), strict=False)
        for window in windows:
            key = 0
            for wid in window:
                key = (key << _SHIFT) | wid
            yield key

    def sharing_gram(self, norms: Sequence[str]) -> set[int]:
        """The texts holding one of the n-grams of ``norms`` (a passage's comparison forms)."""
        ids = [self._vocab.get(w, 0) for w in norms]
        found: set[int] = set()
        for key in self._keys(ids):
            found.update(self._grams.get(key, ()))
        return found

    def sharing_pair(self, norms: Sequence[str]) -> set[int]:
        """The texts holding both words of some pair of neighbours in ``norms`` (anywhere in the
        text: a superset of those sharing a word 2-gram or longer), or the one word of a one-word
        passage."""
        held = [set(self._words.get(self._vocab.get(w, 0), ())) for w in norms]
        if len(held) == 1:
            return held[0]
        found: set[int] = set()
        for left, right in pairwise(held):
            found |= left & right
        return found
