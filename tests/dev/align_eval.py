"""Synthetic evaluation of the quote aligner on the real article bodies of the shared corpus.

Not a test: a script to tune ``service/pipeline/align/`` on data. It cuts passages from each
body (faithful: verbatim, typographic noise, elisions; altered: every kind of change; fabricated;
commentary written from the article's own names and phrases), aligns each against the body it
came from, and prints per-kind accuracy, the recall of changes and the false-flag rate of faithful
passages.

usage: python tests/dev/align_eval.py [MANIFEST] [--cases-per-body N] [--seed S] [--show KIND]
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from service.pipeline.align.aligner import TextIndex, align_quote, index_text
from service.pipeline.align.tokens import tokenize
from service.pipeline.models import FAITHFUL_STATUSES, Alignment, QuoteStatus, Reason
from service.settings import AlignSettings

MANIFEST = Path("/work/shared/corpus/manifest.jsonl")
MARKERS = ["...", "…", ". . .", "[…]", "[...]", "(...)", " ... ", " … "]
AUX = {
    "is",
    "was",
    "are",
    "were",
    "will",
    "would",
    "can",
    "could",
    "has",
    "have",
    "had",
    "should",
    "does",
    "did",
}
NUMBERS = ["three", "seven", "12", "40", "1,500", "2.5", "99", "eleven", "2031"]
NAMES = ["Johnson", "Garcia", "Okafor", "Lindqvist", "Moreau", "Tanaka", "Ivanova", "Kowalski"]
FOREIGN = ["quantum", "marmalade", "zeppelin", "bicycle", "tangerine"]
FOREIGN += ["whistle", "lantern", "glacier", "meadow", "porcelain"]
FAITHFUL = {"verbatim", "cosmetic", "elided", "verbatim_unmarked", "short"}
COMMENTARY = {"commentary"}


@dataclass(frozen=True)
class Case:
    kind: str
    text: str
    explicit: bool
    reason: Reason | None = None


class Body:
    """One corpus body with its words and sentences, for cutting passages."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tok = tokenize(text)
        self.n = len(self.tok)
        self.sentences = [
            (m.start(), m.end())
            for m in re.finditer(r"[^\n.!?]*[^\s.!?][^\n.!?]*[.!?]*", text)
            if len(m.group().split()) >= 6
        ]

    def window(self, rng: random.Random, lo: int, hi: int) -> tuple[int, int]:
        size = rng.randint(lo, min(hi, self.n))
        a = rng.randint(0, self.n - size)
        return a, a + size

    def cut(self, a: int, b: int) -> str:
        return self.text[self.tok.starts[a] : self.tok.ends[b - 1]]

    def words(self, a: int, b: int) -> list[str]:
        return [self.cut(t, t + 1) for t in range(a, b)]


def cosmetic(rng: random.Random, s: str) -> str:
    """Typographic noise only: quotes, apostrophes, dashes, case, spacing, wrapping, punctuation."""
    ops: list[Callable[[str], str]] = [
        lambda x: x.replace("’", "'").replace("“", '"').replace("”", '"'),
        lambda x: x.replace("'", "’"),
        lambda x: x.replace("—", " - ").replace("–", "-"),
        lambda x: x.replace(" - ", " — "),
        str.lower,
        lambda x: x[:1].upper() + x[1:],
        lambda x: x.replace(" ", "  ", 2),
        lambda x: re.sub(" ", "\n", x, count=1),
        lambda x: x.replace(",", "", 1),
        lambda x: x + ".",
        lambda x: x.replace(" ", "\u00a0", 3),
    ]
    for op in rng.sample(ops, rng.randint(1, 4)):
        s = op(s)
    return s


def elide(rng: random.Random, body: Body) -> str | None:
    a, b = body.window(rng, 20, 90)
    gaps = rng.randint(1, 3)
    cuts = sorted(rng.sample(range(a + 3, b - 3), min(gaps * 2, b - a - 6)))
    pieces, prev = [], a
    for x, y in zip(cuts[::2], cuts[1::2], strict=False):
        if x - prev < 3 or y - x < 2:
            continue
        pieces.append(body.cut(prev, x))
        prev = y
    pieces.append(body.cut(prev, b))
    if len(pieces) < 2:
        return None
    return rng.choice(MARKERS).join(pieces)


def replace_word(
    rng: random.Random, body: Body, pick: Callable[[int, str], bool], new: Callable[[], str]
) -> str | None:
    a, b = body.window(rng, 8, 40)
    spots = [t for t in range(a + 1, b - 1) if pick(t, body.cut(t, t + 1))]
    if not spots:
        return None
    t = rng.choice(spots)
    old = body.cut(t, t + 1)
    word = new()
    if word.lower() == old.lower():
        return None
    return (
        body.text[body.tok.starts[a] : body.tok.starts[t]]
        + word
        + body.text[body.tok.ends[t] : body.tok.ends[b - 1]]
    )


