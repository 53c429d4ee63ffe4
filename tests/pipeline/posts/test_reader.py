"""Tests for service.pipeline.posts.reader: passages, citations and attachment in every input format."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.pipeline.errors import InputError
from service.pipeline.models import InputFormat, Passage, Post
from service.pipeline.posts.reader import detect_format, parse_post

SEED_COPY = Path(__file__).parents[2] / "data" / "seed" / "post.txt"
SEED_SHARED = Path(__file__).parents[3].parent / "shared" / "seed" / "post.txt"
TOI = "https://www.timesofisrael.com/in-call-netanyahu-flogs-putin-over-gaza-war-stance-and-blossoming-iran-ties/"
KREMLIN = "http://en.kremlin.ru/events/president/news/72947"
A = "https://a.example.com/story"
SENT = "The council approved the budget on Tuesday night."
MAXIMUM = "a maximum of 10 years in prison if convicted"
B = "https://b.example.org/report"


def _seed() -> str:
    for path in (SEED_COPY, SEED_SHARED):
        if path.exists():
            return path.read_bytes().decode("utf-8")
    pytest.skip("seed post not available")


def _explicit(post: Post) -> list[Passage]:
    return [p for p in post.leaves if p.explicit]


def _texts(post: Post) -> list[str]:
    return [p.text for p in post.leaves]


# ------------------------------------------------------------------ the seed post


def test_seed_copy_is_byte_identical() -> None:
    """The shipped copy of the seed post keeps its bytes (NBSP lines, curly quotes)."""
    if not (SEED_COPY.exists() and SEED_SHARED.exists()):
        pytest.skip("seed post not available")
    assert SEED_COPY.read_bytes() == SEED_SHARED.read_bytes()


def test_seed_passages_attach_to_their_pages() -> None:
    """The seed: ToI headline, standfirst, 3 paragraphs → ToI; Kremlin title + 4 → Kremlin."""
    text = _seed()
    post = parse_post(text)
    assert post.format is InputFormat.TEXT
    assert [c.url for c in post.citations] == [TOI, KREMLIN]
    toi = [p.text for p in post.leaves if p.cited_url == TOI]
    kremlin = [p.text for p in post.leaves if p.cited_url == KREMLIN]
    assert (
        toi[0] == "Netanyahu flogs Putin over Gaza war stance and blossoming Iran ties"
    )  # the thread subject
    assert toi[1] == "In call, Netanyahu flogs Putin over Gaza war stance and blossoming Iran ties"
    assert toi[2].startswith("Premier holds 50-minute conversation")
    assert [t.split()[0] for t in toi[3:]] == ["Prime", "Netanyahu", "Since"]
    assert len(toi) == 6
    assert kremlin[0] == "Telephone conversation with Prime Minister of Israel Benjamin Netanyahu"
    assert [t.split()[:2] for t in kremlin[1:]] == [
        ["Vladimir", "Putin"], ["The", "discussion"], ["In", "addition,"], ["Vladimir", "Putin"],
    ]  # fmt: skip
    assert len(post.leaves) == len(toi) + len(kremlin)
    assert not _explicit(post)
    for p in post.leaves:
        assert text[p.span[0] : p.span[1]] == p.text


def test_seed_headers_and_counters_are_not_passages() -> None:
    """Board name, date, header line, URLs and trailing counters yield no passage."""
    post = parse_post(_seed())
    joined = "\n".join(_texts(post))
    for junk in ("The_Rooster", "Dec 11, 2023", "Anonymous", "No.20053536", "http", "\u00a0"):
        assert junk not in joined
    assert all(p.text.strip() not in {"40", "0"} for p in post.leaves)


# ------------------------------------------------------------------ formats


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("<p>Hello there, world</p>", InputFormat.HTML),
        ('see <a href="https://x.example">this</a>', InputFormat.HTML),
        ("line<br>break", InputFormat.HTML),
        ("<blockquote>quoted words</blockquote>", InputFormat.HTML),
        ("read [this](https://x.example) now", InputFormat.MARKDOWN),
        ("# Heading\n\ntext", InputFormat.MARKDOWN),
        ("```\ncode\n```", InputFormat.MARKDOWN),
        ("> quoted **bold** words\n\nmore", InputFormat.MARKDOWN),
        (">greentext line\nreply to it", InputFormat.TEXT),
        ("> quote line\nplain reply", InputFormat.TEXT),
        ("just some words 3 < 4 and 5 > 2", InputFormat.TEXT),
    ],
)
def test_detect_format(text: str, fmt: InputFormat) -> None:
    """auto picks HTML on block tags or links, Markdown on its structures, text otherwise."""
    assert detect_format(text) is fmt
    assert parse_post(text).format is fmt


def test_post_carries_id_time_and_resolved_format() -> None:
    """Post.format is the resolved one (never auto); id and posted_at are kept."""
    when = datetime(2023, 12, 10, 14, 23, 38, tzinfo=UTC)
    post = parse_post("plain words only", "auto", id="p1", posted_at=when)
    assert post.format is InputFormat.TEXT
    assert (post.id, post.posted_at) == ("p1", when)
    assert parse_post("<p>x</p>", InputFormat.TEXT).format is InputFormat.TEXT


def test_unknown_format_is_input_error() -> None:
    """A format name outside the enum is bad input."""
    with pytest.raises(InputError):
        parse_post("text", "pdf")


# ------------------------------------------------------------------ quotation marks


@pytest.mark.parametrize(
    ("opener", "closer"),
    [
        ('"', '"'),
        ("“", "”"),
        ("„", "“"),
        ("„", "”"),
        ("«", "»"),
        ("‹", "›"),
        ("「", "」"),
        ("『", "』"),
        ("‘", "’"),
    ],
)
def test_quote_mark_kinds(opener: str, closer: str) -> None:
    """Every kind of quotation mark makes an explicit passage spanning the inside of the marks."""
    inner = "the budget was approved on Tuesday"
    text = f"She wrote {opener}{inner}{closer} yesterday."
    post = parse_post(text, InputFormat.TEXT)
    (quote,) = _explicit(post)
    assert quote.text == inner
    assert text[quote.span[0] : quote.span[1]] == inner


def test_straight_single_quotes_are_apostrophes() -> None:
    """Straight single quotes never delimit a quotation."""
    post = parse_post("He said 'we will not back down at all' and it's fine by me, I think.")
    assert not _explicit(post)


def test_curly_apostrophe_does_not_close_a_quote() -> None:
    """’ followed by a letter (Moscow’s) is an apostrophe, not the end of a ‘…’ quotation."""
    post = parse_post("They called it ‘Moscow’s alliance with Iran and its backing’ in the call.")
    assert [p.text for p in _explicit(post)] == ["Moscow’s alliance with Iran and its backing"]


def test_nested_quotes_stay_inside_the_outer_one() -> None:
    """An inner quotation is part of the outer passage, not one of its own."""
    text = "“He told us ‘we will fight to the very end’ and then he left the room,” she said."
    post = parse_post(text)
    assert [p.text for p in _explicit(post)] == [
        "He told us ‘we will fight to the very end’ and then he left the room,"
    ]


def test_scare_quotes_are_skipped() -> None:
    """Quotations of fewer than three words are scare quotes, not passages."""
    post = parse_post("The so-called “peace plan” is just a “fresh start” they keep talking about.")
    assert not _explicit(post)
    assert _texts(post) == ["The so-called “peace plan” is just a “fresh start” they keep talking about."]


def test_short_commentary_around_a_quote_is_dropped() -> None:
    """With little commentary around it, only the quotation is a passage."""
    post = parse_post("He wrote: “the council approved the budget on Tuesday” — unbelievable.")
    assert [(p.text, p.explicit) for p in post.leaves] == [
        ("the council approved the budget on Tuesday", True)
    ]


def test_long_commentary_around_a_quote_is_an_unmarked_passage() -> None:
    """Enough commentary around a quotation makes one unmarked passage next to the explicit one."""
    text = "“The council approved the budget on Tuesday,” the mayor told reporters at the town hall meeting."
    post = parse_post(text)
    assert [(p.text, p.explicit) for p in post.leaves] == [
        ("The council approved the budget on Tuesday,", True),
        ("the mayor told reporters at the town hall meeting.", False),
    ]
    for p in post.leaves:
        assert text[p.span[0] : p.span[1]] == p.text


# ------------------------------------------------------------------ blocks


def test_markdown_blockquote_is_one_passage() -> None:
    """Consecutive '>' lines form one explicit passage, markers stripped, span after the first."""
    text = "Intro.\n\n> The council approved the budget\n> on Tuesday after a long debate.\n\nMine."
    post = parse_post(text, InputFormat.MARKDOWN)
    (quote,) = post.leaves
    assert quote.explicit
    assert quote.text == "The council approved the budget\non Tuesday after a long debate."
    assert text[quote.span[0] :].startswith("The council")
    assert text[: quote.span[1]].endswith("debate.")


def test_greentext_lines_and_reply_links() -> None:
    """'>' lines in a text post are explicit; '>>123' reply links are not quotes at all."""
    text = ">>20053500\n>the council approved the budget on Tuesday\nthis is my own reply to that post"
    post = parse_post(text, InputFormat.TEXT)
    assert [(p.text, p.explicit) for p in post.leaves] == [
        ("the council approved the budget on Tuesday", True),
        ("this is my own reply to that post", False),
    ]


def test_wrapped_lines_are_joined() -> None:
    """A hard-wrapped paragraph is one passage, its inner line breaks kept."""
    text = (
        "Prime Minister Benjamin Netanyahu spoke with\nRussian leader Vladimir Putin for nearly\nan hour.\n"
    )
    post = parse_post(text)
    assert _texts(post) == [text.strip()]


def test_sentence_lines_stay_apart() -> None:
    """Lines that each end a sentence are separate passages (a board post's line per entry)."""
    post = parse_post("The first copied sentence is here.\nThe second copied sentence is here.")
    assert _texts(post) == ["The first copied sentence is here.", "The second copied sentence is here."]


def test_nbsp_lines_are_blank() -> None:
    """Lines of non-breaking spaces separate paragraphs like blank lines."""
    post = parse_post("one two three four five\n\u00a0\nsix seven eight nine ten")
    assert _texts(post) == ["one two three four five", "six seven eight nine ten"]


@pytest.mark.parametrize(
    "junk",
    [
        "Anonymous 12/10/23 (Sun) 14:23:38 3f220b (10) No.20053536",
        "Dec 11, 2023",
        "2023-12-10 14:23",
        "The_Rooster",
        "    40",
        "-- John Smith",
        "— Jane",
        "Sent from my iPhone",
        ">>12345 >>12346",
        "https://a.example.com/x",
        "too few words",
    ],
)
def test_obvious_non_passages(junk: str) -> None:
    """Headers, dates, usernames, counters, signatures, reply links, URLs, short lines: none."""
    assert parse_post(f"{junk}\n\n", InputFormat.TEXT).leaves == ()


def test_signature_delimiter_ends_the_post() -> None:
    """Everything after a '--' line is a signature."""
    post = parse_post("my own words about the whole thing\n--\nJohn Smith, Acme Corporation, Springfield")
    assert _texts(post) == ["my own words about the whole thing"]


# ------------------------------------------------------------------ Markdown and HTML


def test_markdown_strips_syntax_and_skips_code() -> None:
    """Markdown text loses emphasis and link syntax (label kept); code fences are not passages."""
    text = (
        f"Read **this** _important_ [report]({A}) about the `budget` vote today.\n\n"
        "```\nprint('a code block with many words in it')\n```\n"
    )
    post = parse_post(text, InputFormat.MARKDOWN)
    assert _texts(post) == ["Read this important report about the budget vote today."]
    assert post.leaves[0].cited_url == A


def test_markdown_link_attaches_its_paragraph() -> None:
    """A passage in the same paragraph as an inline link attaches to that link."""
    text = (
        f"As [the Times]({A}) put it, the council approved the budget.\n\n"
        f"And [the Post]({B}) said otherwise today."
    )
    post = parse_post(text, InputFormat.MARKDOWN)
    assert [p.cited_url for p in post.leaves] == [A, B]


def test_attribution_line_after_blockquote() -> None:
    """'— [Site](url)' right after a blockquote belongs to it, even in a post citing two URLs."""
    text = (
        f"> The council approved the budget on Tuesday.\n\n— [Reuters]({B})\n\nAlso see {A} for more of it."
    )
    post = parse_post(text, InputFormat.MARKDOWN)
    quote = _explicit(post)[0]
    assert quote.cited_url == B


def test_html_blockquote_cite_and_rendering() -> None:
    """<blockquote cite> attaches to its cite; text is rendered, span is inside the raw HTML."""
    raw = (
        f'<p>Intro words from the poster here.</p><blockquote cite="{A}"><p>The council &amp; mayor '
        f'approved the budget.</p></blockquote><p><a href="{B}">{B}</a></p>'
    )
    post = parse_post(raw)
    assert post.format is InputFormat.HTML
    quote = _explicit(post)[0]
    assert quote.text == "The council & mayor approved the budget."
    assert quote.cited_url == A
    assert raw[quote.span[0] : quote.span[1]] == "The council &amp; mayor approved the budget."
    assert [c.url for c in post.citations] == [A, B]


def test_html_q_and_links() -> None:
    """<q> is an explicit quotation; an <a href> in its paragraph is its URL; img src is no citation."""
    raw = (
        f'<p>He said <q>we will not back down now</q> and left, <a href="{A}">source</a>.</p>'
        f'<img src="https://img.example/i.png"><p>Unrelated words in <a href="{B}">here</a> too.</p>'
        "<script>var s = 'https://js.example/x';</script>"
    )
    post = parse_post(raw, InputFormat.HTML)
    assert [c.url for c in post.citations] == [A, B]
    quote = _explicit(post)[0]
    assert (quote.text, quote.cited_url) == ("we will not back down now", A)
    assert raw[quote.span[0] : quote.span[1]] == "we will not back down now"


def test_html_entity_in_href_is_one_citation() -> None:
    """An href with &amp; and the same URL as visible text are one citation, keyed decoded."""
    url = "https://a.example.com/s?x=1&amp;y=2"
    post = parse_post(f'<p><a href="{url}">https://a.example.com/s?x=1&amp;y=2</a></p>')
    assert [(c.url, c.key) for c in post.citations] == [(url, "https://a.example.com/s?x=1&y=2")]


# ------------------------------------------------------------------ citations and attachment


def test_citations_dedup_in_order_with_spans() -> None:
    """Citations come once per key, in order of first appearance, spans slicing to the URL."""
    text = f"first {B}?utm_source=x then {A} and again {B} plus www.c.example.net/p"
    post = parse_post(text, InputFormat.TEXT)
    assert [c.key for c in post.citations] == [B, A, "http://www.c.example.net/p"]
    for c in post.citations:
        assert text[c.span[0] : c.span[1]] == c.url


def test_urls_below_their_passages() -> None:
    """Seed style: each passage attaches to the next URL line; trailing ones to the last."""
    text = (
        f"alpha beta gamma delta one\n\n{A}\n\nepsilon zeta eta theta two\n\n{B}\n\n"
        "iota kappa lambda mu three"
    )
    post = parse_post(text)
    assert [p.cited_url for p in post.leaves] == [A, B, B]


def test_urls_above_their_passages() -> None:
    """'Source: <url>' then quotes: each passage attaches to the nearest URL line above it."""
    text = (
        f"Source: {A}\n\n“alpha beta gamma delta one”\n\nepsilon zeta eta theta two\n\n"
        f"Source: {B}\n\niota kappa lambda mu three"
    )
    post = parse_post(text)
    assert [p.cited_url for p in post.leaves] == [A, A, B]


def test_single_citation_takes_every_passage() -> None:
    """A post citing one URL attaches every passage to it, wherever it stands."""
    post = parse_post(f"alpha beta gamma delta\n\n{A}\n\n“epsilon zeta eta theta”")
    assert [p.cited_url for p in post.leaves] == [A, A]


def test_no_citation_no_attachment() -> None:
    """Without URLs, passages are unattached."""
    post = parse_post("“alpha beta gamma delta” and some more words of my own here")
    assert post.citations == ()
    assert {p.cited_url for p in post.leaves} == {None}


# ------------------------------------------------------------------ properties

_PIECES = st.sampled_from(
    [
        "\n", "\n\n", "\u00a0\n", " ", ">", "> ", ">>123", '"', "“", "”", "„", "‘", "’", "'", "«", "»",
        "「", "」", "word", "the council", "approved it", ".", ",", ":", "—", "-- ", "#", "**", "_", "`",
        "```", "[", "](", ")", A, B, "www.c.example.net", "<p>", "</p>", "<blockquote>", "</blockquote>",
        '<blockquote cite="', '">', "<q>", "</q>", '<a href="', "</a>", "<br>", "&amp;", "&gt;", "<pre>",
        "</pre>", "<script>", "</script>", "No.12345", "12/10/23", "Source: ",
    ]
)  # fmt: skip
_POSTS = st.one_of(st.text(), st.lists(st.one_of(_PIECES, st.text(max_size=4)), max_size=40).map("".join))


@settings(max_examples=300, deadline=None)
@given(_POSTS, st.sampled_from(list(InputFormat)))
def test_spans_always_inside_the_post(text: str, fmt: InputFormat) -> None:
    """Any text in any format: passage spans lie in the post; citation spans slice to their URL."""
    post = parse_post(text, fmt)
    assert post.format is not InputFormat.AUTO
    for p in post.leaves:
        assert 0 <= p.span[0] <= p.span[1] <= len(text)
        assert p.text.strip()
    for c in post.citations:
        assert text[c.span[0] : c.span[1]] == c.url
    cited = {c.url for c in post.citations}
    assert all(p.cited_url is None or p.cited_url in cited for p in post.leaves)
    if post.format is not InputFormat.HTML:
        for p in post.leaves:
            if not p.explicit and post.format is InputFormat.TEXT:
                assert text[p.span[0] : p.span[1]] == p.text


def test_paragraph_with_inline_quote_offers_whole_and_parts() -> None:
    """A copied news paragraph quotes people: the whole stands as one passage, its quote as a part."""
    text = '"We will not stop until the work is done," the minister said on Tuesday in Paris.'
    post = parse_post(text, InputFormat.TEXT)
    (whole,) = post.passages
    assert not whole.explicit
    assert whole.text == text
    assert [p.explicit for p in whole.parts] == [True, False]
    assert whole.parts[0].text == "We will not stop until the work is done,"
    assert whole.parts[1].text == "the minister said on Tuesday in Paris."
    assert post.leaves == whole.parts


def test_quote_filling_its_paragraph_has_no_parts() -> None:
    """A paragraph that is nothing but a quotation is that quotation, with no container."""
    post = parse_post("“We will not stop until the work is done.”", InputFormat.TEXT)
    assert [(p.explicit, p.parts) for p in post.passages] == [(True, ())]


def test_blockquote_paragraphs_are_separate_passages() -> None:
    """A blank '>' line splits a Markdown quotation into passages: quoting two paragraphs with
    another left out between them is no splice."""
    text = (
        "> First paragraph of the quote goes here with words.\n>\n"
        "> Third paragraph of the source is quoted here too.\n\n[src](https://a.example/x)\n"
    )
    post = parse_post(text, InputFormat.MARKDOWN)
    assert [(p.text, p.explicit) for p in post.passages] == [
        ("First paragraph of the quote goes here with words.", True),
        ("Third paragraph of the source is quoted here too.", True),
    ]
    assert all(text[p.span[0] : p.span[1]] == p.text for p in post.passages)
    assert {p.cited_url for p in post.passages} == {"https://a.example/x"}


# ------------------------------------------------------------------ citations as a reader reads them


def test_a_site_named_inside_copied_words_is_part_of_the_passage() -> None:
    """``…; www.usef.org.`` inside running text or inside quotation marks is copied text: no
    citation of its own, and the passage keeps it and stands under the post's link."""
    text = f"Riders must register by March 1 with the federation; www.usef.org.\n\n{A}"
    post = parse_post(text)
    assert [c.url for c in post.citations] == [A]
    (p,) = post.leaves
    assert (p.text, p.cited_url) == ("Riders must register by March 1 with the federation; www.usef.org.", A)
    quoted = parse_post(f'"For the rules see https://usef.org/rules/2020 before entering."\n\n{A}')
    assert [c.url for c in quoted.citations] == [A]
    assert quoted.leaves[0].text == "For the rules see https://usef.org/rules/2020 before entering."


def test_a_site_on_a_line_of_its_own_or_with_a_path_still_cites() -> None:
    """A home page on a citing line (``Source: www.bbc.com``), or a URL with a path after copied
    words, is a citation as before."""
    assert [c.url for c in parse_post("Source: www.bbc.com").citations] == ["www.bbc.com"]
    post = parse_post(f"The council approved the budget on Tuesday night {A}")
    assert [c.url for c in post.citations] == [A]
    assert post.leaves[0].text == "The council approved the budget on Tuesday night"


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        (f"> The council approved the budget on Tuesday.\n\n[www.bbc.com]({A})", InputFormat.MARKDOWN),
        (f'<blockquote>{SENT}</blockquote><p><a href="{A}">www.bbc.com</a></p>', InputFormat.HTML),
    ],
)  # fmt: skip
def test_link_text_that_is_a_domain_is_no_source(text: str, fmt: InputFormat) -> None:
    """``[www.bbc.com](url)``, ``<a href=url>www.bbc.com</a>``: one citation, the link's target."""
    post = parse_post(text, fmt)
    assert [c.url for c in post.citations] == [A]
    assert [p.cited_url for p in post.leaves] == [A]


