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


def assert_misleading(passage: str, source: str, removed: str) -> None:
    """Altered for a misleading elision, the diff showing exactly what the ellipsis removed."""
    al = align(passage, source)
    assert al.status is QuoteStatus.ALTERED
    assert Reason.MISLEADING_ELISION in al.reasons
    assert deleted(al) == [removed]


def assert_harmless(passage: str, source: str, removed: str) -> None:
    """Elided with no reason, the diff showing exactly what the ellipsis removed."""
    al = align(passage, source)
    assert al.status is QuoteStatus.ELIDED
    assert al.reasons == ()
    assert deleted(al) == [removed]


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
        ("Regulators said the firm may have violated the rules on client money for several years.",
         "Regulators said the firm … violated the rules on client money for several years.", "may have"),
        ("Die Polizei sagte, der Verdächtige habe angeblich drei Autos aus dem Autohaus gestohlen.",
         "Die Polizei sagte, der Verdächtige habe … drei Autos aus dem Autohaus gestohlen.", "angeblich"),
        # quantifier
        ("The survey found that few voters in the district supported the new tax on fuel.",
         "The survey found that … voters in the district supported the new tax on fuel.", "few"),
        ("Experts said there is no scientific evidence that the supplement prevents colds in adults.",
         "Experts said … the supplement prevents colds in adults.", "there is no scientific evidence that"),
        # attribution / denial
        ("The senator denied that he had taken money from the lobbyists during the campaign.",
         "The senator … he had taken money from the lobbyists during the campaign.", "denied that"),
    ],
)  # fmt: skip
def test_an_elision_that_changes_the_assertion_is_altered(source: str, passage: str, removed: str) -> None:
    """The removed word reverses or qualifies the kept words: altered, misleading_elision, and the
    diff shows exactly what the ellipsis removed."""
    assert_misleading(passage, source, removed)


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
    assert_harmless(passage, source, removed)


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
    assert_harmless(passage, source, removed)


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


@pytest.mark.parametrize(
    ("source", "passage", "removed"),
    [
        # en: two-word negations and a hedge set off by commas
        ("The minister said the reform will not necessarily be adopted before the end of next year.",
         "The minister said the reform will … be adopted before the end of next year.", "not necessarily"),
        ("The minister said the company no longer supports the reform proposed by the unions.",
         "The minister said the company … supports the reform proposed by the unions.", "no longer"),
        ("Police said the suspect, allegedly, stole three cars from the dealership last week.",
         "Police said the suspect … stole three cars from the dealership last week.", "allegedly"),
        # fr: "peut-être" (two tokens), "sans doute", and both halves of "ne … pas"
        ("Le ministre a dit que la réforme sera peut-être adoptée avant la fin de l'année prochaine.",
         "Le ministre a dit que la réforme sera … adoptée avant la fin de l'année prochaine.", "peut être"),
        ("Le ministre a dit que la réforme sera, sans doute, adoptée avant la fin de l'année prochaine.",
         "Le ministre a dit que la réforme sera … adoptée avant la fin de l'année prochaine.", "sans doute"),
        ("Le ministre a décidé de ne pas signer la réforme proposée par les syndicats cette semaine.",
         "Le ministre a décidé de … signer la réforme proposée par les syndicats cette semaine.", "ne pas"),
        ("Le ministre a dit que le gouvernement ne soutient pas la réforme proposée par les syndicats.",
         "Le ministre a dit que le gouvernement ne soutient … la réforme proposée par les syndicats.", "pas"),
        # de
        ("Der Minister sagte, die Regierung unterstütze die Reform nicht mehr, die die Gewerkschaft will.",
         "Der Minister sagte, die Regierung unterstütze die Reform …, die die Gewerkschaft will.",
         "nicht mehr"),
        ("Der Minister sagte, die Reform werde unter Umständen noch vor Ende des Jahres beschlossen.",
         "Der Minister sagte, die Reform werde … noch vor Ende des Jahres beschlossen.",
         "unter Umständen"),
        # es
        ("El ministro dijo que la reforma tal vez se apruebe antes de que termine el próximo año.",
         "El ministro dijo que la reforma … se apruebe antes de que termine el próximo año.", "tal vez"),
        ("El ministro dijo que la reforma a lo mejor se aprueba antes de que termine el próximo año.",
         "El ministro dijo que la reforma … se aprueba antes de que termine el próximo año.", "a lo mejor"),
        ("El ministro dijo que la empresa ya no apoya la reforma propuesta por los sindicatos.",
         "El ministro dijo que la empresa … apoya la reforma propuesta por los sindicatos.", "ya no"),
        # ru: "может быть" with and without the commas of an aside
        ("Министр сказал, что реформа может быть будет принята до конца следующего года.",
         "Министр сказал, что реформа … будет принята до конца следующего года.", "может быть"),
        ("Министр сказал, что реформа, может быть, будет принята до конца следующего года.",
         "Министр сказал, что реформа … будет принята до конца следующего года.", "может быть"),
        ("Министр сказал, что компания больше не поддерживает реформу, предложенную профсоюзами.",
         "Министр сказал, что компания … поддерживает реформу, предложенную профсоюзами.", "больше не"),
    ],
)  # fmt: skip
def test_a_phrase_that_hedges_or_negates_removed_whole_is_misleading(
    source: str, passage: str, removed: str
) -> None:
    """A hedge or negation of several words ("peut-être", "tal vez", "может быть", "no longer"), or one
    set off by commas, cut whole by an ellipsis: altered, misleading_elision, the phrase in the diff."""
    assert_misleading(passage, source, removed)


