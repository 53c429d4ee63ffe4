"""The tree readers' fast paths against plain reference readings: the visible-text walk, the one
walk for tagged elements (``page_tags``), class tokens, and the lazy publication-date search."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import html

from service.pipeline.extract.page_meta import published_date
from service.pipeline.extract.page_text import (
    _BLOCKS,
    _SKIP,
    _TAGGED,
    decode_html,
    page_tags,
    page_text,
    parse_html,
)
from service.pipeline.extract.signals import class_tokens

_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


def _root(markup: str) -> html.HtmlElement:
    root, _ = parse_html(markup, 1 << 20)
    assert root is not None
    return root


def _reference_hidden(el: html.HtmlElement) -> bool:
    style = el.get("style")
    return (
        el.get("hidden") is not None
        or el.get("aria-hidden") == "true"
        or (bool(style) and _HIDDEN_STYLE.search(style) is not None)
    )


def _reference_lines(root: html.HtmlElement) -> list[str]:
    """The visible-text rule said plainly (recursive): skipped and hidden elements give nothing
    but their tail; a block element ends the line before and after it."""
    pieces: list[str | None] = []  # None: a block boundary, "" for a missing text or tail

    def visit(el: html.HtmlElement) -> None:
        if not isinstance(el.tag, str) or el.tag in _SKIP or _reference_hidden(el):
            return
        block = el.tag in _BLOCKS
        if block:
            pieces.append(None)
        pieces.append(el.text or "")
        for child in el:
            visit(child)
            pieces.append(child.tail or "")
        if block:
            pieces.append(None)

    body = root.find("body")
    visit(body if body is not None else root)
    lines: list[str] = []
    line: list[str] = []
    for piece in [*pieces, None]:
        if piece is None:
            if text := " ".join("".join(line).split()):
                lines.append(text)
            line = []
        else:
            line.append(piece)
    return lines


_TAGS = [
    "div",
    "p",
    "span",
    "b",
    "br",
    "td",
    "li",
    "h1",
    "script",
    "noscript",
    "title",
    "meta",
    "link",
    "base",
    "svg",
]
_ATTRS = [
    "",
    "hidden",
    'aria-hidden="true"',
    'aria-hidden="TRUE"',
    'style="display :none"',
    'style="Visibility: Hidden"',
    'style="color: red"',
    'class="A b"',
    'id="X"',
]
_TEXTS = ["", "a", " b ", "c d", "\u00a0", "\n", "x&amp;y", "&nbsp;", "\u3000", "2020-01-02"]


@st.composite
def _markup(draw: st.DrawFn, depth: int = 0) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(0, 3 if depth < 5 else 0))):
        if draw(st.booleans()):
            parts.append(draw(st.sampled_from(_TEXTS)))
            continue
        tag, attr = draw(st.sampled_from(_TAGS)), draw(st.sampled_from(_ATTRS))
        closed = draw(st.booleans()) or tag == "br"
        parts.append(f"<{tag} {attr}>{draw(_markup(depth + 1))}{f'</{tag}>' if closed else ''}")
    return "".join(parts)


def _page(body: str, head: str = "") -> str:
    return f"<html><head>{head}</head><body>{body}</body></html>"


@settings(max_examples=300, deadline=None)
@given(_markup(), st.booleans())
def test_page_text_is_the_reference_reading(markup: str, whole_page: bool) -> None:
    root = _root(_page(markup) if whole_page else f"start{markup}")  # a fragment: libxml2 adds the rest
    lines = page_text(root).splitlines()
    reference = _reference_lines(root)
    assert lines[len(lines) - len(reference) :] == reference


@settings(max_examples=300, deadline=None)
@given(_markup(), _markup())
def test_page_tags_are_what_iter_finds(head: str, body: str) -> None:
    root = _root(_page(body, head))
    tags = page_tags(root)
    for tag in _TAGGED:
        expected = [el for el in root.iter(tag) if not (tag == "title" and el is root)]
        assert getattr(tags, tag) == expected
    first_title = root.find(".//title")
    assert (tags.title[0] if tags.title else None) is first_title


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.text()) | st.lists(st.text(alphabet="ΣσςΑa '.\u0345\u00ad\u0307İ\u2028\u0300")))
def test_class_tokens_are_each_values_tokens(values: list[str]) -> None:
    assert class_tokens(values) == [t for v in values for t in v.lower().split()]


def test_hidden_elements_leave_their_tails() -> None:
    root = _root(
        _page(
            '<p>one<span hidden>gone</span> two<b aria-hidden="true">gone</b> three</p>'
            '<div style="DISPLAY : none"><p>gone</p></div>after<p aria-hidden="TRUE">kept</p>'
            "<script>gone</script>tail"
        )
    )
    assert page_text(root).splitlines() == ["one two three", "after", "kept", "tail"]


def test_block_boundaries_inside_inline_elements() -> None:
    root = _root(_page("<span>a<p>b</p>c</span>d<br>e<i>f</i><div></div>g"))
    assert page_text(root).splitlines() == ["a", "b", "cd", "ef", "g"]


def test_published_date_prefers_meta_then_json_ld_then_microdata() -> None:
    microdata = '<time itemprop="datePublished" datetime="2018-05-06">May</time>'
    json_ld = '<script type="application/ld+json">{"datePublished": "2019-01-02"}</script>'
    meta = '<meta property="article:published_time" content="2020-03-04T05:06:07Z">'
    assert published_date(_root(_page(microdata, meta + json_ld))) == "2020-03-04T05:06:07+00:00"
    assert published_date(_root(_page(microdata, json_ld))) == "2019-01-02"
    assert published_date(
        _root(_page(microdata, '<meta property="article:published_time" content="soon">'))
    ) == ("2018-05-06")
    assert published_date(_root(_page("<p>none</p>"))) is None


_SENTENCES = [
    "The minister said on Tuesday that the agreement would be signed before the end of the year.",
    "Critics of the plan argued that it left the poorest households to pay for most of the cost.",
    "",
    " and then ",
    "x < y & z",
]
_ARTICLE_TAGS = ["p", "div", "article", "span", "b", "li", "h1", "script", "style", "svg", "aside", "a"]
_DOOMED = [
    "<script>var s = 'hidden text';</script>",
    '<script type="application/ld+json">{"@type": "NewsArticle", "articleBody": "From JSON-LD."}</script>',
    "<style>p { color: red }</style>",
    '<svg viewBox="0 0 1 1"><title>icon</title><text>drawn</text><path d="M0"/></svg>',
]


@st.composite
def _article(draw: st.DrawFn, depth: int = 0) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(1 if depth == 0 else 0, 4 if depth < 4 else 0))):
        kind = draw(st.integers(0, 2))
        if kind == 0:
            parts.append(draw(st.sampled_from(_SENTENCES)))
        elif kind == 1:
            parts.append(draw(st.sampled_from(_DOOMED)))
        else:
            tag = draw(st.sampled_from(_ARTICLE_TAGS))
            parts.append(f"<{tag}>{draw(_article(depth + 1))}</{tag}>")
    return "".join(parts)


@settings(max_examples=200, deadline=None)
@given(st.lists(_article(), min_size=1, max_size=6), st.sampled_from(_DOOMED))
def test_trafilatura_reads_the_same_without_what_it_deletes(paragraphs: list[str], in_head: str) -> None:
    """Dropping scripts (not JSON-LD) and styles before trafilatura changes nothing
    it extracts, wherever they stand (their tails are kept)."""
    from service.pipeline.extract.reading import _drop_what_trafilatura_deletes, _trafilatura

    markup = _page("".join(f"<p>{p}</p>" for p in paragraphs), f"<title>t</title>{in_head}")
    kept, dropped = _root(markup), _root(markup)
    _drop_what_trafilatura_deletes(dropped, page_tags(dropped))
    assert not dropped.xpath('.//style|.//script[not(@type="application/ld+json")]')
    assert _trafilatura(kept, None) == _trafilatura(dropped, None)


# ---------------------------------------------------------------- trafilatura read in place

_ROOT_DIR = Path(__file__).resolve().parents[3]
_CORPUS = _ROOT_DIR.parent / "shared" / "corpus" / "pages"


def _bare_text(markup: bytes | str, url: str | None) -> str | None:
    """What ``bare_extraction`` reads from a tree of ``markup``, the public way (it copies)."""
    import trafilatura
    from trafilatura.settings import Document

    from service.pipeline.extract.reading import _OPTIONS

    root, _ = parse_html(markup if isinstance(markup, str) else decode_html(markup), 1 << 24)
    assert root is not None
    doc = trafilatura.bare_extraction(root, url=url, **_OPTIONS)  # type: ignore[arg-type]
    return doc.text if isinstance(doc, Document) else None


def _in_place_text(markup: bytes | str, url: str | None) -> str | None:
    from service.pipeline.extract.reading import _in_place

    root, _ = parse_html(markup if isinstance(markup, str) else decode_html(markup), 1 << 24)
    assert root is not None
    return _in_place(root, url)


def test_this_trafilatura_is_read_in_place() -> None:
    """The installed trafilatura has the cascade ``_in_place`` follows (pyproject pins the minor
    release it was checked against): the copy of every page's tree is saved."""
    from service.pipeline.extract.reading import _in_place_usable

    assert _in_place_usable()


