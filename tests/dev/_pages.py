"""Corpus pages for the development set: raw bytes, visible text and passages that are really on the page.

The ground-truth bodies have annotator spacing quirks, so every passage is located in the page's own
visible text (whitespace-insensitive, after NFKC) and taken from there, never from the body.
"""

from __future__ import annotations

import gzip
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import lxml.html
from charset_normalizer import from_bytes

LATIN_LANGS = {"en", "pt", "it", "id", "de"}
DROP_TAGS = {"script", "style", "noscript", "template", "svg", "head", "iframe", "object"}
BLOCK_TAGS = {
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "section",
    "article",
    "header",
    "footer",
    "nav",
    "aside",
    "table",
    "tr",
    "td",
    "th",
    "blockquote",
    "figure",
    "figcaption",
    "main",
    "form",
    "dd",
    "dt",
    "dl",
    "pre",
    "hr",
    "option",
    "button",
    "label",
    "title",
}
CHARSET_RE = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.I)
SENT_END_RE = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"“‘'(\[]?[A-Z0-9À-Ý])")
WORD_RE = re.compile(r"[A-Za-z0-9À-ÿ]+(?:['’][A-Za-z]+)?")
BAD_PASSAGE_RE = re.compile(r"\.\.\.|…|\[|\]|https?://|www\.|\{|\}|<|>|\|")


def key_of(text: str) -> str:
    """Matching key: NFKC, no whitespace (the body's spacing is unreliable)."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def word_count(text: str) -> int:
    """Words as a reader counts them."""
    return len(WORD_RE.findall(text))


def declared_charset(raw: bytes) -> str | None:
    """The charset a page declares in a <meta> tag, if any."""
    m = CHARSET_RE.search(raw[:65536]) or CHARSET_RE.search(raw)
    return m.group(1).decode("ascii").lower() if m else None


def decode_page(raw: bytes, charset: str | None) -> str:
    """Decode page bytes the way a browser would, roughly."""
    for enc in ([charset] if charset else []) + ["utf-8"]:
        try:
            return raw.decode(enc)
        except (LookupError, UnicodeDecodeError):
            continue
    best = from_bytes(raw).best()
    return str(best) if best is not None else raw.decode("utf-8", "replace")


def visible_text(html: str) -> str:
    """Body text with a space at block boundaries and collapsed whitespace (inline joins kept)."""
    html = re.sub(r"^\s*<\?xml[^>]*\?>", "", html)
    root = lxml.html.document_fromstring(html)
    body = root.find("body")
    node = body if body is not None else root
    parts: list[str] = []

    def walk(el: lxml.html.HtmlElement) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in DROP_TAGS or not tag:
            if el.tail:
                parts.append(el.tail)
            return
        block = tag in BLOCK_TAGS
        if block:
            parts.append(" ")
        if el.text:
            parts.append(el.text)
        for child in el:
            walk(child)
        if block:
            parts.append(" ")
        if el.tail:
            parts.append(el.tail)

    walk(node)
    return " ".join("".join(parts).split())


def headline_of(html: str) -> list[str]:
    """Headline candidates: h1, og:title, <title>, in that order."""
    html = re.sub(r"^\s*<\?xml[^>]*\?>", "", html)
    root = lxml.html.document_fromstring(html)
    out = [" ".join(h.text_content().split()) for h in root.iter("h1")]
    out += [
        " ".join((m.get("content") or "").split())
        for m in root.iter("meta")
        if m.get("property") == "og:title"
    ]
    out += [" ".join(t.text_content().split()) for t in root.iter("title")]
    return [h for h in out if h]


class TextIndex:
    """Whitespace-insensitive lookup into a page's visible text, mapping hits back to the page's spans."""

    def __init__(self, text: str) -> None:
        self.text = text
        keys: list[str] = []
        pos: list[int] = []
        for i, ch in enumerate(text):
            for k in key_of(ch):
                keys.append(k)
                pos.append(i)
        self.key = "".join(keys)
        self.pos = pos
        self.fold = self.key.casefold() if len(self.key.casefold()) == len(self.key) else None

    def find(self, needle: str) -> tuple[int, int] | None:
        """Span of the page text whose key equals the needle's key, or None."""
        k = key_of(needle)
        if not k:
            return None
        i = self.key.find(k)
        if i < 0:
            return None
        return self.pos[i], self.pos[i + len(k) - 1] + 1

    def contains(self, needle: str) -> bool:
        """True when the needle is on the page, ignoring whitespace."""
        k = key_of(needle)
        return bool(k) and k in self.key

    def count(self, needle: str) -> int:
        """How many times the needle occurs (whitespace-insensitive)."""
        k = key_of(needle)
        return self.key.count(k) if k else 0


@dataclass
class Candidate:
    """A passage that is on the page: 1-3 sentences or a whole paragraph."""

    text: str
    para: int
    sents: tuple[int, int]
    origin: str  # "sentences" | "paragraph" | "headline"