@pytest.mark.parametrize(
    ("source", "passage", "removed"),
    [
        # certainty markers and "not only": class words that assert nothing the rest depends on
        ("The minister said the company not only supports the reform but also wants it extended.",
         "The minister said the company … supports the reform but also wants it extended.", "not only"),
        ("Le ministre a dit que la réforme sera sans aucun doute adoptée avant la fin de l'année.",
         "Le ministre a dit que la réforme sera … adoptée avant la fin de l'année.", "sans aucun doute"),
        ("Der Minister sagte, die Reform betreffe nicht nur Berlin, sondern auch Hamburg und München.",
         "Der Minister sagte, die Reform betreffe … Berlin, sondern auch Hamburg und München.", "nicht nur"),
        ("El ministro dijo que la reforma sin duda se aprobará antes de que termine el próximo año.",
         "El ministro dijo que la reforma … se aprobará antes de que termine el próximo año.", "sin duda"),
        ("Министр сказал, что реформа без сомнения будет принята до конца следующего года.",
         "Министр сказал, что реформа … будет принята до конца следующего года.", "без сомнения"),
        # French "ne" removed while its "pas" stays: the kept words still negate
        ("Le ministre a dit que le gouvernement ne soutient pas la réforme proposée par les syndicats.",
         "Le ministre a dit que le gouvernement … soutient pas la réforme proposée par les syndicats.", "ne"),
        # adverbials that change nothing, in each language
        ("Der Minister sagte, die Reform werde am Dienstag noch vor Ende des Jahres beschlossen.",
         "Der Minister sagte, die Reform werde … noch vor Ende des Jahres beschlossen.", "am Dienstag"),
        ("Le ministre a dit mardi soir que la réforme sera adoptée avant la fin de l'année prochaine.",
         "Le ministre a dit … que la réforme sera adoptée avant la fin de l'année prochaine.", "mardi soir"),
        ("El ministro dijo el martes que la reforma se aprobará antes de que termine el próximo año.",
         "El ministro dijo … que la reforma se aprobará antes de que termine el próximo año.", "el martes"),
        ("Министр сказал во вторник, что реформа будет принята до конца следующего года.",
         "Министр сказал … что реформа будет принята до конца следующего года.", "во вторник"),
        # a phrase cut in two is no phrase: "in [case you want to know]"
        ("Also, in case you want to know, the air quality index in Delhi right now is 218 and poor.",
         "Also, in … the air quality index in Delhi right now is 218 and poor.", "case you want to know"),
    ],
)  # fmt: skip
def test_a_phrase_or_adverbial_that_asserts_nothing_stays_elided(
    source: str, passage: str, removed: str
) -> None:
    """Certainty markers, "not only", a French "ne" whose partner is kept, and adverbials of time:
    the kept words assert what the source does. Elided, the removed words in the diff."""
    assert_harmless(passage, source, removed)


@pytest.mark.parametrize(
    ("source", "passage", "removed"),
    [
        ("Los analistas dijeron que la empresa quebrará en un año a menos que la fusión salga adelante.",
         "Los analistas dijeron que la empresa quebrará en un año …", "a menos que la fusión salga adelante"),
        ("Analysten sagten, die Firma werde binnen eines Jahres pleitegehen, es sei denn, die Fusion glückt.",
         "Analysten sagten, die Firma werde binnen eines Jahres pleitegehen …",
         "es sei denn die Fusion glückt"),
    ],
)  # fmt: skip
def test_a_trailing_condition_phrase_dropped_is_misleading(source: str, passage: str, removed: str) -> None:
    """A trailing ellipsis that drops a clause opening on a condition of several words ("es sei
    denn", "a menos que"): altered, the clause shown at the end."""
    al = align(passage, source)
    assert al.status is QuoteStatus.ALTERED
    assert Reason.MISLEADING_ELISION in al.reasons
    assert al.diff[-1].op is DiffOp.DELETE
    assert al.diff[-1].source == removed
