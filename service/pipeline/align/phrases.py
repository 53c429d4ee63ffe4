"""Class words that are phrases, and phrases whose class words carry no force.

The tokens split "peut-être" into "peut" and "être", and "tal vez", "может быть", "sans doute", "no
longer" are two words each: word by word, the elision rule reads a cut of one of them as a modal
and the verb it governs, or a negation and the content word after it, which is a cut made for
length. Read as one unit, the phrase hedges, negates or conditions the kept words, and a cut of it
alone was made to remove it. The other way round, "not only", "sans aucun doute", "nicht nur",
"без сомнения" hold class words but assert nothing the kept words depend on: cutting them is no
misleading elision. Phrases are listed in the comparison form of ``tokens.normalize_word``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from service.pipeline.models import WordClass

__all__ = ["PHRASES", "kept_partner", "phrase_classes"]


def _phrases(kind: WordClass | None, text: str) -> dict[tuple[str, ...], WordClass | None]:
    """``text``'s phrases (separated by ``|``, words by spaces or hyphens), each of class ``kind``."""
    norm = unicodedata.normalize("NFKC", text).casefold().replace("’", "'")
    return {tuple(p.replace("-", " ").split()): kind for p in norm.split("|") if p.strip()}


PHRASES: dict[tuple[str, ...], WordClass | None] = {
    **_phrases(
        WordClass.NEGATION,
        # en
        "no longer|not necessarily|not yet|not always|not quite|not entirely|not at all|by no means"
        "|in no way"
        # fr
        "|pas encore|pas forcément|pas nécessairement|pas du tout|plus jamais|ne plus|nullement"
        # de
        "|nicht mehr|nicht unbedingt|nicht ganz|gar nicht|überhaupt nicht|auf keinen fall"
        # es
        "|ya no|todavía no|aún no|no necesariamente|de ninguna manera|de ningún modo|ni siquiera"
        # ru
        "|больше не|уже не|ещё не|еще не|пока не|вовсе не|совсем не|отнюдь не|ни в коем случае",
    ),
    **_phrases(
        WordClass.HEDGE,
        "so-called|in theory|in all likelihood"
        "|peut-être|sans doute|semble-t-il|paraît-il|il paraît|selon toute vraisemblance|en principe"
        "|unter umständen|mehr oder weniger|es heißt"
        "|tal vez|a lo mejor|al parecer|por lo visto|según parece"
        "|может быть|может статься|скорее всего|по всей видимости|по всей вероятности|вряд ли|по слухам"
        "|судя по всему|как будто|по некоторым данным|как сообщается",
    ),
    **_phrases(
        WordClass.QUANTIFIER,
        "at most|no more than|à peu près|tout au plus|so gut wie|höchstens|a lo sumo|como mucho|не более",
    ),
    **_phrases(
        WordClass.CONDITION,
        "as long as|in case|in the event that"
        "|à moins que|à moins qu'il|à moins qu'elle|à moins qu'ils|à moins qu'on|à condition que"
        "|à condition qu'il|à condition de|au cas où|pour peu que"
        "|es sei denn|vorausgesetzt dass|im falle|im fall"
        "|a menos que|a no ser que|siempre que|siempre y cuando|con tal de que|con tal que|en caso de que"
        "|en caso de"
        "|при условии|в случае если|в случае",
    ),
    # Class words that assert nothing the rest depends on: "not only X but Y", certainty markers.
    **_phrases(
        None,
        "not only|not least|no doubt|without doubt|without a doubt|none other than|no matter|none the less"
        "|non seulement|pas seulement|sans aucun doute|sans nul doute|nul doute"
        "|nicht nur|nicht zuletzt|ohne zweifel|ohne jeden zweifel"
        "|no solo|no sólo|sin duda|sin duda alguna|no obstante"
        "|не только|без сомнения|без всякого сомнения|тем не менее",
    ),
}
_BY_FIRST: dict[str, list[tuple[tuple[str, ...], WordClass | None]]] = {}
for _words, _kind in sorted(PHRASES.items(), key=lambda item: -len(item[0])):
    _BY_FIRST.setdefault(_words[0], []).append((_words, _kind))

# French "ne" is half of a negation: its partner after the verb negates on its own.
_NE = "ne"
_PARTNERS = frozenset(
    {"pas", "jamais", "plus", "rien", "personne", "aucun", "aucune", "guère", "point", "nullement", "ni"}
)
_PARTNER_REACH = 4  # "ne [l'a] [jamais] dit": the partner stands within a few words of "ne"


def phrase_classes(norms: Sequence[str], lo: int, hi: int) -> dict[int, WordClass | None]:
    """The words of ``norms[lo:hi]`` that belong to a listed phrase lying wholly inside it, each
    with the phrase's class (None: the phrase asserts nothing). A phrase cut in two ("in [case you
    want to know]") is no phrase: its removed words count as words. The longest phrase starting at
    a word wins, and phrases do not overlap."""
    out: dict[int, WordClass | None] = {}
    t = lo
    while t < hi:
        match = next(
            (
                (words, kind)
                for words, kind in _BY_FIRST.get(norms[t], ())
                if t + len(words) <= hi and tuple(norms[t : t + len(words)]) == words
            ),
            None,
        )
        if match is None:
            t += 1
            continue
        for u in range(t, t + len(match[0])):
            out[u] = match[1]
        t += len(match[0])
    return out


def kept_partner(norms: Sequence[str], breaks: Sequence[bool], t: int, kept_from: int) -> bool:
    """Whether word ``t`` is a French "ne" whose partner ("pas", "jamais", "rien"…) the passage
    keeps, within a few words from ``kept_from`` and in the same sentence: the kept words still
    negate ("il … viendra pas"), so removing "ne" reverses nothing."""
    if norms[t] != _NE:
        return False
    for u in range(kept_from, min(len(norms), kept_from + _PARTNER_REACH)):
        if norms[u] in _PARTNERS:
            return True
        if breaks[u]:
            break
    return False
