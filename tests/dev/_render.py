"""Rendering planned passages into posts: board text, greentext, source-above, Markdown and HTML."""

from __future__ import annotations

import html
import random
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from _mutate import hard_wrap
from _pages import Page

NBSP_SEP = "\n\u00a0\n\n\u00a0\n"
INLINE = [
    "He wrote: {q} — unbelievable.",
    "According to the article, {q}",
    "Their own words: {q}",
    "{q} Yeah, sure.",
    "And then this: {q}",
    "Read this part: {q} Let that sink in.",
    "The key line is {q}",
    "Quote: {q}",
]
MD_INLINE = ["As the piece puts it, {q}", "Key line: {q}", "They literally wrote {q} and nobody blinked."]
HTML_INLINE = [
    "As the article says, <q>{p}</q>, which is wild.",
    "Key line: <q>{p}</q>",
    "They wrote <q>{p}</q> and moved on.",
]


@dataclass
class Planned:
    """One labelled passage (or commentary paragraph) and how it is shown."""

    text: str
    label: str
    kind: str
    home: Page | None
    explicit: bool = False
    inline: bool = False
    wrap: bool = False
    origin: str = ""
    source: Page | None = None  # where the words really come from (misattributed, not_found)
    orig: str = ""  # the on-page passage a cosmetic or elided variant was made from


@dataclass
class Group:
    """Passages placed under one cited URL."""

    page: Page
    entries: list[Planned] = field(default_factory=list)


def board_header(when: datetime, rng: random.Random) -> str:
    """An imageboard header line such as `Anonymous 11/21/19 (Thu) 10:11:12 No.12345678`."""
    stamp = when.strftime("%m/%d/%y (%a) %H:%M:%S")
    uid = f" {rng.getrandbits(24):06x} ({rng.randint(1, 40)})" if rng.random() < 0.4 else ""
    return f"Anonymous {stamp}{uid} No.{rng.randint(10_000_000, 49_999_999)}"


def site_name(url: str) -> str:
    """A short outlet name from the host, e.g. `Nytimes`."""
    host = urlsplit(url).hostname or "source"
    parts = [p for p in host.split(".") if p not in {"www", "m", "amp", "edition", "en", "news"}]
    return (parts[0] if parts else host).capitalize()


def _marks(rng: random.Random) -> tuple[str, str]:
    return ("“", "”") if rng.random() < 0.5 else ('"', '"')


def _text_entry(e: Planned, rng: random.Random, greentext: bool) -> str:
    body = hard_wrap(e.text) if e.wrap else e.text
    if not e.explicit:
        return body
    if e.inline:
        o, c = _marks(rng)
        return rng.choice(INLINE).format(q=f"{o}{e.text}{c}")
    if greentext or '"' in e.text or "“" in e.text:
        return "\n".join(">" + line for line in body.split("\n"))
    o, c = _marks(rng)
    return f"{o}{body}{c}"


def render_text(
    groups: list[Group], lead: list[Planned], tail: list[Planned], style: str, header: str, rng: random.Random
) -> str:
    """Board text: URL below (seed), URL above ('Source: URL'), or greentext."""
    sep = NBSP_SEP if style == "seed" and rng.random() < 0.5 else "\n\n"
    paras: list[str] = [header] if header else []
    if style == "seed" and rng.random() < 0.3 and groups[0].page.headline:
        paras.insert(0, groups[0].page.headline)
    paras += [c.text for c in lead]
    for g in groups:
        chunk: list[str] = []
        if style == "source_above":
            chunk.append(rng.choice(["Source: {u}", "{u}", "From {u}:", "Link: {u}"]).format(u=g.page.url))
        for e in g.entries:
            chunk.append(_text_entry(e, rng, style == "greentext"))
        if style != "source_above":
            chunk.append(g.page.url)
        if style == "greentext":
            paras.append("\n".join(chunk))
        else:
            paras += chunk
    paras += [c.text for c in tail]
    return sep.join(paras) + "\n"


def _md_entry(e: Planned, rng: random.Random) -> str:
    body = hard_wrap(e.text) if e.wrap else e.text
    if not e.explicit:
        return body
    if e.inline and '"' not in e.text and "“" not in e.text:
        o, c = _marks(rng)
        return rng.choice(MD_INLINE).format(q=f"{o}{e.text}{c}")
    return "\n".join("> " + line for line in body.split("\n"))


def render_markdown(groups: list[Group], lead: list[Planned], tail: list[Planned], rng: random.Random) -> str:
    """Markdown: `> ` blockquotes, `[Title](url)` before or after, `— [Site](url)` attributions."""
    paras = [c.text for c in lead]
    before = rng.random() < 0.35  # one convention per post, or the groups would be ambiguous
    for g in groups:
        title = g.page.title.replace("[", "(").replace("]", ")")
        if before:
            paras.append(
                rng.choice(["[{t}]({u})", "From [{t}]({u}):", "**[{t}]({u})**"]).format(t=title, u=g.page.url)
            )
        paras += [_md_entry(e, rng) for e in g.entries]
        if not before:
            paras.append(
                rng.choice(["— [{s}]({u})", "[{t}]({u})", "Source: <{u}>", "-- [{s}]({u})"]).format(
                    s=site_name(g.page.url), t=title, u=g.page.url
                )
            )
    paras += [c.text for c in tail]
    return "\n\n".join(paras) + "\n"


def _html_entry(e: Planned, url: str, rng: random.Random) -> str:
    esc = html.escape(e.text, quote=False)
    if not e.explicit:
        return f"<p>{esc}</p>"
    if e.inline:
        return "<p>" + rng.choice(HTML_INLINE).format(p=esc) + "</p>"
    cite = f' cite="{html.escape(url)}"' if rng.random() < 0.7 else ""
    return f"<blockquote{cite}><p>{esc}</p></blockquote>"


def render_html(groups: list[Group], lead: list[Planned], tail: list[Planned], rng: random.Random) -> str:
    """HTML: <blockquote cite>, <p> with <a href>, inline <q>."""
    parts = [f"<p>{html.escape(c.text, quote=False)}</p>" for c in lead]
    before = rng.random() < 0.3  # one convention per post, or the groups would be ambiguous
    for g in groups:
        u = html.escape(g.page.url)
        t = html.escape(g.page.title, quote=False)
        if before:
            parts.append(f'<p>From <a href="{u}">{t}</a>:</p>')
        parts += [_html_entry(e, g.page.url, rng) for e in g.entries]
        if not before:
            parts.append(
                rng.choice(
                    [
                        f'<p>— <a href="{u}">{html.escape(site_name(g.page.url))}</a></p>',
                        f'<p><a href="{u}">{u}</a></p>',
                        f'<p>Source: <a href="{u}">{t}</a></p>',
                    ]
                )
            )
    parts += [f"<p>{html.escape(c.text, quote=False)}</p>" for c in tail]
    return '<div class="post">\n' + "\n".join(parts) + "\n</div>\n"