@pytest.mark.parametrize(
    "lead",
    [
        "The [BBC]({url}) wrote this today:",
        "Here is what the BBC story at {url} says:",
        "According to {url} :",
    ],
)
def test_lead_in_lines_carry_their_link_to_the_quotation_that_follows(lead: str) -> None:
    """A lead-in ending in ':' with a link heads what follows, even when a short one comes later;
    it is no passage itself."""
    text = (
        f"{lead.format(url=A)}\n\n> The council approved the budget on Tuesday night.\n\n"
        f"And [CNN]({B}) said:\n\n> The mayor vetoed the whole bill today."
    )
    post = parse_post(text, InputFormat.MARKDOWN)
    assert [(p.text, p.cited_url) for p in post.leaves] == [
        ("The council approved the budget on Tuesday night.", A),
        ("The mayor vetoed the whole bill today.", B),
    ]


@pytest.mark.parametrize("line", [f"Sources: {A}, {B}", f"{A} {B}", f"Sources: [A]({A}), [B]({B})"])
def test_several_urls_on_one_line_are_cited_together(line: str) -> None:
    """Every passage under a line of several URLs cites all of them, the first one first."""
    text = (
        f'"The council approved the budget on Tuesday night."\n\n"The mayor vetoed the whole bill."\n\n{line}'
    )
    post = parse_post(text)
    assert [(p.cited_url, p.also_cited, p.alt_cited_url) for p in post.leaves] == [(A, (B,), None)] * 2


