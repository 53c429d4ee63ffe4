#!/usr/bin/env python3
"""Build the labelled development set: a WARC of the corpus pages and posts that quote them.

usage: python tests/dev/make_devset.py --corpus ../shared/corpus --out DIR --seed 1 [--posts 400]
       [--pages N] [--max-page-kb K] [--edited 30] [--cited-only]

Writes DIR/pages.warc.gz (every page at its manifest URL, captured 2019-11-20, plus a 2024-01-01
capture with one word edited for a few pages), DIR/posts.jsonl (score.py's labelled format, which is
also batch input) and DIR/edits.json (what was edited). See tests/dev/README.md.

The options after --posts make a small set (tests/data/devset, the CI quality gate): --pages draws the
posts from N pages of the corpus only, --max-page-kb leaves out pages whose HTML is larger, --edited sets
how many pages get a later capture, and --cited-only writes to the WARC only the pages the posts cite.
Without them the output is byte for byte what it always was.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _checks import check_post, on_page
from _edits import Edit, make_edits, write_warc
from _mutate import (
    change_name,
    change_negation,
    change_number,
    commentary,
    cosmetic,
    delete_words,
    elide,
    extend,
    insert_words,
    invented_quote,
    reorder,
    replace_words,
)
from _pages import Candidate, Page, load_corpus, split_sentences, word_count
from _render import Group, Planned, board_header, render_html, render_markdown, render_text

ALTERED = [
    "number_changed",
    "negation_changed",
    "name_changed",
    "words_replaced",
    "words_inserted",
    "words_deleted",
    "spliced",
    "reordered",
    "extended",
]
KIND_WEIGHTS = {
    "verbatim": 22,
    "cosmetic": 11,
    "elided": 10,
    "misattributed": 5,
    "not_found": 5,
    **dict.fromkeys(ALTERED, 3.4),
}
STYLES = {"seed": 22, "inline": 13, "greentext": 10, "source_above": 10, "markdown": 23, "html": 22}
EXPLICIT_SHARE = {"ok": 0.35, "altered": 0.5, "misattributed": 0.5, "not_found": 1.0, "source_changed": 0.5}
FIRST_POST = datetime(2019, 11, 21, tzinfo=UTC)
LAST_POST = datetime(2023, 12, 31, tzinfo=UTC)
EDITED_PAGES = 30
SOURCE_CHANGED_SHARE = 0.15


def label_of(kind: str) -> str:
    """The score label of a kind."""
    if kind in {"verbatim", "cosmetic", "elided"}:
        return "ok"
    if kind in ALTERED:
        return "altered"
    return "source_changed" if kind == "edited" else kind


def _keys(page: Page, c: Candidate) -> set[str]:
    return {f"{page.id}:{c.para}:{i}" for i in range(*c.sents)}


def _free(page: Page, c: Candidate, used: set[str]) -> bool:
    return not (_keys(page, c) & used)


def _fresh(
    page: Page,
    used: set[str],
    edit: Edit | None,
    rng: random.Random,
    pred: Callable[[Candidate], bool] | None = None,
) -> Candidate | None:
    pool = [
        c
        for c in page.candidates
        if _free(page, c, used) and (edit is None or not edit.touches(c.text)) and (pred is None or pred(c))
    ]
    if not pool:
        return None
    c = rng.choice(pool)
    used.update(_keys(page, c))
    return c


def _spliced(page: Page, used: set[str], rng: random.Random) -> str | None:
    singles = [
        c
        for c in page.candidates
        if c.sents[1] - c.sents[0] == 1 and word_count(c.text) <= 45 and _free(page, c, used)
    ]
    if len(singles) < 2:
        return None
    a = rng.choice(singles)
    others = [c for c in singles if c.para != a.para]
    if not others:
        return None
    b = rng.choice(others)
    used.update(_keys(page, a) | _keys(page, b))
    out = f"{a.text} {b.text}"
    return None if on_page(out, page) else out


ALTER_OPS: dict[str, Callable[[str, Page, random.Random], str | None]] = {
    "number_changed": lambda t, p, r: change_number(t, r),
    "negation_changed": lambda t, p, r: change_negation(t, r),
    "name_changed": change_name,
    "words_replaced": replace_words,
    "words_inserted": lambda t, p, r: insert_words(t, r),
    "words_deleted": lambda t, p, r: delete_words(t, r),
    "reordered": lambda t, p, r: reorder(t, r),
    "extended": lambda t, p, r: extend(t, r),
}


def _altered(kind: str, page: Page, used: set[str], edit: Edit | None, rng: random.Random) -> str | None:
    if kind == "spliced":
        return _spliced(page, used, rng)
    op = ALTER_OPS[kind]
    pool = [c for c in page.candidates if _free(page, c, used) and (edit is None or not edit.touches(c.text))]
    if kind == "extended":
        pool = [c for c in pool if word_count(c.text) <= 60]
    if kind == "reordered" and rng.random() < 0.5:
        pool = [c for c in pool if len(split_sentences(c.text)) >= 2] or pool
    rng.shuffle(pool)
    for c in pool[:40]:
        out = op(c.text, page, rng)
        if out and out != c.text and not on_page(out, page):
            used.update(_keys(page, c))
            return out
    return None


def _not_found(cited: list[Page], pool: list[Page], rng: random.Random) -> tuple[str, str, Page | None]:
    if rng.random() < 0.5:
        others = [p for p in pool if p not in cited and p.lang == "en"]
        src = rng.choice(others)
        cands = [
            c
            for c in src.candidates
            if c.origin == "sentences"
            and word_count(c.text) <= 45
            and '"' not in c.text
            and "“" not in c.text
        ]
        if cands:
            return rng.choice(cands).text, "uncited_sentence", src
    return invented_quote(rng.choice(cited), rng), "invented", None


def _make_passage(
    kind: str, home: Page, cited: list[Page], ctx: dict[str, object], rng: random.Random
) -> Planned | None:
    used: set[str] = ctx["used"]  # type: ignore[assignment]
    edits: dict[str, Edit] = ctx["edits"]  # type: ignore[assignment]
    edit = edits.get(home.url)
    label = label_of(kind)
    source: Page | None = home
    origin, orig = "sentences", ""
    if kind == "verbatim":
        if home.headline and f"{home.id}:h" not in used and rng.random() < 0.12:
            used.add(f"{home.id}:h")
            text, origin = home.headline, "headline"
        else:
            c = _fresh(home, used, edit, rng)
            if c is None:
                return None
            text, origin = c.text, c.origin
    elif kind in {"cosmetic", "elided"}:
        c = _fresh(home, used, edit, rng, (lambda c: word_count(c.text) >= 14) if kind == "elided" else None)
        out = (cosmetic if kind == "cosmetic" else elide)(c.text, rng) if c else None
        if out is None or c is None:
            return None
        text, origin, orig = out, c.origin, c.text
    elif kind in ALTERED:
        if home.lang != "en":
            return None
        out = _altered(kind, home, used, edit, rng)
        if out is None:
            return None
        text = out
    elif kind == "misattributed":
        others = [p for p in cited if p is not home]
        if not others:
            return None
        source = rng.choice(others)
        c = _fresh(source, used, edits.get(source.url), rng)
        if c is None:
            return None
        text = c.text
    elif kind == "not_found":
        text, kind, source = _not_found(cited, ctx["pool"], rng)  # type: ignore[arg-type]
    elif kind == "edited":
        if edit is None:
            return None
        free = [c for c in edit.passages if _free(home, c, used)]
        if not free:
            return None
        c = rng.choice(free)
        used.update(_keys(home, c))
        text = c.text
    else:
        raise ValueError(kind)
    share = EXPLICIT_SHARE.get(label, 0.5)
    explicit = rng.random() < share
    p = Planned(text, label, kind, home, explicit=explicit, origin=origin, source=source, orig=orig)
    p.inline = (
        explicit and '"' not in text and "“" not in text and word_count(text) <= 60 and rng.random() < 0.5
    )
    p.wrap = (not p.inline) and kind in {"cosmetic", "verbatim"} and rng.random() < 0.25
    return p


def _pick_kinds(n: int, rng: random.Random) -> list[str]:
    names = list(KIND_WEIGHTS)
    return rng.choices(names, weights=[KIND_WEIGHTS[k] for k in names], k=n)


def build_post(i: int, pool: list[Page], edits: dict[str, Edit], rng: random.Random) -> dict[str, object]:
    """One labelled post: pick pages and kinds, make the passages, render in some style."""
    style = rng.choices(list(STYLES), weights=list(STYLES.values()))[0]
    k = rng.choices([1, 2, 3], weights=[4, 4, 2])[0]
    cited: list[Page] = []
    with_edit = rng.random() < SOURCE_CHANGED_SHARE
    if with_edit:
        cited.append(rng.choice([p for p in pool if p.url in edits]))
    while len(cited) < k:
        p = rng.choice(pool)
        if p not in cited:
            cited.append(p)
    rng.shuffle(cited)
    n = max(k, rng.randint(2, 8))
    kinds = _pick_kinds(n, rng)
    ctx: dict[str, object] = {"used": set(), "edits": edits, "pool": pool}
    groups = [Group(p) for p in cited]
    if with_edit:
        slot = next(j for j, p in enumerate(cited) if p.url in edits)
        kinds[slot] = "edited"
    for j, kind in enumerate(kinds):
        home = cited[j % k] if j < k else rng.choice(cited)
        p = _make_passage(kind, home, cited, ctx, rng) or _make_passage("verbatim", home, cited, ctx, rng)
        if p is not None:
            next(g for g in groups if g.page is home).entries.append(p)
    for g in groups:
        rng.shuffle(g.entries)
    groups = [g for g in groups if g.entries]
    lead: list[Planned] = []
    tail: list[Planned] = []
    for _ in range(rng.choices([0, 1, 2, 3], weights=[3, 4, 2, 1])[0]):
        c = Planned(commentary(cited, rng), "commentary", "commentary", None)
        where = rng.random()
        if where < 0.3:
            lead.append(c)
        elif where < 0.6:
            tail.append(c)
        else:
            g = rng.choice(groups)
            g.entries.insert(rng.randint(0, len(g.entries)), c)
    when = FIRST_POST + timedelta(seconds=rng.randint(0, int((LAST_POST - FIRST_POST).total_seconds())))
    if style in {"seed", "inline", "greentext", "source_above"}:
        header = board_header(when, rng) if style != "inline" or rng.random() < 0.5 else ""
        text, fmt = render_text(groups, lead, tail, style, header, rng), "text"
    elif style == "markdown":
        text, fmt = render_markdown(groups, lead, tail, rng), "markdown"
    else:
        text, fmt = render_html(groups, lead, tail, rng), "html"
    ordered = lead + [e for g in groups for e in g.entries] + tail
    return {
        "id": f"dev-{i:04d}",
        "text": text,
        "format": fmt,
        "posted_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "style": style,
        "cites": [p.url for p in cited if any(g.page is p for g in groups)],
        "passages": [
            {
                "text": e.text,
                "label": e.label,
                "kind": e.kind,
                "explicit": e.explicit,
                **({"origin": e.origin} if e.origin else {}),
            }
            for e in ordered
        ],
        "_planned": ordered,
    }


def summarize(posts: list[dict[str, object]]) -> str:
    """Per-kind, per-label, per-style and explicit counts."""
    kinds: collections.Counter[str] = collections.Counter()
    labels: collections.Counter[str] = collections.Counter()
    explicit: collections.Counter[str] = collections.Counter()
    styles = collections.Counter(str(p["style"]) for p in posts)
    for p in posts:
        for q in p["passages"]:  # type: ignore[attr-defined]
            kinds[f"{q['label']}/{q['kind']}"] += 1
            labels[q["label"]] += 1
            explicit[q["label"]] += bool(q["explicit"])
    lines = [
        f"posts {len(posts)}, passages {sum(labels.values())}",
        "styles: " + ", ".join(f"{k} {v}" for k, v in sorted(styles.items())),
        "labels (explicit): " + ", ".join(f"{k} {v} ({explicit[k]})" for k, v in sorted(labels.items())),
        "kinds:",
    ]
    lines += [f"  {k:32s} {v}" for k, v in sorted(kinds.items())]
    return "\n".join(lines)


def _small_pool(pages: list[Page], n: int | None, max_kb: int | None, rng: random.Random) -> list[Page]:
    """The pages posts are drawn from: every usable page, or n of them (corpus order) at most max_kb each."""
    pool = [p for p in pages if p.latin and len(p.candidates) >= 6]
    if max_kb is not None:
        pool = [p for p in pool if len(p.raw) <= max_kb * 1024]
    if n is not None and n < len(pool):
        chosen = set(rng.sample(range(len(pool)), n))
        pool = [p for i, p in enumerate(pool) if i in chosen]
    return pool


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--posts", type=int, default=400)
    ap.add_argument("--pages", type=int, default=None, help="draw the posts from N pages only")
    ap.add_argument("--max-page-kb", type=int, default=None, help="leave out pages with more HTML")
    ap.add_argument("--edited", type=int, default=EDITED_PAGES, help="pages with a 2024 capture")
    ap.add_argument("--cited-only", action="store_true", help="WARC: only the pages the posts cite")
    args = ap.parse_args(argv)
    if not (args.corpus / "manifest.jsonl").is_file():
        print(f"no corpus at {args.corpus}", file=sys.stderr)
        return 2
    rng = random.Random(args.seed)
    pages = load_corpus(args.corpus)
    pool = _small_pool(pages, args.pages, args.max_page_kb, rng)
    edits = make_edits([p for p in pool if p.lang == "en"], args.edited, rng)
    args.out.mkdir(parents=True, exist_ok=True)
    posts = [build_post(i, pool, edits, rng) for i in range(args.posts)]
    if args.cited_only:
        cited = {str(u) for post in posts for u in post["cites"]}  # type: ignore[attr-defined]
        pages = [p for p in pages if p.url in cited]
        edits = {u: e for u, e in edits.items() if u in cited}
    write_warc(args.out / "pages.warc.gz", pages, edits)
    problems = [msg for post in posts for msg in check_post(post, edits)]
    with (args.out / "posts.jsonl").open("w", encoding="utf-8") as f:
        for post in posts:
            out = {k: v for k, v in post.items() if not k.startswith("_")}
            f.write(json.dumps(out, ensure_ascii=False) + "\n")
    (args.out / "edits.json").write_text(
        json.dumps([e.describe() for e in edits.values()], ensure_ascii=False, indent=1) + "\n",
        encoding="utf-8",
    )
    print(summarize(posts))
    for msg in problems[:30]:
        print("CHECK:", msg, file=sys.stderr)
    print(f"checks: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