@settings(max_examples=150, deadline=None)
@given(st.lists(_article(), min_size=1, max_size=8), st.sampled_from([None, "https://example.com/a"]))
def test_the_in_place_read_gives_bare_extractions_text(paragraphs: list[str], url: str | None) -> None:
    """Any generated article page (scripts, styles, svg, asides, nesting, too short to keep):
    the in-place read and ``bare_extraction`` give the same text, or both discard the page."""
    markup = _page("".join(f"<p>{p}</p>" for p in paragraphs), "<title>t</title>")
    assert _in_place_text(markup, url) == _bare_text(markup, url)


def test_the_in_place_read_gives_bare_extractions_text_on_real_pages() -> None:
    """The repository's real pages (seed and health pages), and the corpus where ``../shared``
    is beside the checkout."""
    pages = sorted((_ROOT_DIR / "tests" / "data").glob("*/*.html"))
    pages += sorted((_ROOT_DIR / "tests" / "data" / "seed" / "pages").glob("*"))
    bodies = [p.read_bytes() for p in pages]
    bodies += [gzip.decompress(p.read_bytes()) for p in sorted(_CORPUS.glob("*.html.gz"))]
    assert len(bodies) >= 10
    url = "https://example.com/"
    differ = [i for i, body in enumerate(bodies) if _in_place_text(body, url) != _bare_text(body, url)]
    assert not differ, [str(pages[i]) if i < len(pages) else f"corpus page {i - len(pages)}" for i in differ]


def test_without_the_in_place_read_bare_extraction_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another trafilatura's cascade: the public call, with the same text."""
    from service.pipeline.extract import reading

    markup = _page("".join(f"<p>{s}</p>" for s in _SENTENCES[:4]), "<title>t</title>")
    expected = _bare_text(markup, None)
    assert expected
    monkeypatch.setattr(reading, "_in_place_usable", lambda: False)
    monkeypatch.setattr(reading, "_in_place", lambda *_: pytest.fail("the in-place read was used"))
    assert reading._trafilatura(_root(markup), None) == expected