def test_reference_markers_cite_their_entries_and_cut_the_paragraph() -> None:
    """``… [1]. … [2].`` with ``[1] url`` ``[2] url`` at the end: each sentence a passage under its
    own reference, the marker left out of its text and span; unmarked passages cite every entry."""
    text = (
        "Worth reading, both of these pieces.\n\n"
        "The council approved the budget on Tuesday night [1]. The mayor vetoed the whole bill today [2].\n\n"
        f"[1] {A}\n[2]: {B}"
    )
    post = parse_post(text)
    assert [(p.text, p.cited_url, p.also_cited) for p in post.leaves] == [
        ("Worth reading, both of these pieces.", A, (B,)),
        ("The council approved the budget on Tuesday night", A, ()),
        ("The mayor vetoed the whole bill today", B, ()),
    ]
    assert all(text[p.span[0] : p.span[1]] == p.text for p in post.leaves)


def test_reference_markers_after_and_inside_quotations() -> None:
    """``"…" [2]`` and ``"… [1]."``: the quotation cites that entry; the marker is not quoted."""
    text = f'"{SENT}" [2]\n\n"The mayor vetoed the bill [1]."\n\n1. {A}\n2. {B}'
    post = parse_post(text)
    assert [(p.text, p.explicit, p.cited_url) for p in post.leaves] == [
        ("The council approved the budget on Tuesday night.", True, B),
        ("The mayor vetoed the bill.", True, A),
    ]