@dataclass
class Page:
    """One corpus page and what the generator needs of it."""

    id: str
    url: str
    lang: str
    raw: bytes
    charset: str | None
    text: str
    index: TextIndex
    paragraphs: list[list[str]] = field(default_factory=list)  # page-spelled sentences per paragraph
    candidates: list[Candidate] = field(default_factory=list)
    headline: str | None = None
    names: list[str] = field(default_factory=list)
    title: str = ""

    @property
    def latin(self) -> bool:
        """Languages whose words score.py can count."""
        return self.lang in LATIN_LANGS


ABBREV_RE = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|St|Sr|Jr|Gov|Sen|Rep|Lt|Gen|Col|Sgt|Capt|Prof|Inc|Corp|Co|Ltd|No|vs"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec|[A-Z])|\b(?:[A-Za-z]\.){2,}|a\.m|p\.m)\.$"
)


def split_sentences(par: str) -> list[str]:
    """Sentences of one paragraph (a plain rule with common abbreviations; good enough for news)."""
    out: list[str] = []
    for piece in (s.strip() for s in SENT_END_RE.split(par)):
        if not piece:
            continue
        if out and ABBREV_RE.search(out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


def balanced(text: str) -> bool:
    """No dangling quotation marks or brackets."""
    return (
        text.count("“") == text.count("”") and text.count('"') % 2 == 0 and text.count("(") == text.count(")")
    )


def _good(text: str) -> bool:
    return 12 <= word_count(text) <= 120 and balanced(text) and not BAD_PASSAGE_RE.search(text)


def _page_paragraphs(body: str, index: TextIndex) -> list[list[str]]:
    out: list[list[str]] = []
    for bpar in re.split(r"\n+", body):
        if not bpar.strip():
            continue
        span = index.find(bpar)
        if span is not None:
            out.append(split_sentences(index.text[span[0] : span[1]]))
            continue
        sents = []
        for s in split_sentences(bpar):
            sp = index.find(s)
            if sp is not None:
                sents.append(index.text[sp[0] : sp[1]])
        if sents:
            out.append(sents)
    return out


def _candidates(paragraphs: list[list[str]], index: TextIndex) -> list[Candidate]:
    out: list[Candidate] = []
    seen: set[str] = set()
    for pi, sents in enumerate(paragraphs):
        whole = " ".join(sents)
        if len(sents) > 1 and _good(whole) and index.contains(whole) and whole not in seen:
            seen.add(whole)
            out.append(Candidate(whole, pi, (0, len(sents)), "paragraph"))
        for i in range(len(sents)):
            for n in (1, 2, 3):
                if i + n > len(sents):
                    break
                t = " ".join(sents[i : i + n])
                if _good(t) and t not in seen and index.contains(t):
                    sp = index.find(t)
                    if sp is None:
                        continue
                    t = index.text[sp[0] : sp[1]]
                    seen.add(t)
                    out.append(Candidate(t, pi, (i, i + n), "sentences"))
    return out


NAME_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]{2,}(?:\s[A-Z][a-z]{2,})?)\b")
NOT_NAMES = {
    "The",
    "This",
    "That",
    "These",
    "Those",
    "But",
    "And",
    "When",
    "While",
    "There",
    "They",
    "His",
    "Her",
    "Its",
    "Our",
    "Their",
    "What",
    "Who",
    "How",
    "Why",
    "Where",
    "After",
    "Before",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "For",
    "With",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Sept",
    "Oct",
    "Nov",
    "Dec",
    "Mr",
    "Mrs",
    "Ms",
    "Dr",
    "She",
    "He",
    "It",
    "We",
    "You",
    "In",
    "On",
    "At",
    "As",
    "If",
    "So",
    "Some",
    "One",
    "Many",
    "Most",
    "All",
    "Not",
    "Now",
}


def _names(paragraphs: list[list[str]]) -> list[str]:
    seen: dict[str, int] = {}
    for sents in paragraphs:
        for s in sents:
            for m in NAME_RE.finditer(s):
                n = m.group(1)
                if n.split()[0] not in NOT_NAMES:
                    seen[n] = seen.get(n, 0) + 1
    return sorted(seen, key=lambda n: (-seen[n], n))


def load_page(corpus: Path, meta: dict[str, str]) -> Page:
    """Read one manifest entry into a Page with its on-page passages."""
    raw = gzip.decompress((corpus / meta["html"]).read_bytes())
    charset = declared_charset(raw)
    html = decode_page(raw, charset)
    text = visible_text(html)
    index = TextIndex(text)
    paragraphs = _page_paragraphs(meta["body"], index)
    page = Page(meta["id"], meta["url"], meta.get("lang", "en"), raw, charset, text, index, paragraphs)
    page.candidates = _candidates(paragraphs, index)
    heads = headline_of(html)
    page.title = heads[0] if heads else meta["url"]
    for h in heads:
        if 4 <= word_count(h) <= 30 and index.contains(h) and balanced(h) and not BAD_PASSAGE_RE.search(h):
            sp = index.find(h)
            if sp is not None:
                page.headline = text[sp[0] : sp[1]]
                break
    page.names = _names(paragraphs)
    return page


def load_corpus(corpus: Path) -> list[Page]:
    """Every page of the manifest, in manifest order."""
    with (corpus / "manifest.jsonl").open(encoding="utf-8") as f:
        metas = [json.loads(line) for line in f if line.strip()]
    return [load_page(corpus, m) for m in metas]