def changes(rng: random.Random, body: Body, other: Body) -> list[Case]:
    """One case of each kind of change (when the window allows it)."""
    out: list[Case] = []
    t = body.tok
    num = replace_word(rng, body, lambda _, w: any(c.isdigit() for c in w), lambda: rng.choice(NUMBERS))
    if num:
        out.append(Case("number", num, True, Reason.NUMBER_CHANGED))
    name = replace_word(
        rng,
        body,
        lambda i, w: w[:1].isupper() and not t.brk[i - 1] and w.isalpha(),
        lambda: rng.choice(NAMES),
    )
    if name:
        out.append(Case("name", name, True, Reason.NAME_CHANGED))
    alien = [w for w in other.words(0, other.n) if w.isalpha() and w.islower() and w not in body.text]
    repl = replace_word(
        rng, body, lambda _, w: w.isalpha() and w.islower(), lambda: rng.choice(alien or FOREIGN)
    )
    if repl:
        out.append(Case("replaced", repl, True, Reason.WORDS_REPLACED))
    a, b = body.window(rng, 10, 40)
    aux = [i for i in range(a + 1, b - 1) if t.norms[i] in AUX]
    if aux:
        i = rng.choice(aux)
        out.append(
            Case("negation", body.cut(a, i + 1) + " not " + body.cut(i + 1, b), True, Reason.NEGATION_CHANGED)
        )
    nots = [i for i in range(a + 1, b - 1) if t.norms[i] == "not"]
    if nots:
        i = rng.choice(nots)
        out.append(
            Case("negation_removed", body.cut(a, i) + " " + body.cut(i + 1, b), True, Reason.NEGATION_CHANGED)
        )
    i = rng.randint(a + 2, b - 2)
    extra = " ".join(rng.sample(FOREIGN, rng.randint(1, 3)))
    out.append(
        Case("inserted", body.cut(a, i) + " " + extra + " " + body.cut(i, b), True, Reason.WORDS_INSERTED)
    )
    k = rng.randint(1, 3)
    i = rng.randint(a + 3, b - 3 - k)
    out.append(Case("deleted", body.cut(a, i) + " " + body.cut(i + k, b), True, None))
    if len(body.sentences) >= 4:
        x, y = sorted(rng.sample(range(len(body.sentences)), 2))
        if y - x >= 2 and not any(
            "..." in body.text[a:b] or "…" in body.text[a:b]
            for a, b in (body.sentences[x], body.sentences[y])
        ):
            s1, s2 = body.sentences[x], body.sentences[y]
            out.append(
                Case(
                    "spliced", body.text[s1[0] : s1[1]] + " " + body.text[s2[0] : s2[1]], True, Reason.SPLICED
                )
            )
        s = body.sentences[rng.randrange(len(body.sentences))]
        tail = " " + " ".join(rng.sample(FOREIGN, rng.randint(3, 6)))
        out.append(Case("extended", body.text[s[0] : s[1]].rstrip(".!?") + tail, True, Reason.EXTENDED))
    a, b = body.window(rng, 16, 50)
    mid = rng.randint(a + 6, b - 6)
    first, second = body.cut(mid, b), body.cut(a, mid - 2)
    if body.text.count(first) == 1 and body.text.count(second) == 1:
        out.append(Case("reordered", first + " … " + second, True, Reason.REORDERED))
    return out


def fabricated(rng: random.Random, body: Body, other: Body) -> list[Case]:
    out: list[Case] = []
    if other.sentences:
        s = other.sentences[rng.randrange(len(other.sentences))]
        out.append(Case("fabricated_other", other.text[s[0] : s[1]], True))
    if body.sentences:
        s = body.sentences[rng.randrange(len(body.sentences))]
        words = body.text[s[0] : s[1]].split()
        rng.shuffle(words)
        out.append(Case("fabricated_shuffled", " ".join(words), True))
    return out


def commentary(rng: random.Random, body: Body) -> Case | None:
    t = body.tok
    names = [
        body.cut(i, i + 1) for i in range(1, body.n) if t.cap[i] and not t.brk[i - 1] and len(t.words[i]) > 3
    ]
    if len(names) < 2:
        return None
    a, b = body.window(rng, 3, 5)
    templates = [
        "I honestly think {n1} has no idea what {n2} is doing here, and the bit about {p} proves it.",
        "So {n1} says {p}? Sure, and {n2} is a saint. Nobody believes this anymore, read between the lines.",
        "Remember when {n1} promised the opposite? {n2} will not forget it, whatever they say about {p}.",
        "This is exactly what I predicted last week: {n1} and {n2} arguing over {p} while nothing changes.",
    ]
    text = rng.choice(templates).format(n1=rng.choice(names), n2=rng.choice(names), p=body.cut(a, b))
    return Case("commentary", text, False)


