"""Misleading elision: an ellipsis that removes a negation, a condition, a hedge, a quantifier or an
attribution from a kept sentence makes the passage altered; other elisions stay elided, and every
elided passage's diff shows what each gap removed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.pipeline.align.aligner import align_quote, index_text
from service.pipeline.align.diff import Gap
from service.pipeline.align.elision import SHOWN_WORDS, gap_words
from service.pipeline.align.lexicon import word_class
from service.pipeline.align.tokens import normalize_word, tokenize
from service.pipeline.models import Alignment, DiffOp, QuoteStatus, Reason, WordClass
from service.settings import AlignSettings

SETTINGS = AlignSettings()
FILLER = (
    "The hearing lasted most of the afternoon and the courtroom was full of reporters. "
    "Several witnesses were called by both sides over the course of the day. "
)


def align(passage: str, source: str) -> Alignment:
    return align_quote(passage, index_text(FILLER + source + " " + FILLER), explicit=True, settings=SETTINGS)


def deleted(al: Alignment) -> list[str]:
    return [d.source for d in al.diff if d.op is DiffOp.DELETE]


@pytest.mark.parametrize(
    ("source", "passage", "removed"),
    [
        # negation, in each language
        ("Her lawyer said her client did not intend to cause any harm to anyone.",
         "Her lawyer said her client did … intend to cause any harm to anyone.", "not"),
        ("Der Anwalt sagte, seine Mandantin habe nicht die Absicht gehabt, jemandem zu schaden.",
         "Der Anwalt sagte, seine Mandantin habe … die Absicht gehabt, jemandem zu schaden.", "nicht"),
        ("L'avocat a déclaré que sa cliente ne voulait pas causer de tort à qui que ce soit.",
         "L'avocat a déclaré que sa cliente ne voulait … causer de tort à qui que ce soit.", "pas"),
        ("El abogado dijo que su clienta no tenía intención de causar daño a nadie en absoluto.",
         "El abogado dijo que su clienta … tenía intención de causar daño a nadie en absoluto.", "no"),
        ("Адвокат заявил, что его клиентка не собиралась причинять никому вреда в тот вечер.",
         "Адвокат заявил, что его клиентка … собиралась причинять никому вреда в тот вечер.", "не"),
        # condition
        ("The mayor said the new bridge will open in May if the federal money arrives on time.",
         "The mayor said the new bridge will open in May … on time.", "if the federal money arrives"),
        ("Der Bürgermeister sagte, die Brücke werde im Mai eröffnet, falls das Geld rechtzeitig kommt.",
         "Der Bürgermeister sagte, die Brücke werde im Mai eröffnet, … rechtzeitig kommt.", "falls das Geld"),
        # hedge
        ("Police said the suspect allegedly stole three cars from the dealership last week.",
         "Police said the suspect … stole three cars from the dealership last week.", "allegedly"),
        ("Die Polizei sagte, der Verdächtige habe angeblich drei Autos aus dem Autohaus gestohlen.",
         "Die Polizei sagte, der Verdächtige habe … drei Autos aus dem Autohaus gestohlen.", "angeblich"),
        # quantifier
        ("The survey found that few voters in the district supported the new tax on fuel.",
         "The survey found that … voters in the district supported the new tax on fuel.", "few"),
        # attribution / denial
        ("The senator denied that he had taken money from the lobbyists during the campaign.",
         "The senator … he had taken money from the lobbyists during the campaign.", "denied that"),
    ],
)  # fmt: skip
def test_an_elision_that_changes_the_assertion_is_altered(source: str, passage: str, removed: str) -> None:
    """The removed word reverses or qualifies the kept words: altered, misleading_elision, and the
    diff shows exactly what the ellipsis removed."""
    al = align(passage, source)
    assert al.status is QuoteStatus.ALTERED
    assert Reason.MISLEADING_ELISION in al.reasons
    assert deleted(al) == [removed]


@pytest.mark.parametrize(
    ("source", "passage", "removed"),
    [
        ("The minister said on Tuesday in a long speech that the plan will go ahead next spring.",
         "The minister said … that the plan will go ahead next spring.", "on Tuesday in a long speech"),
        # a whole sentence with a negation, dropped between two kept sentences
        ("The plan was approved. Critics said it would not work at all. Work starts in March next year.",
         "The plan was approved. … Work starts in March next year.", "Critics said it would not work at all"),
        # a negation inside a clause the ellipsis removed whole
        ("The bridge, which was not cheap to build, opens to traffic in May after years of delays.",
         "The bridge … opens to traffic in May after years of delays.", "which was not cheap to build"),
    ],
)  # fmt: skip
def test_a_harmless_elision_stays_elided_and_shows_its_gap(source: str, passage: str, removed: str) -> None:
    """Words that do not govern the kept ones may be elided: elided, no reasons, the gap in the diff."""
    al = align(passage, source)
    assert al.status is QuoteStatus.ELIDED
    assert al.reasons == ()
    assert deleted(al) == [removed]


def test_every_gap_is_reported_in_place() -> None:
    """Two ellipses: two delete parts, each between the kept words it separates."""
    source = "One two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen."
    al = align("One two three … six seven eight … twelve thirteen fourteen fifteen.", source)
    assert al.status is QuoteStatus.ELIDED
    assert [(d.op, d.post, d.source) for d in al.diff] == [
        (DiffOp.EQUAL, "One two three", "One two three"),
        (DiffOp.DELETE, "", "four five"),
        (DiffOp.EQUAL, "six seven eight", "six seven eight"),
        (DiffOp.DELETE, "", "nine ten eleven"),
        (DiffOp.EQUAL, "twelve thirteen fourteen fifteen", "twelve thirteen fourteen fifteen"),
    ]


def test_a_long_gap_is_shown_by_its_ends() -> None:
    """A gap of many words shows its first and last words around an ellipsis sign."""
    tokens = tokenize(" ".join(f"w{n}" for n in range(100)))
    shown = gap_words(tokens, Gap(0, 5, 95)).split()
    assert shown == [f"w{n}" for n in range(5, 5 + SHOWN_WORDS)] + ["…"] + [
        f"w{n}" for n in range(95 - SHOWN_WORDS, 95)
    ]


@pytest.mark.parametrize(
    ("word", "kind"),
    [
        ("not", WordClass.NEGATION), ("don't", WordClass.NEGATION), ("nicht", WordClass.NEGATION),
        ("n'a", WordClass.NEGATION), ("nunca", WordClass.NEGATION), ("никогда", WordClass.NEGATION),
        ("unless", WordClass.CONDITION), ("wenn", WordClass.CONDITION), ("если", WordClass.CONDITION),
        ("si", WordClass.CONDITION), ("reportedly", WordClass.HEDGE), ("vermutlich", WordClass.HEDGE),
        ("prétendument", WordClass.HEDGE), ("presuntamente", WordClass.HEDGE), ("якобы", WordClass.HEDGE),
        ("few", WordClass.QUANTIFIER), ("kaum", WordClass.QUANTIFIER), ("только", WordClass.QUANTIFIER),
        ("denied", WordClass.ATTRIBUTION), ("dementierte", WordClass.ATTRIBUTION),
        ("negó", WordClass.ATTRIBUTION), ("Tuesday", None), ("house", None),
    ],
)  # fmt: skip
def test_word_classes(word: str, kind: WordClass | None) -> None:
    """Each class is known in every listed language, in the comparison form of a word."""
    assert word_class(normalize_word(word)) is kind


_PLAIN = st.lists(st.sampled_from(["alpha", "beta", "gamma", "delta", "omega"]), min_size=1, max_size=6)


@settings(max_examples=40, deadline=None)
@given(removed=_PLAIN)
def test_removing_plain_words_is_never_misleading(removed: list[str]) -> None:
    """Whatever class-free words an ellipsis removes, the passage stays elided."""
    head = "The committee published its final report on the state of the city harbour"
    tail = "and the council will debate it at the next public meeting in the spring."
    al = align(f"{head} … {tail}", f"{head} {' '.join(removed)} {tail}")
    assert al.status is QuoteStatus.ELIDED
    assert deleted(al) == [" ".join(removed)]


@settings(max_examples=40, deadline=None)
@given(word=st.sampled_from(["not", "never", "nicht", "allegedly", "unless", "few", "denied", "не"]))
def test_removing_a_class_word_inside_the_clause_is_always_misleading(word: str) -> None:
    """Whatever class word an ellipsis removes from inside a kept clause, the passage is altered."""
    head = "The committee said the company had"
    tail = "paid the fine that the city harbour authority imposed on it last year."
    al = align(f"{head} … {tail}", f"{head} {word} {tail}")
    assert al.status is QuoteStatus.ALTERED
    assert Reason.MISLEADING_ELISION in al.reasons


@pytest.mark.parametrize(
    ("source", "passage", "removed"),
    [
        # the cut also took content words: the quoter shortened the sentence
        ("They issued a statement that her client did not intend to cause harm to anyone at the rally.",
         "They issued a statement that … intend to cause harm to anyone at the rally.", "her client did not"),
        # the cut took the verb the class word governs: the kept words assert nothing reversed
        ("The group said the real death toll may be much higher with some victims still missing.",
         "The group said the real death toll … much higher with some victims still missing.", "may be"),
        ("In fact, we do not have the right to keep her from performing live anywhere in the state.",
         "In fact, we … the right to keep her from performing live anywhere in the state.", "do not have"),
        # "May" inside a sentence is the month
        ("The company showed the design as recently as May of this year when it met its investors.",
         "The company showed the design as recently as … this year when it met its investors.", "May of"),
        # a condition inside the cut, not where it opens
        ("But she was very surprised when I asked her if her sister and niece were suppressing his work.",
         "But she was very surprised when I asked … and niece were suppressing his work.",
         "her if her sister"),
    ],
)  # fmt: skip
def test_a_cut_that_shortens_the_sentence_stays_elided(source: str, passage: str, removed: str) -> None:
    """A class word removed with the content around it was not the point of the cut: elided."""
    al = align(passage, source)
    assert al.status is QuoteStatus.ELIDED
    assert al.reasons == ()
    assert deleted(al) == [removed]


@pytest.mark.parametrize(
    ("source", "passage", "removed", "where"),
    [
        ("There is no evidence that the new vaccine causes autism in children of any age group.",
         "… the new vaccine causes autism in children of any age group.", "There is no evidence that", 0),
        ("If the deal fails, the company will go bankrupt within a year and thousands will lose their jobs.",
         "… the company will go bankrupt within a year and thousands will lose their jobs.",
         "If the deal fails", 0),
        ("The senator denied that he had taken money from the lobbyists during the long campaign.",
         "… he had taken money from the lobbyists during the long campaign.", "The senator denied that", 0),
        ("Analysts said the company will go bankrupt within a year unless the merger goes through.",
         "Analysts said the company will go bankrupt within a year …", "unless the merger goes through", -1),
    ],
)  # fmt: skip
def test_an_ellipsis_at_an_edge_that_drops_what_governs_the_rest(
    source: str, passage: str, removed: str, where: int
) -> None:
    """A leading ellipsis that drops "there is no evidence that" / "if …," / "X denied that", or a trailing
    one that drops an "unless …" clause, reverses what the kept words say: altered, and the diff shows
    the dropped words at that edge."""
    al = align(passage, source)
    assert al.status is QuoteStatus.ALTERED
    assert Reason.MISLEADING_ELISION in al.reasons
    assert al.diff[where].op is DiffOp.DELETE
    assert al.diff[where].source == removed


@pytest.mark.parametrize(
    ("source", "passage"),
    [
        ("The minister said on Tuesday that the plan will go ahead next spring in every region.",
         "… the plan will go ahead next spring in every region."),
        ("The plan will go ahead next spring in every region of the country, the minister said.",
         "The plan will go ahead next spring in every region of the country …"),
    ],
)  # fmt: skip
def test_a_harmless_edge_ellipsis_stays_elided(source: str, passage: str) -> None:
    """Dropping an attribution-free head or a tail that is no condition changes nothing: the words
    kept are the source's, as they stand (an ellipsis at an edge is no change)."""
    al = align(passage, source)
    assert al.status is QuoteStatus.VERBATIM
    assert al.reasons == ()


