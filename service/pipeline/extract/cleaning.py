"""trafilatura's basic cleaning selection (``BASIC_CLEAN_XPATH``), without its per-element callbacks
on the pages that have no cookie banner.

trafilatura deletes what ``BASIC_CLEAN_XPATH`` selects before its baseline and its page measure
(``baseline.basic_cleaning``, run on a copy of the whole page whenever an extraction is short).
That XPath tests every element's ``class`` and ``id`` against a cookie-banner pattern with EXSLT's
``re:test``, which lxml answers by calling into Python once per element: 3.1 of its 3.6 ms on an
average corpus page, about 1 ms of each page's extraction in a batch.

``BasicCleanSelection`` first reads every ``class`` and ``id`` value below the element in one
XPath call and tries the pattern on them (compiled as lxml compiles it: Unicode, ignore case).
When none matches, the ``re:test`` branch of the XPath selects nothing, so the selection is the
rest of the XPath, which libxml2 answers alone; when one does, trafilatura's own XPath runs. Either
way the elements, and their order, are the XPath's.

``install`` puts it in place of trafilatura's XPath, in this process, only when trafilatura's
expression is the very one this splits (``expected_expression``).
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from lxml.etree import XPath

if TYPE_CHECKING:
    from lxml.html import HtmlElement

# ``BASIC_CLEAN_XPATH`` without its ``re:test`` branch.
_WITHOUT_BANNERS = (
    ".//aside|.//div[contains(@class|@id, 'footer')]|.//fencedframe|.//footer"
    "|.//script|.//style|.//svg|.//template"
)
# Every value the ``re:test`` branch tests: the class and id of each element below the context.
_CLASS_AND_ID_VALUES = XPath(".//*/@class|.//*/@id", smart_strings=False)


def expected_expression(cookie_consent: str) -> str:
    """The XPath this splits, as trafilatura 2.3 writes it around its cookie-banner pattern."""
    return (
        f"{_WITHOUT_BANNERS}"
        f"|.//*[re:test(@class, '{cookie_consent}', 'i') or re:test(@id, '{cookie_consent}', 'i')]"
    )


class BasicCleanSelection:
    """Called with an element as trafilatura calls its XPath: the elements below it to delete."""

    def __init__(self, cookie_consent: str, whole: Callable[[HtmlElement], list[HtmlElement]]) -> None:
        """``whole``: trafilatura's own XPath, for the pages where some class or id matches."""
        self._banner = re.compile(cookie_consent, re.IGNORECASE)  # the flags lxml's EXSLT gives 'i'
        self._words = leading_words(cookie_consent)
        self._whole = whole
        self._without_banners = XPath(_WITHOUT_BANNERS)

    def __call__(self, tree: HtmlElement) -> list[HtmlElement]:
        if self._any_banner(_CLASS_AND_ID_VALUES(tree)):
            return self._whole(tree)
        selected: list[HtmlElement] = self._without_banners(tree)
        return selected

    def _any_banner(self, values: list[str]) -> bool:
        """Whether the pattern matches one of ``values``.

        Trying the pattern, with ignore-case, on each of a page's thousand values took 0.56 ms. Every
        match holds one of the pattern's ``leading_words``, so when the values are ASCII (where
        ignore-case is ``lower()``: no Kelvin sign, long s or dotless i) and none holds one, none
        matches: a few ``find`` calls on the values joined, in C. Else each value is tried.
        """
        if self._words is not None:
            joined = "\n".join(values)
            if joined.isascii():
                lowered = joined.lower()
                if not any(word in lowered for word in self._words):
                    return False
        return any(map(self._banner.search, values))


def leading_words(pattern: str) -> tuple[str, ...] | None:
    """The letters and digits each of ``pattern``'s alternatives starts with, lower-cased (a
    letter a quantifier follows left out): a match of the pattern holds one of them. None when
    an alternative starts otherwise (a group, a class, an anchor), or the pattern has escapes or any
    ``(?`` group but ``(?:`` (a ``(?#…)`` comment may hold brackets and bars that are not).

    Written here, small, because it only needs the top-level alternatives' first characters;
    ``re._parser`` would do it but is private.
    """
    if "\\" in pattern or re.search(r"\(\?[^:]", pattern):  # escapes; comments, flags, lookarounds
        return None
    alternatives, depth, start, class_ends_after = [], 0, 0, -1
    for i, ch in enumerate(pattern):
        if class_ends_after >= 0:  # inside ``[…]``: nothing nests or splits; a first ``]`` is literal
            if ch == "]" and i > class_ends_after:
                class_ends_after = -1
            continue
        if ch == "[":
            class_ends_after = i + 1 + (pattern[i + 1 : i + 2] == "^")
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            alternatives.append(pattern[start:i])
            start = i + 1
    alternatives.append(pattern[start:])
    words = []
    for alternative in alternatives:
        word = re.match(r"[A-Za-z0-9]*", alternative).group()  # type: ignore[union-attr]
        if alternative[len(word) : len(word) + 1] in ("?", "*", "{"):
            word = word[:-1]
        if not word:
            return None
        words.append(word.lower())
    return tuple(words)


@functools.cache
def install() -> bool:
    """Put ``BasicCleanSelection`` in place of trafilatura's XPath (once per process); False, and
    nothing changed, when this trafilatura's expression is not the one it splits."""
    from trafilatura import settings

    # The module, not the function of the same name that ``trafilatura`` exports over it.
    baseline = importlib.import_module("trafilatura.baseline")
    pattern = getattr(settings, "_COOKIE_CONSENT_RE", None)
    current = getattr(baseline, "BASIC_CLEAN_XPATH", None)
    if (
        not isinstance(pattern, str)
        or not isinstance(current, XPath)
        or current.path != expected_expression(pattern)
    ):
        return False
    setattr(baseline, "BASIC_CLEAN_XPATH", BasicCleanSelection(pattern, current))  # noqa: B010 - a module's global
    return True
