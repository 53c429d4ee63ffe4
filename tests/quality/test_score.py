"""The in-repo scoring rule on hand-made cases (runs everywhere, unlike the agreement tests)."""

from __future__ import annotations

from tests.quality._score import Planted, judge, summarize


def _quote(text: str, status: str, *, flagged: bool, span: list[int] | None = None) -> dict[str, object]:
    return {"text": text, "status": status, "flagged": flagged, **({"post_span": span} if span else {})}


def test_quotes_match_passages_by_words_and_labels_decide_what_is_right() -> None:
    """A quote goes to the passage sharing most of its words; an ok passage flagged is wrong, an
    altered one flagged as altered is right, a commentary with no quote is right, a missed change is not."""
    planted = [
        Planted("The minister said the plan would cost 40 million.", "ok"),
        Planted("Rates rose sharply in March.", "altered"),
        Planted("I think this is all nonsense.", "commentary"),
        Planted("Nobody saw the ship leave.", "not_found"),
    ]
    quotes = [
        _quote("the minister said the plan would cost 40 million", "altered", flagged=True),
        _quote("Rates rose sharply in March", "altered", flagged=True),
        _quote("Unrelated words entirely", "not_found", flagged=True),
    ]
    rows = judge(planted, quotes)
    assert [(r.found, r.flagged, r.right) for r in rows] == [
        (True, True, False),
        (True, True, True),
        (False, False, True),
        (False, False, False),
    ]
    score = summarize(rows)
    assert (score.recall, score.false_flag, score.accuracy) == (0.5, 0.5, 0.5)


def test_spans_keep_two_copies_of_a_sentence_apart() -> None:
    """With spans on every passage, a quote goes to the passage its post span overlaps, not to the
    first passage with the same words; without spans, both copies would go to the first."""
    same = "Exports fell by a third last year."
    planted = [Planted(same, "ok", (0, 34)), Planted(same, "misattributed", (40, 74))]
    quotes = [
        _quote(same, "verbatim", flagged=False, span=[0, 34]),
        _quote(same, "misattributed", flagged=True, span=[40, 74]),
    ]
    assert [r.right for r in judge(planted, quotes)] == [True, True]
    unspanned = [Planted(p.text, p.label) for p in planted]
    assert [r.right for r in judge(unspanned, quotes)] == [False, False]
