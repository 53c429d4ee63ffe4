"""Words that carry the force of a sentence: the classes an elision must not remove.

Dropping "not" from "did not intend", "if" from "we win if it holds", "allegedly" from "allegedly
took", "few" from "few voters agreed" or "denied" from "he denied that he took it" leaves words that
assert something the source does not. Each class is listed in English, German, French, Spanish and
Russian (plus the commonest Italian and Portuguese negations), in the comparison form of
``tokens.normalize_word`` (NFKC, casefolded, one apostrophe). A word belongs to the first class
that lists it.
"""

from __future__ import annotations

from service.pipeline.models import WordClass

__all__ = [
    "COMPLEMENTISERS",
    "CONJUNCTIONS",
    "DANGLING",
    "GLUE",
    "INTRODUCERS",
    "WORD_CLASSES",
    "is_negation",
    "word_class",
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


NEGATION = _words(
    # en
    "not no never without none nor neither nobody nothing nowhere cannot"
    # de
    " nicht kein keine keinen keinem keiner keines nie niemals nichts niemand ohne weder nirgends"
    # fr
    " ne pas jamais aucun aucune rien sans ni nullement"
    # es
    " nunca jamás ningún ninguno ninguna nada nadie sin tampoco"
    # ru
    " не нет ни никогда ничего никто нигде без ничто нельзя"
    # it, pt
    " non senza mai não sem nenhum nenhuma"
)
CONDITION = _words(
    "if unless provided providing assuming whether otherwise"
    " wenn falls sofern ob solange"
    " si s'il s'ils sauf pourvu"
    " salvo excepto"
    " если ли бы условии иначе"
)
HEDGE = _words(
    "may might could would should allegedly alleged reportedly reported possibly perhaps probably"
    " likely unlikely apparently seemingly supposedly suspected purportedly maybe potentially"
    " appears seems unconfirmed unproven"
    " angeblich vermutlich möglicherweise vielleicht wahrscheinlich offenbar könnte könnten dürfte"
    " würde würden soll sollen mutmaßlich mutmaßliche anscheinend eventuell"
    " peut pourrait pourraient serait seraient aurait auraient probablement présumé présumée"
    " prétendument apparemment éventuellement supposé supposée"
    " quizá quizás posiblemente probablemente presuntamente supuestamente aparentemente podría"
    " podrían sería habría presunto presunta"
    " возможно вероятно якобы предположительно видимо наверное может мог могла могли кажется"
)
QUANTIFIER = _words(
    "few little hardly barely scarcely rarely seldom only almost nearly"
    " wenige wenig kaum nur fast beinahe selten"
    " peu guère seulement presque rarement"
    " pocos pocas poco apenas solo sólo casi"
    " мало немного немногие едва только лишь почти редко"
)
ATTRIBUTION = _words(
    "denied denies deny denying rejected refuted disputed dismissed claimed claims alleges"
    " falsely false rumor rumors rumour rumours myth accused"
    " bestritt bestreitet bestreiten dementierte dementiert leugnete leugnet behauptete behauptet"
    " behaupten gerücht falsch"
    " nié niée dément démenti conteste contesté prétend prétendu rumeur"
    " negó niega negaron desmintió desmiente rechazó alegó rumor falso falsa"
    " отрицал отрицала отрицает отрицали опроверг опровергла опровергает утверждал утверждает"
    " слухи ложь ложно"
)

# Words that only carry a class word's grammar: articles, pronouns, auxiliaries, complementisers,
# conjunctions, intensifiers, and the nouns of "no evidence that". A gap of class words and glue
# alone ("did [not] intend", "[there is no evidence that]", "[allegedly]") was cut to remove the
# class word; a gap that also takes content words ("[her client did not] intend") was cut for length.
GLUE = _words(
    # en
    "a an the this that these those there here it its it's that's there's is are was were be been"
    " being am do does did have has had i i'm you you're he he's she she's we we're they they're me"
    " him her us them my your his our their to of by for as so even just really actually still also"
    " then and or but absolutely simply certainly definitely quite very evidence proof sign signs"
    " indication indications"
    # de
    " der die das den dem des ein eine einen einem einer es ist sind war waren sei habe hat haben"
    " hatte wird werden wurde er sie wir ihr ich du man dass daß zu und oder aber auch noch schon doch"
    " sehr beweis beweise hinweis hinweise"
    # fr
    " le la les un une des du de ce il elle ils elles on nous vous je est sont était a ai ont avait"
    " être que qu' y en et ou mais aussi très vraiment preuve preuves"
    # es
    " el los las unos unas lo del que es son era fue ha han había se le les él ella ellos nosotros yo"
    " y o pero también muy prueba pruebas"
    # ru
    " и а но что это он она они мы я вы был была было были есть бы же уже очень также тоже"
    " доказательств доказательства"
)

# Words that introduce a clause: a cut that ends on one ("[he denied that] …") hands over to the kept words.
COMPLEMENTISERS = _words("that whether dass ob que qu' что чтобы")
# What may follow the class word inside a cut made to remove it: what introduces the kept words.
INTRODUCERS = COMPLEMENTISERS | _words(
    "evidence proof sign signs indication indications of to beweis beweise hinweis hinweise zu"
    " preuve preuves de prueba pruebas доказательств доказательства"
)
# Words a cut opens on before a condition: "[and only if] …", "[, but if] …".
CONJUNCTIONS = _words("and or but only even just und oder aber nur et ou mais seulement y o pero solo и а но")
# Words no cut made to remove an attribution ends on: the kept words would lack their article or verb.
DANGLING = _words(
    "a an the is are was were be been have has had do does did"
    " der die das ein eine le la les un une el los las"
)

WORD_CLASSES: tuple[tuple[WordClass, frozenset[str]], ...] = (
    (WordClass.NEGATION, NEGATION),
    (WordClass.CONDITION, CONDITION),
    (WordClass.HEDGE, HEDGE),
    (WordClass.QUANTIFIER, QUANTIFIER),
    (WordClass.ATTRIBUTION, ATTRIBUTION),
)


def is_negation(norm: str) -> bool:
    """Whether a normalised word negates: "not", "don't", "nicht", "n'a", "не", ..."""
    return norm in NEGATION or norm.endswith("n't") or (norm.startswith("n'") and len(norm) > 2)


def word_class(norm: str) -> WordClass | None:
    """The class of a normalised word whose removal can reverse or qualify a sentence, or None."""
    if is_negation(norm):
        return WordClass.NEGATION
    for kind, words in WORD_CLASSES[1:]:
        if norm in words:
            return kind
    return None