def cases_for(rng: random.Random, body: Body, other: Body, per_body: int) -> list[Case]:
    out: list[Case] = []
    for _ in range(per_body):
        a, b = body.window(rng, 6, 60)
        out.append(Case("verbatim", body.cut(a, b), True))
        out.append(Case("cosmetic", cosmetic(rng, body.cut(a, b)), True))
        a, b = body.window(rng, 1, 3)
        out.append(Case("short", body.cut(a, b), True))
        a, b = body.window(rng, 25, 120)
        out.append(Case("verbatim_unmarked", body.cut(a, b), False))
        el = elide(rng, body)
        if el:
            out.append(Case("elided", el, True))
        out += changes(rng, body, other)
        out += fabricated(rng, body, other)
        c = commentary(rng, body)
        if c:
            out.append(c)
            a, b = body.window(rng, 6, 9)
            own = "Honestly, this is the part everyone keeps ignoring, and I will say it again:"
            tail = "Draw your own conclusions, people."
            out.append(Case("commentary", f"{own} {body.cut(a, b)}. {tail}", False))
        a, b = body.window(rng, 25, 80)
        i = rng.randint(a + 3, b - 3)
        word = rng.choice(FOREIGN)
        out.append(Case("altered_unmarked", body.cut(a, i) + f" {word} " + body.cut(i + 1, b), False))
    return out


def right(case: Case, al: Alignment) -> bool:
    """Whether the aligner's answer is the expected one for the case's kind."""
    if case.kind in FAITHFUL:
        return al.status in FAITHFUL_STATUSES
    if case.kind in COMMENTARY:
        return al.status is QuoteStatus.NOT_FOUND
    if case.kind.startswith("fabricated"):
        return al.status in {QuoteStatus.NOT_FOUND, QuoteStatus.ALTERED}
    if case.kind == "deleted":
        return al.status is QuoteStatus.ALTERED and bool(
            {Reason.WORDS_DELETED, Reason.SPLICED} & set(al.reasons)
        )
    return al.status is QuoteStatus.ALTERED and (case.reason is None or case.reason in al.reasons)


def flagged(case: Case, al: Alignment) -> bool:
    return al.status is QuoteStatus.ALTERED or (al.status is QuoteStatus.NOT_FOUND and case.explicit)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("manifest", nargs="?", type=Path, default=MANIFEST)
    ap.add_argument("--cases-per-body", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--show", default="")
    args = ap.parse_args()
    if not args.manifest.exists():
        print(f"skipped: {args.manifest} not found")
        return 0
    bodies = [Body(json.loads(line)["body"]) for line in args.manifest.open(encoding="utf-8") if line.strip()]
    rng = random.Random(args.seed)
    settings = AlignSettings()
    kinds: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    faithful = [0, 0]
    change = [0, 0]
    comment = [0, 0]
    elapsed = 0.0
    for n, body in enumerate(bodies):
        other = bodies[(n + 1 + rng.randrange(len(bodies) - 1)) % len(bodies)]
        index: TextIndex = index_text(body.text)
        for case in cases_for(rng, body, other, args.cases_per_body):
            t0 = time.perf_counter()
            al = align_quote(case.text, index, explicit=case.explicit, settings=settings)
            elapsed += time.perf_counter() - t0
            ok = right(case, al)
            kinds[case.kind][0] += ok
            kinds[case.kind][1] += 1
            bucket = faithful if case.kind in FAITHFUL else comment if case.kind in COMMENTARY else change
            bucket[0] += flagged(case, al)
            bucket[1] += 1
            missed = bucket is change and not flagged(case, al)
            wrong_flag = bucket is faithful and flagged(case, al)
            if (not ok and case.kind == args.show) or (args.show == "errors" and (missed or wrong_flag)):
                print(f"--- {case.kind}: {al.status} {[r.value for r in al.reasons]} {case.text!r}")
                print("    diff:", [(d.op.value, d.post, d.source) for d in al.diff if d.op.value != "equal"])
    total = sum(v[1] for v in kinds.values())
    print("per kind (right/total):")
    for k, (good, all_) in sorted(kinds.items()):
        print(f"  {k:22s} {good:5d}/{all_:<5d} {good / all_:.4f}")
    print(f"faithful false-flag rate {faithful[0] / max(1, faithful[1]):.4f} ({faithful[0]}/{faithful[1]})")
    print(f"change recall            {change[0] / max(1, change[1]):.4f} ({change[0]}/{change[1]})")
    print(f"commentary flagged       {comment[0] / max(1, comment[1]):.4f} ({comment[0]}/{comment[1]})")
    print(f"cases {total}, align time {elapsed:.2f}s ({1000 * elapsed / max(1, total):.2f} ms/case)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