def test_brackets_that_match_no_reference_stay_text() -> None:
    """Without a reference list, ``[1]`` is the passage's own text."""
    post = parse_post(f"The council approved the budget [1] on Tuesday night.\n\n{A}")
    assert post.leaves[0].text == "The council approved the budget [1] on Tuesday night."


# ------------------------------------------------------------------ the poster's frame


@pytest.mark.parametrize(
    ("text", "quote"),
    [
        (f'Wow. "{SENT}" {A}', SENT),
        (f'He faces "{MAXIMUM}".', MAXIMUM),
        (f'"{SENT[:-1]}," the report said.', f"{SENT[:-1]},"),
    ],
)  # fmt: skip
def test_a_quotation_in_the_posters_sentence_is_a_part_of_its_own(text: str, quote: str) -> None:
    """The paragraph is offered whole (a news paragraph may be a copy) with the quotation as a
    part whose span covers only the quotation; a URL at the edge is in neither."""
    (whole,) = parse_post(f"{text}\n\n{A}").passages
    assert "http" not in whole.text
    (part,) = [p for p in whole.parts if p.explicit]
    assert (part.text, part.cited_url) == (quote, A)
    assert text[part.span[0] : part.span[1]] == quote


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f'1/ "{SENT}"', SENT),
        (f"2/5 {SENT}", SENT),
        (f"(3/4) {SENT}", SENT),
        (f"{SENT} 4/", SENT),
        (f'"{SENT}" — BBC', SENT),
        (f"{SENT} — [Reuters](https://r.example/x)", SENT),
        ("Take C.A.R.E. - comwrap auf der DMEXCO 2018", "Take C.A.R.E. - comwrap auf der DMEXCO 2018"),
    ],
)  # fmt: skip
def test_counters_and_attribution_tails_are_not_the_passage(text: str, kept: str) -> None:
    """Thread counters and dash-led attribution tails after a sentence are cut from the passage;
    a dash after an abbreviation's point is the text's own."""
    post = parse_post(f"{text}\n\n{A}")
    assert [(p.text, text[p.span[0] : p.span[1]]) for p in post.leaves] == [(kept, kept)]


