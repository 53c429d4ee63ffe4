"""Tests for service.pipeline.posts.attach: each passage's URLs from the post's layout."""

from __future__ import annotations

from service.pipeline.posts.attach import Placed, UrlLine, attach

A, B, C = "https://a.example/", "https://b.example/", "https://c.example/"


def _at(start: int, own: tuple[str, ...] = ()) -> Placed:
    return Placed(start, start, start + 5, own)


def test_lead_ins_head_what_follows() -> None:
    """When every URL line introduces, URLs stand above, whatever the vote would say."""
    lines = [UrlLine(10, (A,), True, False), UrlLine(30, (B,), True, False)]
    default, _ = attach([_at(0), _at(15), _at(35)], lines, (A, B))
    assert default == [(A,), (A,), (B,)]


def test_a_line_of_several_urls_is_cited_whole() -> None:
    """Passages under a line of several URLs cite the whole line, its first URL first."""
    default, other = attach([_at(0), _at(10)], [UrlLine(20, (A, B), False, False)], (A, B))
    assert default == other == [(A, B), (A, B)]


def test_own_urls_win_and_references_reach_the_rest() -> None:
    """A passage's own URLs stand; the others add every reference-list entry to their line's."""
    lines = [UrlLine(40, (A,), False, False), UrlLine(45, (B,), False, False)]
    default, _ = attach([_at(0, (B,)), _at(10)], lines, (A, B, C), everywhere=(A, B))
    assert default == [(B,), (A, B)]


def test_no_or_one_citation() -> None:
    """No citation: nothing attached; one: every passage under it."""
    assert attach([_at(0)], [], ()) == ([()], [()])
    assert attach([_at(0), _at(9)], [], (A,)) == ([(A,), (A,)], [(A,), (A,)])
