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
        self._whole = whole
        self._without_banners = XPath(_WITHOUT_BANNERS)

    def __call__(self, tree: HtmlElement) -> list[HtmlElement]:
        if any(map(self._banner.search, _CLASS_AND_ID_VALUES(tree))):
            return self._whole(tree)
        selected: list[HtmlElement] = self._without_banners(tree)
        return selected


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