def test_runs_of_markers_cite_every_entry_they_name() -> None:
    """``night[1][2]`` and ``[1, 2]`` cite both entries; a Markdown reference link is no marker."""
    text = f"The council approved the budget on Tuesday night[1][2].\n\n[1] {A}\n[2] {B}"
    (p,) = parse_post(text).leaves
    assert (p.text, p.cited_url, p.also_cited) == (
        "The council approved the budget on Tuesday night",
        A,
        (B,),
    )
    (q,) = parse_post(f"The mayor vetoed the whole bill today [1, 2].\n\n[1] {A}\n[2] {B}").leaves
    assert (q.cited_url, q.also_cited) == (A, (B,))
    md = parse_post(
        f"As [the Times][1] put it, the council approved the budget.\n\n[1]: {A}", InputFormat.MARKDOWN
    )
    assert md.leaves[0].text == "As the Times put it, the council approved the budget."


def test_a_list_of_urls_is_cited_together_and_a_dump_is_capped() -> None:
    """``Sources:`` then one URL a line (one paragraph) cites them all; at most ten together."""
    text = f'"The council approved the budget on Tuesday night."\n\nSources:\n- {A}\n- {B}'
    assert [(p.cited_url, p.also_cited) for p in parse_post(text).leaves] == [(A, (B,))]
    dump = "\n".join(f"https://e{i}.example/x" for i in range(30))
    (p,) = parse_post(f'"The council approved the budget on Tuesday night."\n\n{dump}').leaves
    assert len(p.also_cited) == 9


