"""Which way a post's URLs stand (service/pipeline/judge/attachment.py): the layout's reading holds
unless the other reading finds at least two more passages under their own link."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from service.pipeline.judge import choose_attachment
from service.pipeline.models import Passage
from service.pipeline.state import ReadSource
from tests.pipeline.judge._sources import SETTINGS, TEXT_A, TEXT_B, A, B, source

C = "https://c.example/"
TEXT_A2 = TEXT_A.replace("harbour", "port")
READ = {A: source(A, TEXT_A + " " + TEXT_A2), B: source(B, TEXT_B), C: source(C, None)}
TEXTS = [TEXT_A, TEXT_A2, TEXT_B, "Nothing like this was ever said by anyone at the harbour office at all."]
URLS = [A, B, C, "https://unread.example/", None]


def test_choose_attachment_needs_two_more_passages_found() -> None:
    """The other URL convention wins only when it places at least two more passages right."""
    a, b = source(A, TEXT_A + " " + TEXT_A.replace("harbour", "port")), source(B, TEXT_B)
    by_url = {A: a, B: b}
    one = [Passage(TEXT_A, (0, 1), True, B, alt_cited_url=A)]
    assert choose_attachment(one, by_url, settings=SETTINGS)[0].cited_url == B
    two = [*one, Passage(TEXT_A.replace("harbour", "port"), (2, 3), True, B, alt_cited_url=A)]
    assert [p.cited_url for p in choose_attachment(two, by_url, settings=SETTINGS)] == [A, A]


def test_a_swap_turns_every_ambiguous_passage_and_its_parts() -> None:
    """When the other reading wins, each ambiguous passage (and each of its parts) trades its link
    for the other one; a passage whose link is its own keeps it."""
    part = Passage(TEXT_A2, (5, 6), True, B, alt_cited_url=A)
    whole = Passage(f"“{TEXT_A2}”", (4, 7), False, B, parts=(part,), alt_cited_url=A)
    own = Passage(TEXT_B, (8, 9), True, B)
    passages = [Passage(TEXT_A, (0, 1), True, B, alt_cited_url=A), whole, own]
    chosen = choose_attachment(passages, READ, settings=SETTINGS)
    assert [(p.cited_url, p.alt_cited_url) for p in chosen] == [(A, B), (A, B), (B, None)]
    assert [(p.cited_url, p.alt_cited_url) for p in chosen[1].parts] == [(A, B)]
    assert chosen[2] is own
    assert [(p.text, p.span) for p in chosen] == [(p.text, p.span) for p in passages]


def test_links_to_unread_sources_count_as_not_found() -> None:
    """An alternative link with no readable source (dead, or never read) places nothing right."""
    passages = [Passage(TEXT_A, (0, 1), True, B, alt_cited_url=C),
                Passage(TEXT_A2, (2, 3), True, B, alt_cited_url="https://unread.example/"),
                Passage(TEXT_B, (4, 5), True, None, alt_cited_url=C)]  # fmt: skip
    assert choose_attachment(passages, READ, settings=SETTINGS) == tuple(passages)


_passages = st.builds(
    Passage,
    text=st.sampled_from(TEXTS),
    span=st.tuples(st.integers(0, 50), st.integers(50, 100)),
    explicit=st.booleans(),
    cited_url=st.sampled_from(URLS),
)


@settings(max_examples=50, deadline=None)
@given(st.lists(_passages, max_size=6), st.sampled_from([READ, {}, {A: READ[A]}]))
def test_without_ambiguous_passages_nothing_changes(
    passages: list[Passage], by_url: dict[str, ReadSource]
) -> None:
    """No passage with another possible link (alt_cited_url None): the passages come back as given."""
    chosen = choose_attachment(passages, by_url, settings=SETTINGS)
    assert chosen == tuple(passages)
    assert all(c is p for c, p in zip(chosen, passages, strict=True))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(_passages, st.sampled_from(URLS)), max_size=6))
def test_either_nothing_or_every_ambiguous_passage_turns(pairs: list[tuple[Passage, str | None]]) -> None:
    """For any passages: the result is the input as given, or the input with every ambiguous
    passage's two links swapped; texts, spans and order never change."""
    passages = [replace(p, alt_cited_url=alt) for p, alt in pairs]
    chosen = choose_attachment(passages, READ, settings=SETTINGS)
    swapped = tuple(
        p if p.alt_cited_url is None else replace(p, cited_url=p.alt_cited_url, alt_cited_url=p.cited_url)
        for p in passages
    )
    assert chosen in (tuple(passages), swapped)
