"""Quotation marks in running text: which marks open and close a quotation, nested or not.

Straight double quotes, curly quotes of several languages, guillemets and corner brackets; a
straight ``'`` is an apostrophe, never a mark, and ``’`` before a letter is one too.
"""

from __future__ import annotations

from collections.abc import Sequence

# Quotation marks: opener -> the closers that end it. Straight ' is an apostrophe, never a mark.
_PAIRS = {
    '"': '"', "“": "”", "„": "“”", "‚": "‘’", "«": "»", "»": "«", "‹": "›", "「": "」", "『": "』", "‘": "’",
}  # fmt: skip
# Marks that French and others set apart from the quotation by a (no-break) space: « … ».
_SPACED = frozenset("«‹")
_CLOSING = frozenset("".join(_PAIRS.values()))


def _closer_index(stack: Sequence[tuple[str, int]], text: str, i: int) -> int | None:
    ch = text[i]
    if ch not in _CLOSING:
        return None
    prev = text[i - 1] if i else " "
    nxt = text[i + 1] if i + 1 < len(text) else " "
    if ch == "’" and nxt.isalnum():
        return None  # an apostrophe: Moscow’s
    if ch == '"' and prev.isspace():
        return None
    for depth in range(len(stack) - 1, -1, -1):
        if ch in _PAIRS[stack[depth][0]]:
            return depth
    return None


def _can_open(text: str, i: int) -> bool:
    ch = text[i]
    prev = text[i - 1] if i else " "
    nxt = text[i + 1] if i + 1 < len(text) else " "
    if ch not in _PAIRS or (nxt.isspace() and ch not in _SPACED):
        return False
    if ch == "»" and not (nxt.isalnum() or nxt in '"„“'):
        return False  # German »…«: an opener only where a word follows
    return not (ch in '‘"' and prev.isalnum())


def _nested_straight(stack: Sequence[tuple[str, int]], text: str, i: int) -> bool:
    """A straight quote right after an opening one opens a quotation inside it: ``""The house…,"``."""
    return (
        text[i] == '"'
        and bool(stack)
        and stack[-1] == ('"', i - 1)
        and i + 1 < len(text)
        and (text[i + 1].isalnum())
    )


def find_quotes(text: str) -> list[tuple[int, int]]:
    """Spans (inside the marks) of top-level quotations; nested ones stay inside their outer one."""
    return _scan_quotes(text)[0]


def quote_open(text: str) -> bool:
    """Whether ``text`` ends inside a quotation it opened."""
    return bool(_scan_quotes(text)[1])


def _scan_quotes(text: str) -> tuple[list[tuple[int, int]], list[tuple[str, int]]]:
    found: list[tuple[int, int]] = []
    stack: list[tuple[str, int]] = []
    for i in range(len(text)):
        if _nested_straight(stack, text, i):
            stack.append((text[i], i))
            continue
        depth = _closer_index(stack, text, i)
        if depth is not None:
            opener_at = stack[depth][1]
            del stack[depth:]
            if not stack:
                found.append((opener_at + 1, i))
        elif _can_open(text, i):
            stack.append((text[i], i))
    return found, stack
