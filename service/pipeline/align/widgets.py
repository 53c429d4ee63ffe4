"""Page widgets that stand inside a sentence: "READ MORE: …", "Advertisement", "Lesen Sie auch".

News pages put links to other stories, ad slots and share buttons inside a paragraph, sometimes in
the middle of a sentence. A reader skips them, and so does a quoter: a copy of the sentence without
the widget is faithful, not spliced. Extraction drops most widgets by their markup; those left in
the text are known by the label they open on.
"""

from __future__ import annotations

import re

from service.pipeline.align.tokens import Tokens

__all__ = ["WIDGET_WORDS", "is_widget", "opens_on_label"]

WIDGET_WORDS = 30  # a longer skipped run is text, whatever it opens on
# Labels no sentence opens on: a run that starts with one is a widget, whatever its case.
_STRONG = re.compile(
    r"[\W_]*(?:"
    r"read (?:more|also|next)|also read|see also|advertisement|sponsored|story continues"
    r"|continue reading|click here|tweet this|share this"  # en
    r"|lesen sie (?:auch|mehr)|mehr zum thema|auch interessant|anzeige|werbung"  # de
    r"|(?:à )?lire aussi|voir aussi|publicité|sur le même sujet"  # fr
    r"|leer más|lea también|te puede interesar|publicidad"  # es
    r"|читайте также|реклама"  # ru
    r")\b",
    re.IGNORECASE,
)
# Labels that are also ordinary words ("related to", "more than"): a widget only in capitals or
# before a colon, a bar or an arrow ("RELATED", "More: …", "Watch | …").
_WEAK = re.compile(
    r"[\W_]*(related|more|recommended|trending|watch|listen|subscribe|sign up|follow us)\b", re.IGNORECASE
)
_LABEL_END = re.compile(r"\s*[:|»›>–—]")


def opens_on_label(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` opens on a widget's label."""
    if _STRONG.match(text, start, end):
        return True
    weak = _WEAK.match(text, start, end)
    if weak is None:
        return False
    return weak.group(1).isupper() or _LABEL_END.match(text, weak.end(), end) is not None


def is_widget(text: str, src: Tokens, s0: int, s1: int) -> bool:
    """Whether text words ``[s0, s1)``, left out by a copy, are a widget of the page inside a
    sentence: a short run opening on a label, after a word that ends no sentence. (Between two
    sentences a skipped run is a splice whatever it is: the copy joined what the page kept apart.)"""
    if not 0 < s1 - s0 <= WIDGET_WORDS or s0 == 0 or src.brk[s0 - 1]:
        return False
    return opens_on_label(text, src.starts[s0], src.ends[s1 - 1])
