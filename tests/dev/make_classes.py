"""Development posts for the editorial classes of issue 10, built on the checked-in devset's pages.

usage: python tests/dev/make_classes.py [--out tests/data/classes]

Every passage comes from a verbatim passage of ``tests/data/devset/posts.jsonl`` under a post that
cites one page (so its page is known), and is replayed from ``tests/data/devset/pages.warc.gz``.
Classes (label, kind): a sentence whose negation/condition/hedge/quantifier/denial an ellipsis
removes (altered, misleading_elision); the same sentence with 2-3 class-free words elided (ok,
harmless_elision); ``[sic]`` or ``(emphasis added)`` put in (ok, editorial_note); the sentence in
spaced guillemets « … » (ok, guillemets); an invented sentence in guillemets or „…“ (not_found,
invented_marks); a sentence of the source that opens with its own quotation, in straight quotes
nested in straight quotes (ok, nested_quotes). Then citation and frame classes (``build_citations``),
among them the marks keyboards give (keyboard_marks) and a news paragraph's own quotation with its
attribution, the source's (source_tail) or the poster's paraphrase (paraphrased_tail).
Deterministic: the same input gives the same bytes. A development set, not a held-out measure.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.dev._pages import declared_charset, decode_page, visible_text  # noqa: E402

DEVSET = ROOT / "tests" / "data" / "devset" / "posts.jsonl"
# The generator's own word lists, kept apart from the product's (service/pipeline/align/lexicon.py).
CLASS_WORDS = {"not", "never", "no", "if", "unless", "allegedly", "reportedly", "may", "might",
               "could", "would", "few", "only", "denied", "nothing", "without", "cannot", "should",
               "almost"}  # fmt: skip
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z“\"])")
_INVENTED = [
    "The committee will publish every internal email from the last ten years before the vote",
    "Officials admitted privately that the figures had been invented from the very beginning",
    "Nobody at the ministry had read the report before it was sent to the printers",
]


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.split(" ".join(text.split())) if 10 <= len(s.split()) <= 45]


def _bare(word: str) -> str:
    return re.sub(r"[^\w']", "", word.lower())


def _misleading(sentence: str) -> str | None:
    words = sentence.split(" ")
    for i in range(3, len(words) - 3):
        if _bare(words[i]) in CLASS_WORDS and not re.search(r"[,;:]$", words[i - 1]):
            return " ".join([*words[:i], "…", *words[i + 1 :]])
    return None


def _harmless(sentence: str, rng: random.Random) -> str | None:
    words = sentence.split(" ")
    if any(_bare(w) in CLASS_WORDS for w in words) or len(words) < 12:
        return None
    i = rng.randint(3, len(words) - 6)
    n = rng.randint(2, 3)
    if any(re.search(r"[.!?,;:]$", w) for w in words[i - 1 : i + n]):
        return None
    return " ".join([*words[:i], "...", *words[i + n :]])


def _note(sentence: str, rng: random.Random) -> str:
    words = sentence.split(" ")
    if rng.random() < 0.5:
        return sentence.rstrip(".") + " (emphasis added)."
    i = rng.randint(2, len(words) - 2)
    return " ".join([*words[:i], "[sic]", *words[i:]])


def _passage(text: str, label: str, kind: str) -> dict[str, object]:
    return {"text": text, "label": label, "kind": kind, "explicit": True}


def _post(
    n: int, url: str, posted_at: str, items: list[tuple[str, str, dict[str, object]]]
) -> dict[str, object]:
    """items: (text as written in the post, ...) with the passage; spans computed on the written post."""
    body, passages = "", []
    for written, inner, passage in items:
        start = len(body) + written.index(inner)
        passage = {**passage, "span": [start, start + len(inner)]}
        body += written + "\n\n"
        passages.append(passage)
    text = body + url
    return {"id": f"cls-{n:04d}", "text": text, "format": "text", "posted_at": posted_at, "style": "classes",
            "cites": [url], "passages": passages}  # fmt: skip


def build() -> list[dict[str, object]]:
    rng = random.Random(10)
    posts, n = [], 0
    for line in DEVSET.read_text(encoding="utf-8").splitlines():
        post = json.loads(line)
        if len(post["cites"]) != 1:
            continue
        items = []
        for p in post["passages"]:
            if p["kind"] != "verbatim":
                continue
            for s in _sentences(p["text"]):
                if s.startswith("“") and s.count("“") == 1 and s.count("”") == 1:
                    inner = s.replace("“", '"').replace("”", '"')
                    items.append((f'Look: "{inner}"', inner, _passage(inner, "ok", "nested_quotes")))
                    continue
                if '"' in s or "“" in s or "«" in s:
                    continue
                if (m := _misleading(s)) is not None:
                    items.append((f"“{m}”", m, _passage(m, "altered", "misleading_elision")))
                elif (h := _harmless(s, rng)) is not None:
                    items.append((f"“{h}”", h, _passage(h, "ok", "harmless_elision")))
                if rng.random() < 0.5:
                    t = _note(s, rng)
                    items.append((f"“{t}”", t, _passage(t, "ok", "editorial_note")))
                else:
                    items.append((f"Il écrit : « {s} »", s, _passage(s, "ok", "guillemets")))
        if not items:
            continue
        invented = _INVENTED[n % len(_INVENTED)]
        mark = f"« {invented} »" if n % 2 else f"„{invented}“"
        items.append((f"Und dann: {mark}", invented, _passage(invented, "not_found", "invented_marks")))
        posts.append(_post(n, post["cites"][0], post["posted_at"], items[:6]))
        n += 1
    return posts


# ---------------------------------------------------------------- citations and frames (points 2, 3)

_MY6SENSE = "https://my6sense.com/2018/07/02/native-ad-platform-my6sense-names-mobile-marketing-pioneer-ivan-braiker-chief-strategy-officer/"
_MY6SENSE_TEXT = (
    "my6sense’s Cross-Network Exchange offers out-of-the-box scalability by interconnecting media groups "
    "and third party demand and supply providers with an open programmatic RTB exchange. For more "
    "information, please visit www.my6sense.com."
)
_ASCOM = (
    "https://www.ascom.com/news-and-events/Ascom-business-news/Ascom-announces-a-strategic-distribution-"
    "partnership-with-GE-Healthcare-in-Europe-for-intensive-care-units.html"
)
_ASCOM_TEXT = (
    "For more information on the Digistat Patient Watch solution, as well as on Ascom’s innovative clinical "
    "care solutions, please visit: www.ascom.com"
)
_CHANGED = _MY6SENSE_TEXT.replace("an open", "a closed")
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3})(?![\w.,]\d)")
_PRONOUNS = ("He", "She", "They", "It")


def _pages() -> list[tuple[str, str, list[str]]]:
    """(url, posted_at, sentences) of every devset page cited alone, with quotable sentences."""
    pages: dict[str, tuple[str, list[str]]] = {}
    for line in DEVSET.read_text(encoding="utf-8").splitlines():
        post = json.loads(line)
        if len(post["cites"]) != 1:
            continue
        url = post["cites"][0]
        _, sentences = pages.setdefault(url, (post["posted_at"], []))
        for p in post["passages"]:
            if p["kind"] == "verbatim":
                sentences += [
                    s for s in _sentences(p["text"]) if not re.search(r"[\"“”«»\[\]]|https?:|www\.", s)
                ]
    return [(url, at, list(dict.fromkeys(ss))) for url, (at, ss) in pages.items() if len(set(ss)) >= 2]


def _changed_number(sentence: str) -> str | None:
    m = _NUMBER.search(sentence)
    if m is None:
        return None
    return sentence[: m.start()] + str(int(m.group(1)) + 3) + sentence[m.end() :]


def _host(url: str) -> str:
    host = url.split("/")[2]
    return host if host.startswith("www.") else "www." + host


def _site(url: str) -> str:
    return _host(url)[4:].split(".")[0].title()


def _compose(
    n: str,
    posted_at: str,
    cites: list[str],
    pieces: list[str | tuple[str, str, dict[str, object]]],
    fmt: str = "text",
) -> dict[str, object]:
    """pieces: paragraphs, each plain text or (as written, the passage's text in it, the passage)."""
    body, passages = "", []
    for piece in pieces:
        if isinstance(piece, tuple):
            written, inner, passage = piece
            start = len(body) + written.index(inner)
            passages.append({**passage, "span": [start, start + len(inner)]})
            piece = written
        body += ("\n\n" if body else "") + piece
    return {"id": n, "text": body, "format": fmt, "posted_at": posted_at, "style": "citations",
            "cites": cites, "passages": passages}  # fmt: skip


def _item(
    written: str, inner: str, label: str, kind: str, explicit: bool = True
) -> tuple[str, str, dict[str, object]]:
    return (written, inner, {"text": inner, "label": label, "kind": kind, "explicit": explicit})


def _domain_posts(pages: list[tuple[str, str, list[str]]]) -> list[dict[str, object]]:
    """A site named inside the copied words: part of the quotation, never its citation."""
    posts = [
        _compose("cit-d00", "2021-03-04T10:00:00Z", [_MY6SENSE], [
            _item(_MY6SENSE_TEXT, _MY6SENSE_TEXT, "ok", "domain_in_text", explicit=False), _MY6SENSE]),
        _compose("cit-d01", "2021-03-04T10:00:00Z", [_ASCOM], [
            _item(f"“{_ASCOM_TEXT}”", _ASCOM_TEXT, "ok", "domain_in_text"), _ASCOM]),
        _compose("cit-d02", "2021-03-04T10:00:00Z", [_MY6SENSE], [
            _item(f"“{_CHANGED}”", _CHANGED, "altered", "domain_in_text"), _MY6SENSE]),
    ]  # fmt: skip
    for i, (url, at, sentences) in enumerate(pages):
        changed = next((c for s in sentences if (c := _changed_number(s)) is not None), None)
        if changed is None:
            continue
        text = f"{changed.rstrip('.')}; {_host(url)}."
        explicit = i % 2 == 0
        written = f"“{text}”" if explicit else text
        item = _item(written, text, "altered", "domain_in_text", explicit)
        posts.append(_compose(f"cit-d{i + 3:02d}", at, [url], [item, url]))
    return posts


def _link_text_posts(pages: list[tuple[str, str, list[str]]]) -> list[dict[str, object]]:
    """A Markdown link whose text is a domain: a link to its target, not a source of its own."""
    posts = []
    for i, (url, at, sentences) in enumerate(pages):
        s = sentences[0]
        changed = _changed_number(s) if i % 3 == 2 else None
        text, label = (changed, "altered") if changed else (s, "ok")
        link = f"[{_host(url)}]({url})"
        pieces: list[str | tuple[str, str, dict[str, object]]] = (
            [_item(f"> {text}", text, label, "domain_link_text"), f"— {link}"]
            if i % 2 else [f"From {link}:", _item(f"> {text}", text, label, "domain_link_text")]
        )  # fmt: skip
        posts.append(_compose(f"cit-l{i:02d}", at, [url], pieces, fmt="markdown"))
    return posts


def _pairs(pages: list[tuple[str, str, list[str]]]) -> list[tuple[tuple[str, str, list[str]], ...]]:
    return [(pages[i], pages[(i + 1) % len(pages)]) for i in range(len(pages))]


def _lead_in_posts(pages: list[tuple[str, str, list[str]]]) -> list[dict[str, object]]:
    """Lead-in sentences carry their link to the quotation that follows (a long one, then a short one)."""
    leads = (
        ("The [{site}]({url}) wrote this today:", "And [{site}]({url}) says:", "markdown"),
        ("Here is what the {site} story at {url} says:", "Then {url} says:", "text"),
        ("According to this report in the {site}, {url} :", "Also {url}:", "text"),
    )
    posts = []
    for i, ((a, at, sa), (b, _, sb)) in enumerate(_pairs(pages)):
        long, short, fmt = leads[i % len(leads)]
        quote = "> {}" if fmt == "markdown" else "“{}”"
        pieces: list[str | tuple[str, str, dict[str, object]]] = []
        for lead, url, s in ((long, a, sa[0]), (short, b, sb[1])):
            pieces += [lead.format(site=_host(url)[4:].split(".")[0].title(), url=url),
                       _item(quote.format(s), s, "ok", "lead_in")]  # fmt: skip
        posts.append(_compose(f"cit-i{i:02d}", at, [a, b], pieces, fmt=fmt))
    return posts


def _multi_url_posts(pages: list[tuple[str, str, list[str]]]) -> list[dict[str, object]]:
    """Several URLs on one line cite all of them: a passage found in any is faithful."""
    posts = []
    for i, ((a, at, sa), (b, _, sb)) in enumerate(_pairs(pages)):
        changed = _changed_number(sb[0]) if i % 3 == 1 else None
        pieces: list[str | tuple[str, str, dict[str, object]]] = [
            _item(f"“{sa[0]}”", sa[0], "ok", "multi_url"),
            _item(f"“{changed}”", changed, "altered", "multi_url") if changed
            else _item(f"“{sb[0]}”", sb[0], "ok", "multi_url"),
            (f"Sources: {a}, {b}", f"{a} {b}", f"Sources:\n- {a}\n- {b}")[i % 3],
        ]  # fmt: skip
        posts.append(_compose(f"cit-m{i:02d}", at, [a, b], pieces))
    return posts


def _reference_posts(pages: list[tuple[str, str, list[str]]]) -> list[dict[str, object]]:
    """``[n]`` markers in the text cite the reference list's entry n; the wrong entry is misattributed."""
    posts = []
    for i, ((a, at, sa), (b, _, sb)) in enumerate(_pairs(pages)):
        wrong = i % 4 == 3
        first = sa[0].rstrip(".")
        second = sb[0].rstrip(".")
        para = f"{first} [1]. {second} [{1 if wrong else 2}]."
        pieces: list[str | tuple[str, str, dict[str, object]]] = [
            "Two things worth reading this week.",
            _item(para, first, "ok", "reference_list", explicit=False),
            f"[1] {a}\n[2] {b}" if i % 2 else f"[1] {_site(a)}, “Read this”, {a}\n[2] {_site(b)}, {b}",
        ]
        post = _compose(f"cit-r{i:02d}", at, [a, b], pieces)
        start = post["text"].index(second)  # type: ignore[attr-defined]
        label = "misattributed" if wrong else "ok"
        post["passages"].append({"text": second, "label": label, "kind": "reference_list", "explicit": False,  # type: ignore[attr-defined]
                                 "span": [start, start + len(second)]})  # fmt: skip
        posts.append(post)
    return posts


def _frame_posts(pages: list[tuple[str, str, list[str]]]) -> list[dict[str, object]]:
    """The poster's words around a quotation: comments, pronoun lead-ins, counters, attribution tails."""
    posts = []
    for i, (url, at, sentences) in enumerate(pages):
        s, t = sentences[0], sentences[1]
        words = s.split(" ")
        inner = " ".join(words[2:]).rstrip(".")
        frame_quote = f"{_PRONOUNS[i % 4]} {words[1]} “{inner}”."
        changed = _changed_number(t)
        tail_text, tail_label = (changed, "altered") if changed and i % 2 else (t, "ok")
        pieces: list[str | tuple[str, str, dict[str, object]]] = [
            _item(f"Wow. “{s}” {url}", s, "ok", "frame_comment"),
            _item(frame_quote, inner, "ok", "frame_comment"),
            _item(f"1/ “{t}”", t, "ok", "thread_counter"),
            _item(f"2/5 {s}", s, "ok", "thread_counter", explicit=False),
            _item(f"“{tail_text}” — {_host(url)[4:].split('.')[0].upper()}", tail_text, tail_label,
                  "attribution_tail"),
            _item(f"“{s.rstrip('.')},” the report said.", s.rstrip("."), "ok", "attribution_tail"),
            _item(f">{t} — {_site(url)}", t, "ok", "attribution_tail"),
        ]  # fmt: skip
        posts.append(_compose(f"cit-f{i:02d}", at, [url], [*pieces, url]))
    return posts


# Quotation marks as keyboards give them: ASCII guillemets, one mark on both sides, mismatched pairs.
_KEYBOARD_MARKS = (("<<", ">>"), ("<< ", " >>"), ("”", "”"), ("»", "»"), ("“", '"'), ('"', "”"), ("„", '"'))


def _mark_posts(pages: list[tuple[str, str, list[str]]]) -> list[dict[str, object]]:
    """A sentence of the page and an invented one in the marks keyboards give: a quotation either way."""
    posts = []
    for i, (url, at, sentences) in enumerate(pages):
        a, b = _KEYBOARD_MARKS[i % len(_KEYBOARD_MARKS)]
        c, d = _KEYBOARD_MARKS[(i + 3) % len(_KEYBOARD_MARKS)]
        s, invented = sentences[0], _INVENTED[i % len(_INVENTED)]
        pieces: list[str | tuple[str, str, dict[str, object]]] = [
            _item(f"Look at this: {a}{s}{b}", s, "ok", "keyboard_marks"),
            _item(f"And then: {c}{invented}{d} Unbelievable.", invented, "not_found", "keyboard_marks"),
            url,
        ]
        posts.append(_compose(f"cit-k{i:02d}", at, [url], pieces))
    return posts


_PARAPHRASES = ("the minister said on Tuesday", "a spokesperson told reporters", "he said in a statement",
                "she told local media")  # fmt: skip
# "“…,” Raab told the BBC." ending on a sentence's last period, not an initial's ("the U.S. Attorney").
_SOURCE_QUOTATION = re.compile(r"“([A-Z][^“”\n]{40,250}),” ([a-zA-Z][^.“”\n]{3,60})(?<![ .][A-Z])\.(?=\s|$)")


def _source_quotations() -> list[tuple[str, str, str, str]]:
    """(url, posted_at, quotation, attribution) for the devset pages' own quotations followed by
    their attribution (“…,” Raab told the BBC.), from the first capture's visible text; sentences
    edited in the later capture are left out."""
    dated: dict[str, str] = {}
    for line in DEVSET.read_text(encoding="utf-8").splitlines():
        post = json.loads(line)
        for url in post["cites"]:
            dated.setdefault(url, post["posted_at"])
    edited = [e["sentence"] for e in json.loads((DEVSET.parent / "edits.json").read_text(encoding="utf-8"))]
    out = []
    with (DEVSET.parent / "pages.warc.gz").open("rb") as f:
        for record in ArchiveIterator(f):
            url = record.rec_headers.get_header("WARC-Target-URI")
            if record.rec_type != "response" or url not in dated:
                continue
            if not record.rec_headers.get_header("WARC-Date").startswith("2019"):
                continue
            raw = record.content_stream().read()
            text = visible_text(decode_page(raw, declared_charset(raw)))
            for m in _SOURCE_QUOTATION.finditer(text):
                if not any(m.group(1) in e for e in edited):
                    out.append((url, dated[url], m.group(1), m.group(2)))
    return out


def _content(text: str) -> set[str]:
    return {w for w in re.findall(r"\w+", text.lower()) if len(w) > 3}


def _named(own: str) -> str:
    """The poster's own attribution naming the source's speaker: "Raab said on Tuesday" for "Raab
    told the BBC", "the doctor told reporters on Tuesday" for "the doctor said"."""
    name = re.search(r"\b[A-Z]\w+(?= [a-z]|$)", own)
    who = name.group() if name else " ".join(own.split(" ")[:2])
    return f"{who} {'told reporters' if 'said' in own.split(' ') else 'said'} on Tuesday"


def _tail_posts() -> list[dict[str, object]]:
    """A news paragraph's quotation with its attribution: the source's own (ok, whole), the poster's
    paraphrase naming the same speaker or another (ok, the quotation judged alone), an invented
    quotation with a paraphrase (not_found)."""
    posts = []
    for i, (url, at, quote, own) in enumerate(_source_quotations()):
        para = next(
            p for k in range(len(_PARAPHRASES))
            if not _content(p := _PARAPHRASES[(i + k) % len(_PARAPHRASES)]) & _content(own)
        )  # fmt: skip
        invented = _INVENTED[i % len(_INVENTED)]
        pieces: list[str | tuple[str, str, dict[str, object]]] = [
            _item(f"“{quote},” {own}.", quote, "ok", "source_tail"),
            _item(f"“{quote},” {_named(own)}.", quote, "ok", "paraphrased_tail"),
            _item(f"“{quote},” {para}.", quote, "ok", "paraphrased_tail"),
            _item(f"“{invented},” {para}.", invented, "not_found", "paraphrased_tail"),
            url,
        ]
        posts.append(_compose(f"cit-t{i:02d}", at, [url], pieces))
    return posts


def build_citations() -> list[dict[str, object]]:
    """Posts for the citation and frame classes of issue 10 (points 2 and 3)."""
    pages = _pages()
    return [
        *_domain_posts(pages), *_link_text_posts(pages), *_lead_in_posts(pages), *_multi_url_posts(pages),
        *_reference_posts(pages), *_frame_posts(pages), *_mark_posts(pages), *_tail_posts(),
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "classes", help="output folder")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    posts = build() + build_citations()
    with (args.out / "posts.jsonl").open("w", encoding="utf-8") as f:
        for post in posts:
            f.write(json.dumps(post, ensure_ascii=False) + "\n")
    kinds: dict[str, int] = {}
    for post in posts:
        for p in post["passages"]:  # type: ignore[attr-defined]
            kinds[p["kind"]] = kinds.get(p["kind"], 0) + 1
    print(len(posts), "posts;", ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
