"""Development posts for the editorial classes of issue 10, built on the checked-in devset's pages.

usage: python tests/dev/make_classes.py [--out tests/data/classes]

Every passage comes from a verbatim passage of ``tests/data/devset/posts.jsonl`` under a post that
cites one page (so its page is known), and is replayed from ``tests/data/devset/pages.warc.gz``.
Classes (label, kind): a sentence whose negation/condition/hedge/quantifier/denial an ellipsis
removes (altered, misleading_elision); the same sentence with 2-3 class-free words elided (ok,
harmless_elision); ``[sic]`` or ``(emphasis added)`` put in (ok, editorial_note); the sentence in
spaced guillemets « … » (ok, guillemets); an invented sentence in guillemets or „…“ (not_found,
invented_marks); a sentence of the source that opens with its own quotation, in straight quotes
nested in straight quotes (ok, nested_quotes).
Deterministic: the same input gives the same bytes. A development set, not a held-out measure.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "classes", help="output folder")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    posts = build()
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