_CLASS = st.sampled_from(["not", "never", "allegedly", "may", "few", "probably", "nicht", "jamais"])
_GLUE_BEFORE = st.lists(st.sampled_from(["there", "is", "he", "did", "it", "the"]), max_size=2)


@settings(max_examples=40, deadline=None)
@given(before=_GLUE_BEFORE, word=_CLASS, after=_PLAIN)
def test_a_class_word_cut_with_content_after_it_stays_elided(
    before: list[str], word: str, after: list[str]
) -> None:
    """Whatever glue precedes it, a class word cut together with the content words after it (the
    words it governed) leaves nothing reversed: elided."""
    head = "The committee published its final report on the state of the city harbour"
    tail = "and the council will debate it at the next public meeting in the spring."
    removed = " ".join([*before, word, *after])
    al = align(f"{head} … {tail}", f"{head} {removed} {tail}")
    assert al.status is QuoteStatus.ELIDED
    assert deleted(al) == [removed]


@settings(max_examples=40, deadline=None)
@given(before=_GLUE_BEFORE, word=_CLASS)
def test_a_cut_of_glue_ending_on_a_class_word_is_misleading(before: list[str], word: str) -> None:
    """A cut of glue words ending on the class word, right before the words it governs, was made to
    remove it: altered, misleading_elision."""
    head = "Officials said that the water in the city harbour"
    tail = "safe for swimming during the whole of the summer season this year."
    removed = " ".join([*before, word])
    al = align(f"{head} … {tail}", f"{head} {removed} {tail}")
    assert al.status is QuoteStatus.ALTERED
    assert Reason.MISLEADING_ELISION in al.reasons
    assert deleted(al) == [removed]
