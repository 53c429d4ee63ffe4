"""Later, edited captures (for `source_changed`) and the replay WARC.

An edit replaces one word of one article sentence in the raw HTML bytes. The word is chosen so that it
occurs once in the visible text and never inside a tag (no URL or attribute changes), and the edit is
kept only if the re-parsed visible text differs from the original exactly at that word.
"""

from __future__ import annotations

import io
import random
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from _mutate import SWAPS
from _pages import Candidate, Page, decode_page, visible_text
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

FIRST_CAPTURE = "2019-11-20T00:00:00Z"
LATER_CAPTURE = "2024-01-01T00:00:00Z"
STOP = {
    "which",
    "their",
    "there",
    "these",
    "those",
    "would",
    "could",
    "should",
    "about",
    "after",
    "before",
    "while",
    "where",
    "other",
    "being",
    "between",
}


@dataclass
class Edit:
    """One page's later version: `old` replaced by `new` in one sentence."""

    page: Page
    old: str
    new: str
    raw: bytes
    sentence: str
    passages: list[Candidate]

    def touches(self, text: str) -> bool:
        """True when a passage contains the edited word."""
        return re.search(rf"\b{re.escape(self.old)}\b", text) is not None

    def describe(self) -> dict[str, str | list[str]]:
        """A JSON-able record of the edit."""
        return {
            "url": self.page.url,
            "old": self.old,
            "new": self.new,
            "sentence": self.sentence,
            "edited_sentence": re.sub(rf"\b{re.escape(self.old)}\b", self.new, self.sentence),
            "captures": [FIRST_CAPTURE, LATER_CAPTURE],
        }


def _inside_tag(raw: bytes, pos: int) -> bool:
    return raw.rfind(b"<", 0, pos) > raw.rfind(b">", 0, pos)


def _try_word(page: Page, sentence: str, w: str, rng: random.Random) -> Edit | None:
    if len(re.findall(rf"\b{re.escape(w)}\b", page.text)) != 1:
        return None
    pat = re.compile(rb"(?<![A-Za-z0-9_-])" + w.encode() + rb"(?![A-Za-z0-9_-])")
    hits = [m.start() for m in pat.finditer(page.raw)]
    if not hits or any(_inside_tag(page.raw, h) for h in hits):
        return None
    vocab = sorted({v for v in re.findall(r"\b[a-z]{5,10}\b", page.text) if v != w})
    new = SWAPS.get(w) or rng.choice(vocab)
    if re.search(rf"\b{re.escape(new)}\b", sentence):
        return None
    raw = pat.sub(new.encode(), page.raw)
    text = visible_text(decode_page(raw, page.charset))
    if text != re.sub(rf"\b{re.escape(w)}\b", new, page.text):
        return None
    passages = [c for c in page.candidates if re.search(rf"\b{re.escape(w)}\b", c.text)]
    return Edit(page, w, new, raw, sentence, passages) if passages else None


def make_edit(page: Page, rng: random.Random) -> Edit | None:
    """Edit one word of one article sentence, or None when no safe word is found."""
    cands = [c for c in page.candidates if c.origin == "sentences" and c.sents[1] - c.sents[0] == 1]
    rng.shuffle(cands)
    for c in cands[:25]:
        words = [w for w in re.findall(r"\b[a-z]{5,12}\b", c.text) if w not in STOP]
        rng.shuffle(words)
        for w in words[:6]:
            e = _try_word(page, c.text, w, rng)
            if e is not None:
                return e
    return None


def make_edits(pages: list[Page], n: int, rng: random.Random) -> dict[str, Edit]:
    """Edits for up to n pages, keyed by URL."""
    order = list(pages)
    rng.shuffle(order)
    out: dict[str, Edit] = {}
    for p in order:
        if len(out) >= n:
            break
        e = make_edit(p, rng)
        if e is not None:
            out[p.url] = e
    return out


def _rid(*parts: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, '|'.join(parts))}>"


def write_capture(writer: WARCWriter, url: str, body: bytes, charset: str | None, date: str) -> None:
    """A request and a response record for one capture of one URL."""
    ctype = f"text/html; charset={charset}" if charset else "text/html"
    http = StatusAndHeaders(
        "200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body)))], protocol="HTTP/1.1"
    )
    resp_id = _rid(url, date, "response")
    resp = writer.create_warc_record(
        url,
        "response",
        payload=io.BytesIO(body),
        length=len(body),
        http_headers=http,
        warc_headers_dict={"WARC-Date": date, "WARC-Record-ID": resp_id},
    )
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    req_http = StatusAndHeaders(
        f"GET {path} HTTP/1.1",
        [("Host", parts.netloc), ("User-Agent", "provenance-devset")],
        is_http_request=True,
    )
    req = writer.create_warc_record(
        url,
        "request",
        http_headers=req_http,
        warc_headers_dict={
            "WARC-Date": date,
            "WARC-Record-ID": _rid(url, date, "request"),
            "WARC-Concurrent-To": resp_id,
        },
    )
    writer.write_record(resp)
    writer.write_record(req)


def write_warc(
    path: Path, pages: list[Page], edits: dict[str, Edit], urls: dict[str, list[str]] | None = None
) -> None:
    """Every page at its URL(s) in 2019, then the edited pages again in 2024."""
    with path.open("wb") as f:
        writer = WARCWriter(f, gzip=True, warc_version="1.1")
        for p in pages:
            for url in (urls or {}).get(p.id, [p.url]):
                write_capture(writer, url, p.raw, p.charset, FIRST_CAPTURE)
        for e in edits.values():
            write_capture(writer, e.page.url, e.raw, e.page.charset, LATER_CAPTURE)
