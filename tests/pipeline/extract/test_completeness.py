"""Whether a parsed page holds all its text: libxml2's depth limit and the HTML size cap (issue 13)."""

from __future__ import annotations

import pytest
from lxml import html

from service.pipeline.extract.completeness import extraction_incomplete, hit_parser_limit, was_cut
from service.pipeline.extract.page_text import decode_html, parse_html
from service.pipeline.extract.pool import extract_article

QUOTED = "The quoted sentence sits at the very bottom of the nested page."


def nested_page(depth: int) -> bytes:
    """A page whose quoted sentence sits inside ``depth`` nested ``<div>``s, followed by a footer."""
    opened, closed = "<div>" * depth, "</div>" * depth
    return (
        f"<html><head><title>Nested</title></head><body><p>An introduction that comes first.</p>"
        f"{opened}<p>{QUOTED}</p>{closed}<p>A footer after it.</p></body></html>"
    ).encode()


def _incomplete(body: bytes, max_html_bytes: int = 1 << 20) -> bool:
    text = decode_html(body)
    root, data = parse_html(text, max_html_bytes)
    return extraction_incomplete(root, text, data, max_html_bytes)


@pytest.mark.parametrize("depth", [0, 10, 250])
def test_a_page_within_the_depth_limit_is_complete(depth: int) -> None:
    """Up to 250 nested elements libxml2 reads everything: complete, and the sentence is there."""
    assert not _incomplete(nested_page(depth))
    extraction = extract_article(nested_page(depth), url="http://e.com/")
    assert not extraction.incomplete
    assert QUOTED in extraction.page_text
    assert "A footer after it." in extraction.page_text


@pytest.mark.parametrize("depth", [255, 1_000, 10_000, 100_000])
def test_a_page_past_the_depth_limit_is_incomplete(depth: int) -> None:
    """Past libxml2's depth limit the parse stops silently (the sentence and the footer vanish):
    the extraction says so, whatever the depth."""
    assert _incomplete(nested_page(depth))
    extraction = extract_article(nested_page(depth), url="http://e.com/")
    assert extraction.incomplete
    assert QUOTED not in extraction.page_text  # what the flag stands for: the text is gone
    assert "An introduction that comes first." in extraction.page_text


def test_a_page_cut_at_the_size_cap_is_incomplete() -> None:
    """HTML past ``max_html_bytes`` is cut before parsing: incomplete; the same page under a cap
    it fits in is complete."""
    body = b"<html><body>" + b"<p>Filler words of the long page.</p>" * 2000 + b"</body></html>"
    assert _incomplete(body, max_html_bytes=10_000)
    assert extract_article(body, url="http://e.com/", max_html_bytes=10_000).incomplete
    assert not _incomplete(body, max_html_bytes=len(body) + 100)
    assert not extract_article(body, url="http://e.com/", max_html_bytes=len(body) + 100).incomplete


def test_was_cut_counts_characters_before_cleaning() -> None:
    """Text over the cap in characters is cut before its control characters are cleaned away, so
    it counts as cut even when the bytes parsed are well under the cap."""
    assert was_cut("x" * 101, b"x" * 10, 100)
    assert was_cut("x" * 100, b"x" * 97, 100)  # within a split character of the byte cap
    assert not was_cut("x" * 100, b"x" * 96, 100)


def test_a_tree_built_by_hand_hit_no_parser_limit() -> None:
    """A tree no parser made has no error log: nothing was cut."""
    assert not hit_parser_limit(html.Element("html"))
    assert not extraction_incomplete(None, "", b"", 100)
