"""Cited URLs that are never fetched still become citations, each once, keyed as written."""

from __future__ import annotations

from service.pipeline.posts.reader import parse_post


def test_other_schemes_and_malformed_urls_are_citations() -> None:
    """``file:``, ``gopher:`` and a bad port are citations (keyed as written, once each), and a
    passage standing with one is attached to it, so the verifier reports it unverifiable."""
    post = (
        'She said "the same words in every line" in\nfile:///etc/passwd\n\n'
        "gopher://example.com/1 http://x.com:99999/ file:///etc/passwd https://example.com/a?utm_source=x"
    )
    parsed = parse_post(post)
    assert [(c.url, c.key) for c in parsed.citations] == [
        ("file:///etc/passwd", "file:///etc/passwd"),
        ("gopher://example.com/1", "gopher://example.com/1"),
        ("http://x.com:99999/", "http://x.com:99999/"),
        ("https://example.com/a?utm_source=x", "https://example.com/a"),
    ]
    quoted = [leaf for leaf in parsed.leaves if leaf.text == "the same words in every line"]
    assert [leaf.cited_url for leaf in quoted] == ["file:///etc/passwd"]
