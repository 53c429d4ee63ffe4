"""Markdown inline syntax undone (service/pipeline/posts/markdown.py): what a reader of the
rendered post sees."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.pipeline.posts.markdown import render_markdown

URL = "https://news.example/story"


@pytest.mark.parametrize(
    ("text", "expected"),
    [(f"Read [the report]({URL}) today.", "Read the report today."),
     (f"Read [the report]({URL} \"A title\") today.", "Read the report today."),
     ("See [Foo](https://en.wikipedia.org/wiki/Foo_(bar)) here.", "See Foo here."),
     (f"An image ![a harbour]({URL}/pic.jpg) here.", "An image a harbour here."),
     ("Read [the report][1] today.", "Read the report today."),
     ("Read [the report][] today.", "Read the report today."),
     (f"Read <{URL}> today.", f"Read {URL} today."),
     ("[]( https://x )", "[]( https://x )")],
)  # fmt: skip
def test_links_keep_their_label(text: str, expected: str) -> None:
    """Inline, titled, reference and image links become their label; autolinks their URL."""
    assert render_markdown(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a **bold** word", "a bold word"), ("an *italic* word", "an italic word"),
     ("a ***strong italic*** word", "a strong italic word"), ("a __bold__ word", "a bold word"),
     ("an _italic_ word", "an italic word"), ("a ~~struck~~ word", "a struck word"),
     ("the `budget` vote", "the budget vote"), ("the ``a `tick` b`` code", "the a `tick` b code"),
     ("**several words in bold**", "several words in bold")],
)  # fmt: skip
def test_emphasis_and_code_marks_are_removed(text: str, expected: str) -> None:
    """Bold, italic, strike-through and code spans lose their marks and keep their words."""
    assert render_markdown(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "snake_case_name stays",
        "2*3*4 is arithmetic",
        "a * b * c",
        "file_name_.txt",
        "a ~~ b ~~ c",
    ],
)
def test_marks_that_are_not_emphasis_stay(text: str) -> None:
    """Underscores inside words, stars between numbers or blanks: no emphasis, nothing removed."""
    assert render_markdown(text) == text


def test_a_star_run_followed_by_a_blank_is_not_emphasis() -> None:
    """'** words **' is no emphasis in CommonMark (the run is not left-flanking): it stays as written."""
    assert render_markdown("** not emphasis **") == "** not emphasis **"


@pytest.mark.parametrize(
    ("text", "expected"),
    [(r"\*not emphasis\*", "*not emphasis*"), (r"a \_b\_ c", "a _b_ c"), (r"\[not a link\]", "[not a link]"),
     (r"1\. not a list", "1. not a list"), (r"back\\slash", "back\\slash"), (r"\a stays", r"\a stays")],
)  # fmt: skip
def test_escapes_give_the_character(text: str, expected: str) -> None:
    """A backslash before Markdown punctuation gives that character as text; before anything else
    it stays."""
    assert render_markdown(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("- one item", "one item"), ("* one item", "one item"), ("+ one item", "one item"),
     ("1. first", "first"), ("12) twelfth", "twelfth"), ("   - indented", "indented"),
     ("-5 degrees", "-5 degrees"), ("1999. A year", "1999. A year"), ("a - b", "a - b"),
     ("- one\n- two\n3. three", "one\ntwo\nthree")],
)  # fmt: skip
def test_list_markers_are_removed_at_line_starts(text: str, expected: str) -> None:
    """A bullet or a number of up to three digits and a blank, at a line's start, is dropped."""
    assert render_markdown(text) == expected


def test_lines_are_kept() -> None:
    """Line breaks survive: a span's line count is the same after rendering."""
    text = "**one**\n\n_two_\n[three](https://x.example/)\n"
    assert render_markdown(text) == "one\n\ntwo\nthree\n"


@given(st.text(max_size=120))
def test_rendering_never_lengthens(text: str) -> None:
    """Undoing syntax only ever removes characters: the result is never longer than the input."""
    assert len(render_markdown(text)) <= len(text)


_PLAIN = st.text(
    alphabet=st.characters(categories=["L", "Zs"], include_characters=",;:?'\"\n", exclude_characters="_"),
    max_size=120,
)


@given(_PLAIN)
def test_plain_text_without_markup_is_unchanged(text: str) -> None:
    """Text with no Markdown punctuation, digits or bullets comes back exactly as given."""
    assert render_markdown(text) == text
