"""Quotation marks in running text: which marks open and close a quotation, nested or not.

Straight double quotes, curly quotes of several languages, guillemets and corner brackets; a
straight ``'`` is an apostrophe, never a mark, and ``’`` before a letter is one too. People also
write marks their keyboard gives them: ``<<…>>`` for guillemets, ``”…”`` and ``»…»`` (Swedish and
Finnish set the same mark on both sides), and a curly mark closed by a straight one or the other way
round (``“…"``, ``"…”``); each of these is a quotation too, or an invented sentence in them would be
read as the poster's own words and never flagged.

Linear in the text: a closing mark finds the innermost opener it closes through a per-closer list
of open depths, not by walking the stack (``"«"`` ten thousand times then ``"”"`` ten thousand
times would otherwise cost a hundred million steps), and ``QuoteScanner`` answers "is a
quotation open here?" for a growing block without reading its start again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Quotation marks: opener -> the closers that end it. Straight ' is an apostrophe, never a mark.
_PAIRS = {
    '"': '"”', "“": '”"', "„": '“”"', "‚": "‘’", "«": "»", "»": "«»", "‹": "›", "「": "」", "『": "』",
    "‘": "’", "”": "”", "<": ">",
}  # fmt: skip
# ``<<`` and ``>>`` are one mark each: the second ``<`` opens, the first ``>`` closes.
_CLOSING = frozenset("".join(_PAIRS.values()))
# Every character a step can act on: the scanner jumps from one to the next (any other character
# is a no-op step), so a long quotation costs a regex search, not a Python step per character.
_MARKS = re.compile("[" + re.escape("".join(sorted(set(_PAIRS) | _CLOSING))) + "]")
# Marks that French and others set apart from the quotation by a (no-break) space: « … ».
_SPACED = frozenset("«‹<")


@dataclass(slots=True)
class QuoteScanner:
    """The quotations of ``text[lo:hi]`` for a growing ``hi``; characters are read once.

    A mark's meaning depends on its neighbours, and the slice's edges read as spaces: so every
    character but the last of the slice is final, and the last one is judged on each question.
    """

    text: str
    lo: int = 0
    pos: int = -1  # characters in [lo, pos) are scanned for good; -1: start at lo
    found: list[tuple[int, int]] = field(default_factory=list)
    stack: list[tuple[str, int]] = field(default_factory=list)
    _open_for: dict[str, list[int]] = field(default_factory=dict)  # closer -> stack depths it closes

    def __post_init__(self) -> None:
        if self.pos < 0:
            self.pos = self.lo

    def _closer_depth(self, i: int, hi: int) -> int | None:
        text = self.text
        ch = text[i]
        if ch not in _CLOSING:
            return None
        depths = self._open_for.get(ch)
        if not depths:
            return None  # nothing open that this mark closes (checked first: ">" is common)
        prev = text[i - 1] if i > self.lo else " "
        nxt = text[i + 1] if i + 1 < hi else " "
        if ch == "’" and nxt.isalnum():
            return None  # an apostrophe: Moscow’s
        if ch == ">" and (nxt != ">" or prev == ">"):
            return None  # only the first of ">>" closes
        if ch == '"' and prev.isspace():
            return None
        return depths[-1]

    def _can_open(self, i: int, hi: int) -> bool:
        text = self.text
        ch = text[i]
        if ch not in _PAIRS:
            return False
        prev = text[i - 1] if i > self.lo else " "
        nxt = text[i + 1] if i + 1 < hi else " "
        if ch == "<" and (prev != "<" or nxt == "<" or (i - 2 >= self.lo and text[i - 2] == "<")):
            return False  # only the second of "<<" opens, and "<<<" is no mark
        if nxt.isspace() and ch not in _SPACED:
            return False
        if ch == "»" and not (nxt.isalnum() or nxt in '"„“'):
            return False  # German »…«: an opener only where a word follows
        return not (ch in '‘"”' and prev.isalnum())

    def _nested_straight(self, i: int, hi: int) -> bool:
        """A straight quote right after an opening one opens a quotation inside it: ``""The house…,"``."""
        return (
            self.text[i] == '"'
            and bool(self.stack)
            and self.stack[-1] == ('"', i - 1)
            and i + 1 < hi
            and self.text[i + 1].isalnum()
        )

    def _open(self, i: int) -> None:
        for closer in _PAIRS[self.text[i]]:
            self._open_for.setdefault(closer, []).append(len(self.stack))
        self.stack.append((self.text[i], i))

    def _step(self, i: int, hi: int) -> None:
        if self._nested_straight(i, hi):
            self._open(i)
            return
        depth = self._closer_depth(i, hi)
        if depth is not None:
            opener_at = self.stack[depth][1]
            for closer in _PAIRS[self.stack[depth][0]] if depth == len(self.stack) - 1 else _CLOSING:
                depths = self._open_for.get(closer)
                while depths and depths[-1] >= depth:
                    depths.pop()
            del self.stack[depth:]
            if not self.stack:
                self.found.append((opener_at + 1 - self.lo, i - self.lo))
        elif self._can_open(i, hi):
            self._open(i)

    def _steps(self, start: int, stop: int, hi: int) -> None:
        """Step over the marks in ``text[start:stop]`` (the slice ending at ``hi``)."""
        for mark in _MARKS.finditer(self.text, start, stop):
            self._step(mark.start(), hi)

    def scan(self, hi: int) -> None:
        """Read the slice up to ``hi`` as a whole (its last character included)."""
        self._steps(self.pos, hi, hi)
        self.pos = max(self.pos, hi)

    def open_at(self, hi: int) -> bool:
        """Whether ``text[lo:hi]`` ends inside a quotation it opened (``hi`` never decreases)."""
        if hi <= self.lo:
            return False
        self._steps(self.pos, hi - 1, hi)
        self.pos = max(self.pos, hi - 1)
        last = hi - 1
        depth = self._closer_depth(last, hi)
        if depth is not None:
            return depth > 0
        return bool(self.stack) or self._can_open(last, hi)


def find_quotes(text: str) -> list[tuple[int, int]]:
    """Spans (inside the marks) of top-level quotations; nested ones stay inside their outer one."""
    scanner = QuoteScanner(text)
    scanner.scan(len(text))
    return scanner.found


def quote_open(text: str) -> bool:
    """Whether ``text`` ends inside a quotation it opened."""
    return QuoteScanner(text).open_at(len(text))
