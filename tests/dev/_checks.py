"""Sanity checks: each labelled passage is (or is not) on the cited pages as its label says."""

from __future__ import annotations

import functools
import html
import re
import unicodedata

from _edits import Edit
from _pages import Page, decode_page, key_of, visible_text
from _render import Planned

ELLIPSIS_SPLIT = re.compile(r"\[\s*(?:…|\.\.\.)\s*\]|\.\s\.\s\.|\.\.\.|…")


def alnum(text: str) -> str:
    """Letters and digits only, case-folded: equal under any cosmetic change."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text).casefold())


@functools.cache
def _page_alnum(page_id: str, text: str) -> str:
    return alnum(text)


def on_page(text: str, page: Page) -> bool:
    """On the page up to typography."""
    return alnum(text) in _page_alnum(page.id, page.text)


@functools.cache
def _edited_text(url: str, raw: bytes, charset: str | None) -> str:
    return alnum(visible_text(decode_page(raw, charset)))


def _shingle_share(text: str, pages: list[Page], n: int = 5) -> float:
    ws = re.findall(r"[a-z0-9]+", text.lower())
    grams = [" ".join(ws[i : i + n]) for i in range(len(ws) - n + 1)]
    if not grams:
        return 0.0
    hay = [" ".join(re.findall(r"[a-z0-9]+", p.text.lower())) for p in pages]
    return sum(any(g in h for h in hay) for g in grams) / len(grams)


def _in_order(pieces: list[str], page: Page) -> bool:
    hay = _page_alnum(page.id, page.text)
    pos = 0
    for piece in pieces:
        i = hay.find(alnum(piece), pos)
        if i < 0:
            return False
        pos = i + len(alnum(piece))
    return True


def check_passage(e: Planned, cited: list[Page], edits: dict[str, Edit]) -> str | None:
    """None when the passage relates to the pages as labelled, else what is wrong."""
    home = e.home
    if e.label == "commentary":
        if any(on_page(e.text, p) for p in cited) or _shingle_share(e.text, cited) > 0.2:
            return "commentary found on a cited page"
        return None
    assert home is not None
    others = [p for p in cited if p is not home]
    if e.kind == "verbatim" and key_of(e.text) not in home.index.key:
        return "verbatim passage not on its page"
    if e.kind == "cosmetic" and (
        not on_page(e.text, home) or key_of(e.text).rstrip(".!?;") == key_of(e.orig).rstrip(".!?;")
    ):
        return "cosmetic passage not on page up to typography, or unchanged"
    if e.kind == "elided":
        pieces = [p for p in ELLIPSIS_SPLIT.split(e.text) if p.strip()]
        if len(pieces) < 2 or not _in_order(pieces, home) or on_page(e.text, home):
            return "elided pieces not on page in order"
    if e.label == "altered" and any(on_page(e.text, p) for p in cited):
        return "altered passage is on a cited page"
    if e.label == "misattributed" and (
        on_page(e.text, home) or e.source is None or not on_page(e.text, e.source) or e.source not in others
    ):
        return "misattributed passage not (only) on the other cited page"
    if e.label == "not_found" and (
        any(on_page(e.text, p) for p in cited) or _shingle_share(e.text, cited) > 0.3
    ):
        return "not_found passage overlaps a cited page"
    if e.label == "source_changed":
        ed = edits[home.url]
        if key_of(e.text) not in home.index.key or alnum(e.text) in _edited_text(
            home.url, ed.raw, home.charset
        ):
            return "source_changed passage not only in the first capture"
    return None


def _post_key(post: dict[str, object]) -> str:
    text = str(post["text"])
    if post["format"] == "html":
        text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    text = re.sub(r"(?m)^>\s?", "", text)
    return str(key_of(text))


def check_post(post: dict[str, object], edits: dict[str, Edit]) -> list[str]:
    """Every problem with one post."""
    planned: list[Planned] = post["_planned"]  # type: ignore[assignment]
    cited = []
    for e in planned:
        for p in (e.home, e.source if e.label == "misattributed" else None):
            if p is not None and p not in cited and p.url in post["cites"]:  # type: ignore[operator]
                cited.append(p)
    problems = []
    hay = _post_key(post)
    for e in planned:
        msg = check_passage(e, cited, edits)
        if msg is None and key_of(e.text) not in hay:
            msg = "passage text not in the post"
        if msg:
            problems.append(f"{post['id']} {e.label}/{e.kind}: {msg}: {e.text[:90]!r}")
    return problems
