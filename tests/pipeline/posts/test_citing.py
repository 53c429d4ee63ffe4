"""Tests for service.pipeline.posts.citing: which URLs cite, reference lines and markers."""

from __future__ import annotations

import pytest

from service.pipeline.posts.citing import cited_urls, find_markers, ref_number, strip_markers
from service.pipeline.urls import extract_urls


def _cited(text: str) -> list[str]:
    found = extract_urls(text)
    return [f.url for f, _ in cited_urls(found, text, [f.span[0] for f in found])]


@pytest.mark.parametrize(
    ("text", "cited"),
    [
        ("Riders must register by March 1 with the federation; www.usef.org.", []),
        ("Read it: www.usef.org", ["www.usef.org"]),
        ("Registration rules are at https://usef.org/rules for every rider", ["https://usef.org/rules"]),
        ('"Rules are at https://usef.org/rules for every rider," she said.', []),
        ("[www.bbc.com](https://bbc.co.uk/news/1) says so", ["https://bbc.co.uk/news/1"]),
        ("[https://bbc.co.uk/news/1](https://bbc.co.uk/news/1)", ["https://bbc.co.uk/news/1"]),
    ],
)
def test_which_urls_cite(text: str, cited: list[str]) -> None:
    """A home page named in running text, any URL inside quotation marks and a link's label are
    no citations; a citing line, a URL with a path in running text and a link's target are."""
    assert _cited(text) == cited


def test_html_labels_and_attributes() -> None:
    """In HTML, an ``href`` value cites even though its view position is the label's."""
    found = extract_urls('<a href="https://bbc.co.uk/news/1">www.bbc.com</a>')
    view = "www.bbc.com"
    kept = cited_urls(found, view, [0, 0], links=[(0, 11)], html=True, in_attribute=[True, False])
    assert [f.url for f, _ in kept] == ["https://bbc.co.uk/news/1"]


@pytest.mark.parametrize(
    ("line", "number"),
    [("[1] https://a.example", 1), ("[2]: https://a.example", 2), ("[^3]: https://a", 3), ("4. https://a", 4),
     ("5) https://a", 5), ("(6) https://a", 6), ("- [7] https://a", 7), ("Source: https://a", None),
     ("2019 https://a", None)],
)  # fmt: skip
def test_reference_lines(line: str, number: int | None) -> None:
    """A reference list's entry starts with its number, bracketed, dotted or in parentheses."""
    assert ref_number(line) == number


def test_markers_known_and_unknown() -> None:
    """Markers name known entries only; a Markdown reference link's ``[1]`` is none."""
    text = "A fact [1]. Two facts[1][2]. Odd [9]. Link [text][1]. Both [1, 2]."
    markers = find_markers(text, 0, len(text), {1, 2})
    assert [m.numbers for m in markers] == [(1,), (1, 2), (1, 2)]
    assert [text[m.start : m.end] for m in markers] == [" [1]", "[1][2]", " [1, 2]"]
    assert strip_markers(text, {1, 2}) == "A fact. Two facts. Odd [9]. Link [text][1]. Both."