def test_a_reference_entry_with_a_title_still_cites() -> None:
    """``[1] BBC News, 'Budget approved', https://…`` is a reference entry, however long its title."""
    title = "'Council approves the budget after a long night'"
    text = f"{SENT[:-1]} [1].\n\n[1] BBC News, {title}, {B}\n\nSee {A}"
    post = parse_post(text)
    assert [(p.text, p.cited_url) for p in post.leaves] == [(SENT[:-1], B)]


def test_a_blockquote_loses_its_tail_and_a_list_number_is_no_text() -> None:
    """``> “…” — The Republic`` is the quotation alone; ``1. <sentence>`` is the sentence."""
    (quote,) = parse_post(f"> “{SENT}” — The Republic\n\n{A}", InputFormat.MARKDOWN).leaves
    assert quote.text == f"“{SENT}”"
    (item,) = parse_post(f"1. {SENT}\n\n{A}", InputFormat.TEXT).leaves
    assert item.text == SENT


def test_the_lines_of_a_greater_than_quotation_may_quote_on_their_own() -> None:
    """A ">" quotation's passage says its lines are fragments; a quotation in marks does not."""
    post = parse_post(
        ">The council will publish a full report on the finances\n>Several members asked for an audit\n"
        "https://a.example/x\n\n"
        '"The council will publish a full report on the finances before the end of the year"\n'
        "https://a.example/y\n"
    )
    assert [p.line_fragments for p in post.passages] == [True, False]


def test_markers_point_into_an_unnumbered_list_at_the_end() -> None:
    """Without numbered entries, ``[n]`` is the n-th URL listed after the post's last words (an
    HTML ``<ol>`` of links)."""
    raw = (
        f"<p>{SENT[:-1]} [1]. The mayor vetoed the whole bill today [2].</p>"
        f'<ol><li><a href="{A}">{A}</a></li><li><a href="{B}">BBC</a></li></ol>'
    )
    post = parse_post(raw, InputFormat.HTML)
    assert [(p.text, p.cited_url) for p in post.leaves] == [
        (SENT[:-1], A),
        ("The mayor vetoed the whole bill today", B),
    ]
