"""The word classes an elision must not remove, in German, French, Spanish and Russian: inflected
hedges and negations, and words written with ß, are found in the comparison form of a word; an
ellipsis that removes one of them from a kept clause makes the passage altered."""

from __future__ import annotations

import pytest

from service.pipeline.align.aligner import align_quote, index_text
from service.pipeline.align.lexicon import word_class
from service.pipeline.align.tokens import normalize_word
from service.pipeline.models import QuoteStatus, Reason, WordClass
from service.settings import AlignSettings

SETTINGS = AlignSettings()


@pytest.mark.parametrize(
    ("word", "kind"),
    [
        ("mutmaßlich", WordClass.HEDGE), ("Mutmaßliche", WordClass.HEDGE),
        ("vermeintlichen", WordClass.HEDGE), ("angeblichen", WordClass.HEDGE), ("möglicher", WordClass.HEDGE),
        ("womöglich", WordClass.HEDGE),
        ("scheint", WordClass.HEDGE), ("keinerlei", WordClass.NEGATION), ("niemanden", WordClass.NEGATION),
        ("présumés", WordClass.HEDGE), ("éventuelles", WordClass.HEDGE), ("semble", WordClass.HEDGE),
        ("presuntos", WordClass.HEDGE), ("supuestas", WordClass.HEDGE), ("parece", WordClass.HEDGE),
        ("могут", WordClass.HEDGE), ("предполагаемого", WordClass.HEDGE), ("будто", WordClass.HEDGE),
        ("никого", WordClass.NEGATION), ("никаких", WordClass.NEGATION),
        ("dass", None), ("Verband", None), ("coupable", None), ("delitos", None), ("преступник", None),
    ],
)  # fmt: skip
def test_inflected_class_words_are_known(word: str, kind: WordClass | None) -> None:
    """Inflected forms and ß spellings belong to their class in the comparison form of the word."""
    assert word_class(normalize_word(word)) is kind


@pytest.mark.parametrize(
    ("source", "passage"),
    [
        ("Hier soll der vermeintliche Verband residieren, der nur auf Facebook zu finden ist.",
         "Hier soll der … Verband residieren, der nur auf Facebook zu finden ist."),
        ("Der mutmaßliche Täter wurde am Montag in Berlin von der Polizei festgenommen.",
         "Der … Täter wurde am Montag in Berlin von der Polizei festgenommen."),
        ("Die Polizei hat bislang niemanden festgenommen, teilte ein Sprecher am Abend mit.",
         "Die Polizei hat bislang … festgenommen, teilte ein Sprecher am Abend mit."),
        ("Les présumés coupables ont été arrêtés lundi à Paris après une longue enquête.",
         "Les … coupables ont été arrêtés lundi à Paris après une longue enquête."),
        ("Le ministre semble avoir menti aux députés sur le coût réel de la réforme.",
         "Le ministre … avoir menti aux députés sur le coût réel de la réforme."),
        ("Los presuntos autores del robo fueron detenidos ayer en Palma por la policía.",
         "Los … autores del robo fueron detenidos ayer en Palma por la policía."),
        ("Полиция задержала предполагаемого преступника в понедельник в Москве.",
         "Полиция задержала … преступника в понедельник в Москве."),
        ("Эти продукты могут вызвать аллергию у детей младшего возраста.",
         "Эти продукты … вызвать аллергию у детей младшего возраста."),
    ],
)  # fmt: skip
def test_eliding_an_inflected_hedge_or_negation_is_misleading(source: str, passage: str) -> None:
    """An ellipsis that removes exactly an inflected hedge or negation is altered, misleading_elision."""
    al = align_quote(passage, index_text(source), explicit=True, settings=SETTINGS)
    assert al.status is QuoteStatus.ALTERED
    assert Reason.MISLEADING_ELISION in al.reasons
