"""Development posts in French, German, Spanish and Russian, over real pages (issue 10 point 7).

usage: python tests/dev/make_intl.py --newspaper4k DIR [--intl ../shared/corpus-intl]
       [--corpus ../shared/corpus] [--out tests/data/intl]

Pages: French and German from ``../shared/corpus-intl`` (trafilatura's test pages), Spanish from the
newspaper4k 0.9.6 source distribution on PyPI (``DIR`` is that sdist unpacked), Russian from
``../shared/corpus`` (Zyte's article-extraction benchmark); each page's bytes are checked against
the SHA-256 below. Writes ``pages.warc.gz`` (each page at its URL, captured 2020-01-01) and
``posts.jsonl`` (score.py's labelled format with each passage's ``span``). Passages are sentences of
the page text as the product reads it (``page_text``), taken from the article (trafilatura's main
text, comments left out). Classes per language (label, kind): a verbatim sentence in the language's
quotation marks (ok, verbatim); 2-3 class-free words elided (ok, harmless_elision); the negation,
condition or hedge word replaced by an ellipsis (altered, misleading_elision); the negation removed
with no mark (altered, negation_changed); one number changed (altered, number_changed); an invented
sentence in quotation marks (not_found, invented); a sentence of another cited page under the wrong
link (misattributed, misattributed); the poster's own words (commentary, commentary).
Deterministic: the same input gives the same bytes. A development set, not a held-out measure.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import trafilatura  # noqa: E402
from _edits import write_capture  # noqa: E402
from warcio.warcwriter import WARCWriter  # noqa: E402

from service.pipeline.extract.page_text import decode_html, page_text, parse_html  # noqa: E402

CAPTURE = "2020-01-01T00:00:00Z"
POSTED_AT = "2020-03-01T12:00:00Z"


@dataclass(frozen=True)
class Source:
    """One page: language, where its bytes come from (a folder option and a path in it), URL, hash."""

    lang: str
    root: str  # "intl", "corpus" or "newspaper4k"
    path: str
    url: str
    sha256: str


SOURCES = [
    Source("fr", "intl", "pages/laviedesidees.fr.evaluation.html.gz",
           "https://laviedesidees.fr/L-evaluation-et-les-listes-de.html",
           "563aa32787c8c3ccf00bcef22559ac15bdd3557f675f3e9c60972f1735541818"),
    Source("fr", "intl", "pages/sauvonsluniversite.com.spip.html.gz",
           "http://www.sauvonsluniversite.fr/spip.php?article8532",
           "f554e474a6ee7df6e5309409d78aff900ce40f47a301dd7336f200f3a49def91"),
    Source("fr", "intl", "pages/soundofscience.fr.1927.html.gz", "https://www.soundofscience.fr/1927",
           "ec4bc9b7898c06859dbf82f8d95d47278ea003d9b62e153834b3a482464ae823"),
    Source("de", "intl", "pages/correctiv.org.zusage.html.gz",
           "https://correctiv.org/aktuelles/neue-rechte/2019/05/14/wir-haben-bereits-die-zusage",
           "be95401c717f745f87490159bcf0527ccb16cd9d2c5ce90496751277bccd3b4c"),
    Source("de", "intl", "pages/netzpolitik.org.abmahnungen.html.gz",
           "https://netzpolitik.org/2016/die-cider-connection-abmahnungen-gegen-nutzer-von-creative-commons-bildern/",
           "886746c00d01689c705581e6f0554685aa7c8458cc850e4cf9332e98db25e2ef"),
    Source("de", "intl", "pages/futurezone.at.lyft.html.gz",
           "https://futurezone.at/digital-life/uber-konkurrent-lyft-startet-mit-waymo-robotertaxis-in-usa/400487461",
           "f65f4995bf6e81cd80d74b036f3a1b5da011dd330cfb1c5e9eec103b96143353"),
    Source("es", "newspaper4k", "tests/data/html/spanish_article.html",
           "http://ultimahora.es/mallorca/noticia/noticias/local/fiscalia-anticorrupcion-estudia-recurre-imputacion-infanta.html",
           "c6d3072196ece1217d5ab99d7c5595b19a201834fe6cc76c57527209dd91f81d"),
    Source("ru", "corpus", "pages/3c6d3381ef52ca26be2fbde19c1b0fe17d85682b726dfecf5e300c1ca34546b1.html.gz",
           "http://www.wday.ru/articles/mastera-vkusa-i-krasotyi-23-samyih-krutyih-fudblogera-po-versii-wday-ru-id119898",
           "4b8ed05ef03299f2ed8f1ed78d0d3c97de4570352f53378ce8466e70ea6258cd"),
    Source("ru", "corpus", "pages/c82b3d1d540bbbd6081bdfb78b4c068c583aa766bcaaefe7ad16d24e5413a829.html.gz",
           "http://www.wday.ru/articles/53-letnyaya-model-posmotri-na-krasotku-kotoraya-prevratilas-v-staruhu-id120424",
           "5838644f1c7a9c517ef87b1e187b7f1a3e38540b6432e82a1df5e0020ece15e5"),
    Source("ru", "corpus", "pages/ff0f958ade714ebfaf5c0b42b1c0152a62063f4e6f72141406ccefc4a2677f21.html.gz",
           "http://vse-diety.com/dieta-atkinsa.html",
           "2190cb40a75f3946e20c0fed19da801be591f672d6482775a5b2f06fb022cf00"),
]  # fmt: skip

# The generator's own short word lists (the product's are in service/pipeline/align/lexicon.py).
# Words an ellipsis may remove to mislead: negation, condition, hedge.
MISLEADING = {
    "de": {"negation": "nicht nie niemals ohne niemanden keinerlei", "condition": "wenn falls sofern",
           "hedge": "angeblich vermutlich mutmaßlich möglicherweise vielleicht wahrscheinlich offenbar"
                    " vermeintliche vermeintlichen möglicher mögliche angebliche mutmaßliche"},
    "fr": {"negation": "sans", "condition": "si", "hedge": "pourrait pourraient probablement apparemment"
           " peut-être présumé présumés éventuel éventuelle semble"},
    "es": {"negation": "no nunca sin", "condition": "si", "hedge": "quizá posiblemente probablemente"
           " presuntamente supuestamente presunto presunta presuntos supuesto supuestos posible parece"},
    "ru": {"negation": "не нет никогда без", "condition": "если",
           "hedge": "возможно вероятно якобы могут может предполагаемый будто"},
}  # fmt: skip
CLASSES = ("negation", "condition", "hedge")
# Further words a harmless elision keeps (negations, quantifiers) on top of MISLEADING.
KEEP = {
    "de": "kein keine keinen keinem keiner nichts niemand weder nur wenige",
    "fr": "ne n pas jamais aucun aucune rien ni plus seulement peu guère",
    "es": "ni nada nadie ningún ninguna ninguno solo sólo apenas pocos pocas",
    "ru": "ни ничего никто нельзя только лишь мало едва",
}
# Each language's quotation marks; French sets its guillemets apart by a space, a no-break space or a
# narrow no-break space, German also uses »…«.
MARKS = {"fr": [("« ", " »"), ("«\u00a0", "\u00a0»"), ("«\u202f", "\u202f»")], "de": [("„", "“"), ("»", "«")],
         "ru": [("«", "»")], "es": [("«", "»"), ("“", "”")]}  # fmt: skip
LEAD_INS = {
    "fr": ["Extrait :", "L'article dit :", "On y lit :"],
    "de": ["Zitat:", "Im Artikel steht:", "Dort heißt es:"],
    "es": ["Dice el artículo:", "Cito:", "Según la nota:"],
    "ru": ["Цитата:", "В статье сказано:", "Там написано:"],
}
INVENTED = {
    "fr": ["Le ministère a reconnu en privé que tous les chiffres publiés avaient été inventés",
           "Aucun responsable n'avait lu le rapport avant son envoi chez l'imprimeur la semaine dernière"],
    "de": ["Das Ministerium hat intern eingeräumt, dass sämtliche veröffentlichten Zahlen erfunden waren",
           "Kein einziger Beamter hatte den Bericht gelesen, bevor er an die Druckerei geschickt wurde"],
    "es": ["El ministerio admitió en privado que todas las cifras publicadas habían sido inventadas",
           "Ningún responsable había leído el informe antes de enviarlo a la imprenta la semana pasada"],
    "ru": ["Министерство признало в частной беседе, что все опубликованные цифры были выдуманы",
           "Ни один чиновник не читал этот доклад до того, как его отправили в типографию"],
}  # fmt: skip
COMMENTARY = {
    "fr": ["Franchement, je me demande combien de lecteurs iront jusqu'au bout de ce texte.",
           "À mon avis, tout cela mérite un vrai débat public et pas seulement des communiqués."],
    "de": ["Ehrlich gesagt frage ich mich, wie viele Leser diesen Text bis zum Ende lesen.",
           "Meiner Meinung nach gehört so etwas in eine echte öffentliche Debatte."],
    "es": ["Sinceramente, me pregunto cuántos lectores llegarán al final de este texto.",
           "En mi opinión, todo esto merece un debate público de verdad."],
    "ru": ["Честно говоря, интересно, сколько читателей дочитает этот текст до конца.",
           "По-моему, всё это заслуживает настоящего общественного обсуждения."],
}  # fmt: skip
# The negation each language drops without a mark (French drops both parts of "ne … pas").
_NEGATION = {
    "de": re.compile(r" (nicht|nie) "),
    "fr": re.compile(r" (?:ne |n[’'])(\w+) (?:pas|jamais|plus) "),
    "es": re.compile(r" (no) "),
    "ru": re.compile(r" (не) "),
}
_KEIN = re.compile(r" k(ein(?:e|en|em|er|es)?)\b")
# How each language marks a cut (Russian also as <…>), taken in turn.
ELLIPSES = {"fr": ["…", "[…]", "(…)"], "de": ["…", "[…]", "(…)"], "es": ["…", "(…)", "[…]", "..."],
            "ru": ["…", "<…>", "(…)"]}  # fmt: skip
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-ZÀ-ÖØ-ÞА-ЯЁ])")
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,4})(?![\w.,]\d)")
_WORD_EDGE = re.compile(r"^[^\w]+|[^\w]+$")
_BAD = re.compile(r"[„“”\"()\[\]…|*<>{}&/]|\.\.|https?:|www\.|\d{2}/\d{2}|\d\.$|^[-–—]")
_GUILLEMETS = re.compile(r"[«»]")
# Per language: (kind, how many); sentences are drawn round-robin over the language's pages.
# The scarcest kinds first, so that the sentences that can carry them are still free.
PLAN = [("number_changed", 2), ("negation_changed", 2), ("misleading_elision", 3), ("harmless_elision", 3),
        ("verbatim", 4)]  # fmt: skip


def _bare(word: str) -> str:
    return _WORD_EDGE.sub("", word.lower().replace("’", "'"))


def _read(src: Source, roots: dict[str, Path]) -> bytes:
    path = roots[src.root] / src.path
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != src.sha256:
        raise SystemExit(f"{path}: sha256 {digest}, expected {src.sha256}")
    return raw


def _norm(text: str) -> str:
    return " ".join(text.replace("\u00ad", "").split())


def sentences(raw: bytes, lang: str) -> tuple[str, list[str]]:
    """The page text the product reads, and its article sentences (in trafilatura's main text too)."""
    root, data = parse_html(decode_html(raw), 10_000_000)
    assert root is not None
    text = page_text(root)
    main = _norm(trafilatura.extract(data, include_comments=False) or "")
    seen: list[str] = []
    for line in text.split("\n"):
        for s in _SENT.split(_norm(line)):
            if _GUILLEMETS.search(s) and lang != "es":  # Spanish ones go in “…”
                continue
            good = 8 <= len(s.split()) <= 60 and s[-1] in ".!?" and not _BAD.search(s) and s in main
            if good and s not in seen and _norm(text).count(s) == 1:
                seen.append(s)
    return _norm(text), seen


def misleading(s: str, lang: str, cls: str, mark: str = "…") -> str | None:
    """The sentence with its first word of class ``cls`` (negation, condition, hedge; not at either
    end) replaced by an ellipsis mark."""
    words = s.split(" ")
    targets = set(MISLEADING[lang][cls].split())
    if lang == "fr" and cls == "negation":  # "ne … pas": both parts go, each leaving its own mark
        m = _NEGATION["fr"].search(s)
        if m:
            return s[: m.start()] + f" {mark} {m.group(1)} {mark} " + s[m.end() :]
    for i in range(2, len(words) - 2):
        idiom = _bare(words[i + 1]) in {"cesse", "исключения", "doute"}  # "sans cesse": no condition
        lower = words[i] == _bare(words[i]) and not words[i - 1].endswith(",")
        if _bare(words[i]) in targets and lower and not idiom:
            return " ".join([*words[:i], mark, *words[i + 1 :]])
    return None


def harmless(s: str, lang: str, rng: random.Random, mark: str = "…") -> str | None:
    """2-3 inner words without any class word or punctuation replaced by an ellipsis mark."""
    words = s.split(" ")
    keep = set(" ".join([*MISLEADING[lang].values(), KEEP[lang]]).split())
    if any(_bare(w) in keep or _bare(w).startswith("n'") for w in words) or len(words) < 12:
        return None
    n = rng.randint(2, 3)
    for _ in range(10):
        i = rng.randint(3, len(words) - n - 3)
        if not any(re.search(r"\W$", w) or re.match(r"\d", w) for w in words[i - 1 : i + n]):
            return " ".join([*words[:i], mark, *words[i + n :]])
    return None


def negation_removed(s: str, lang: str) -> str | None:
    """The negation dropped with no mark (``ne … pas`` both parts; ``nicht``, ``no``, ``не``)."""
    m = _KEIN.search(s) if lang == "de" else None  # "keine Chance" -> "eine Chance"
    if m is not None:
        return s[: m.start()] + " " + m.group(1) + s[m.end() :]
    m = _NEGATION[lang].search(s)
    if m is None:
        return None
    kept = f" {m.group(1)} " if lang == "fr" else " "
    return s[: m.start()] + kept + s[m.end() :]


def number_changed(s: str) -> str | None:
    """One number moved: under 10 by two, else by a tenth or more (so it is not a rounding)."""
    m = _NUMBER.search(s)
    if m is None:
        return None
    n = int(m.group(1))
    new = n + 2 if n < 10 else n + max(10, n // 10)
    if 1900 <= n <= 2030:
        new = n - 3
    return s[: m.start(1)] + str(new) + s[m.end(1) :]


def _passage(text: str, label: str, kind: str, lang: str, explicit: bool = True) -> dict[str, object]:
    return {"text": text, "label": label, "kind": kind, "explicit": explicit, "lang": lang}


Item = tuple[str, str, dict[str, object]]  # (as written, the passage's text inside it, passage)


def _quote(text: str, lang: str, k: int) -> str:
    """The passage in the language's quotation marks (Spanish “…” around a sentence with «…»),
    every other one after a lead-in."""
    open_, close = MARKS[lang][k % len(MARKS[lang])]
    if _GUILLEMETS.search(text):
        open_, close = "“", "”"
    lead = LEAD_INS[lang][k % len(LEAD_INS[lang])] + " " if k % 2 else ""
    return f"{lead}{open_}{text}{close}"


def _post(pid: str, groups: list[tuple[str, list[Item]]]) -> dict[str, object]:
    """Each group: its passages, one per paragraph, then its URL alone on a line."""
    body, passages = "", []
    for url, items in groups:
        for written, inner, passage in items:
            start = len(body) + written.index(inner)
            passages.append({**passage, "span": [start, start + len(inner)]})
            body += written + "\n\n"
        body += url + "\n\n"
    return {"id": pid, "text": body.rstrip("\n"), "format": "text", "posted_at": POSTED_AT,
            "style": "intl", "cites": [url for url, _ in groups], "passages": passages}  # fmt: skip


def _variant(kind: str, s: str, lang: str, rng: random.Random, cls: str) -> tuple[str, str] | None:
    """(text, label) of one class made from sentence ``s``, or None if the sentence can't carry it."""
    made: str | None
    if kind == "verbatim":
        return s, "ok"
    mark = ELLIPSES[lang][rng.randrange(len(ELLIPSES[lang]))]
    if kind == "harmless_elision":
        made = harmless(s, lang, rng, mark)
        return (made, "ok") if made else None
    if kind == "misleading_elision":
        made = misleading(s, lang, cls, mark)
    elif kind == "negation_changed":
        made = negation_removed(s, lang)
    else:
        made = number_changed(s)
    return (made, "altered") if made else None


def build(roots: dict[str, Path]) -> tuple[list[dict[str, object]], dict[str, bytes]]:
    """The posts, and the page bytes by URL."""
    rng = random.Random(7)
    raws = {src.url: _read(src, roots) for src in SOURCES}
    texts: dict[str, str] = {}
    sents: dict[str, list[str]] = {}
    for src in SOURCES:
        texts[src.url], sents[src.url] = sentences(raws[src.url], src.lang)
    posts: list[dict[str, object]] = []
    for lang in ("fr", "de", "es", "ru"):
        urls = [s.url for s in SOURCES if s.lang == lang]
        used: set[str] = set()
        items: dict[str, list[Item]] = {u: [] for u in urls}
        k = 0
        for kind, count in PLAN:
            if kind == "verbatim" and len(urls) == 1:
                count = 2  # the misattributed posts quote this one page verbatim too
            made = 0
            for turn in range(200):
                if made == count:
                    break
                url = urls[(k + turn) % len(urls)]
                free = [s for s in sents[url] if s not in used]
                cls = CLASSES[(made + turn // len(urls)) % 3]  # the classes in turn, then whichever is there
                tries = ((s, _variant(kind, s, lang, rng, cls)) for s in free)
                found = next(((s, v) for s, v in tries if v is not None), None)
                if found is None:
                    continue
                s, (text, label) = found
                used.add(s)
                items[url].append((_quote(text, lang, k), text, _passage(text, label, kind, lang)))
                made += 1
                k += 1
        for i in range(2):  # two invented quotations and two comments per language
            url = urls[i % len(urls)]
            invented, note = INVENTED[lang][i], COMMENTARY[lang][i]
            fake = _passage(invented, "not_found", "invented", lang)
            items[url].append((_quote(invented, lang, i + 1), invented, fake))
            own = _passage(note, "commentary", "commentary", lang, explicit=False)
            items[url].insert(1, (note, note, own))
        posts.extend(_post(f"intl-{lang}-{i}", [(url, items[url])]) for i, url in enumerate(urls))
        # Misattributed: two posts, each citing two pages, with a sentence of one under the other's URL
        # (the one Spanish page is paired with a French one).
        other = urls[1] if len(urls) > 1 else SOURCES[0].url
        pairs = [(urls[0], other), (urls[2] if len(urls) > 2 else other, urls[0])]
        for j, (a, b) in enumerate(pairs):
            sa = next(s for s in sents[a] if s not in used)
            used.add(sa)
            sb = [s for s in sents[b] if s not in used and s not in texts[a]][:2]
            assert len(sb) == 2, (lang, b, len(sents[b]), len([s for s in sents[b] if s not in used]))
            used.update(sb)
            wrong = _passage(sb[0], "misattributed", "misattributed", lang)
            group_a = [(_quote(sa, lang, j), sa, _passage(sa, "ok", "verbatim", lang)),
                       (_quote(sb[0], lang, j + 1), sb[0], wrong)]  # fmt: skip
            group_b = [(_quote(sb[1], lang, j), sb[1], _passage(sb[1], "ok", "verbatim", lang))]
            posts.append(_post(f"intl-{lang}-m{j}", [(a, group_a), (b, group_b)]))
    _check(posts, texts)
    return posts, raws


def _check(posts: list[dict[str, object]], texts: dict[str, str]) -> None:
    """Every passage is in its post at its span; copies are on their page, changes on no cited page."""
    for post in posts:
        text, cites = str(post["text"]), list(post["cites"])  # type: ignore[call-overload]
        for p in post["passages"]:  # type: ignore[attr-defined]
            a, b = p["span"]
            assert text[a:b] == p["text"], (post["id"], p)
            on = [u for u in cites if p["text"] in texts[u]]
            if p["kind"] == "verbatim":
                assert on, (post["id"], p["text"])
            elif p["label"] == "misattributed":
                assert len(on) == 1, (post["id"], p["text"])
            else:
                assert not on, (post["id"], p["text"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--newspaper4k", type=Path, required=True, help="newspaper4k 0.9.6's sdist, unpacked")
    parser.add_argument("--intl", type=Path, default=ROOT.parent / "shared" / "corpus-intl")
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "intl", help="output folder")
    args = parser.parse_args()
    roots = {"intl": args.intl, "corpus": args.corpus, "newspaper4k": args.newspaper4k}
    posts, raws = build(roots)
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "posts.jsonl").open("w", encoding="utf-8") as f:
        for post in posts:
            f.write(json.dumps(post, ensure_ascii=False) + "\n")
    with (args.out / "pages.warc.gz").open("wb") as f:
        writer = WARCWriter(f, gzip=True, warc_version="1.1")
        for src in SOURCES:
            write_capture(writer, src.url, raws[src.url], None, CAPTURE)
    kinds: dict[tuple[str, str], int] = {}
    for post in posts:
        for p in post["passages"]:  # type: ignore[attr-defined]
            kinds[p["lang"], p["kind"]] = kinds.get((p["lang"], p["kind"]), 0) + 1
    print(len(posts), "posts;", ", ".join(f"{lang}/{k} {v}" for (lang, k), v in sorted(kinds.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
