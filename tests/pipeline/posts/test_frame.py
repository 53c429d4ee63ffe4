"""Tests for service.pipeline.posts.frame: the poster's frame cut from a paragraph's edges."""

from __future__ import annotations

import pytest

from service.pipeline.posts.citing import find_markers
from service.pipeline.posts.frame import attribution_tail, frame_edges, marker_segments

URL = "https://a.example/story"
FIGURE_TAIL = "It includes a single game as of today — Destiny 2"
IN_QUOTE = '"It is a place where the two other candidates in the race — Sens."'
LONG_TAIL = "The harbour reopened. — and the ferries ran again at full speed"


def _kept(text: str, *, marks: tuple[int, ...] = ()) -> str:
    start, end = frame_edges(
        text, 0, len(text), marks=marks, markers=find_markers(text, 0, len(text), {1, 2})
    )
    return text[start:end]


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("1/ The harbour reopened.", "The harbour reopened."),
        ("🧵 The harbour reopened.", "The harbour reopened."),
        ("The harbour reopened. (2/5)", "The harbour reopened."),
        ("The harbour reopened. — BBC", "The harbour reopened."),
        ('"The harbour reopened." -- Port Authority of Dover', '"The harbour reopened."'),
        ("The harbour reopened. — [Reuters](https://r.example/x)", "The harbour reopened."),
        ("The harbour reopened [1].", "The harbour reopened"),
        ("The harbour reopened — after three days", "The harbour reopened — after three days"),
        (LONG_TAIL, LONG_TAIL),
        ("Dr. A.B. - the harbour master", "Dr. A.B. - the harbour master"),
        ("The split was 50/50", "The split was 50/50"),
        ("Comes with a cable and card — Bgr", "Comes with a cable and card"),
        (FIGURE_TAIL, FIGURE_TAIL),
        (IN_QUOTE, IN_QUOTE),
        ("It includes a single game. — Destiny 2", "It includes a single game."),
        ('"The harbour reopened." (via BBC News)', '"The harbour reopened."'),
        ("The harbour reopened. [Reuters]", "The harbour reopened."),
        ("The harbour reopened (for now).", "The harbour reopened (for now)."),
        ("The harbour reopened on Monday (AP)", "The harbour reopened on Monday (AP)"),
        ("An attempt to discredit her U.S. — via The Republic", "An attempt to discredit her U.S."),
        ("Take C.A.R.E. - comwrap auf der DMEXCO 2018", "Take C.A.R.E. - comwrap auf der DMEXCO 2018"),
    ],
)  # fmt: skip
def test_edges(text: str, kept: str) -> None:
    """Counters, dash-led tails (a few words after a sentence's end, or a name after any words)
    and markers go; a dash inside the text, a long tail, an abbreviation's point before lower-case
    words and a fraction stay."""
    assert _kept(text) == kept


def test_citing_urls_at_the_edges_go_and_named_sites_stay() -> None:
    """A citing URL at either edge is cut; a site the copied words name (no citation) is kept."""
    text = f'Wow. "The harbour reopened." {URL}'
    assert _kept(text, marks=(text.index(URL),)) == 'Wow. "The harbour reopened."'
    head = f"{URL} : The harbour reopened."
    assert _kept(head, marks=(0,)) == "The harbour reopened."
    named = "For more information, please visit www.port.example."
    assert _kept(named) == named


def test_marker_segments() -> None:
    """A paragraph is cut after each run of markers and the punctuation that follows it."""
    text = 'First fact [1]. Second "fact" here [2][1]." Tail words'
    pieces = marker_segments(text, 0, len(text), find_markers(text, 0, len(text), {1, 2}))
    assert [(text[a:b], n) for a, b, n in pieces] == [
        ("First fact [1].", (1,)),
        (' Second "fact" here [2][1]."', (2, 1)),
        (" Tail words", ()),
    ]


@pytest.mark.parametrize(
    ("tail", "words"),
    [
        (",” the minister said on Tuesday.", ("the", "minister", "said", "on", "tuesday")),
        ('," she told reporters', ("she", "told", "reporters")),
        ("» a déclaré le ministre.", ("a", "déclaré", "le", "ministre")),
        ("“, sagte der Minister am Dienstag.", ("sagte", "der", "minister", "am", "dienstag")),
        ("», dijo el ministro.", ("dijo", "el", "ministro")),
        ("», заявил министр.", ("заявил", "министр")),
        ("” — the minister said", ("the", "minister", "said")),
        (",” the minister said on Tuesday, adding that the port would stay shut.", None),
        (",” the minister said. Then he left the room.", None),
        ("” and everybody in town knew that it was a lie.", None),
        (",” the minister said to the crowd that gathered outside the town hall that night.", None),
        ("", None),
    ],
)
def test_attribution_tail(tail: str, words: tuple[str, ...] | None) -> None:
    """What follows a paragraph's only quotation is its attribution alone when it is a few words
    with a verb of saying and no clause of its own."""
    assert attribution_tail(tail) == words
