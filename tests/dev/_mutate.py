"""Passage mutations for the development set: cosmetic noise, elisions and meaning-changing edits.

Each function takes a passage that is on the page and returns the variant, or None when the edit does
not apply to that passage; the caller checks the result against the cited pages.
"""

from __future__ import annotations

import random
import re

from _pages import WORD_RE, Page

Rng = random.Random

ELLIPSES = ["...", "…", "[…]", "[...]", " . . . "]
NUMBER_WORDS = [
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "hundred",
    "thousand",
    "million",
    "billion",
]
AUX = r"is|was|are|were|will|would|can|could|should|may|might|must"
LOWERABLE = {
    "The",
    "A",
    "An",
    "In",
    "On",
    "But",
    "And",
    "It",
    "This",
    "That",
    "He",
    "She",
    "They",
    "We",
    "As",
    "At",
    "For",
    "With",
    "After",
    "Before",
    "When",
    "While",
    "If",
    "Its",
    "His",
    "Her",
    "Their",
}
NEG_CONTRACTIONS = {
    "didn't": "did",
    "doesn't": "does",
    "don't": "do",
    "isn't": "is",
    "wasn't": "was",
    "aren't": "are",
    "weren't": "were",
    "hasn't": "has",
    "haven't": "have",
    "hadn't": "had",
    "couldn't": "could",
    "wouldn't": "would",
    "shouldn't": "should",
    "can't": "can",
    "won't": "will",
    "cannot": "can",
}
SWAPS = {
    "increase": "decrease",
    "increased": "decreased",
    "rise": "fall",
    "rose": "fell",
    "more": "fewer",
    "higher": "lower",
    "lower": "higher",
    "large": "small",
    "larger": "smaller",
    "small": "large",
    "first": "last",
    "last": "first",
    "early": "late",
    "new": "old",
    "strong": "weak",
    "support": "oppose",
    "supported": "opposed",
    "won": "lost",
    "win": "lose",
    "lost": "won",
    "agreed": "refused",
    "said": "admitted",
    "says": "claims",
    "told": "warned",
    "major": "minor",
    "best": "worst",
    "good": "bad",
    "positive": "negative",
    "likely": "unlikely",
    "before": "after",
    "after": "before",
    "always": "rarely",
    "many": "few",
    "most": "some",
    "all": "some",
    "significant": "modest",
    "successful": "disastrous",
    "safe": "dangerous",
    "public": "secret",
    "legal": "illegal",
    "accepted": "rejected",
    "allowed": "banned",
    "approved": "blocked",
    "easy": "hard",
    "open": "closed",
    "rich": "poor",
    "men": "women",
    "women": "men",
    "young": "old",
    "north": "south",
    "east": "west",
    "happy": "furious",
    "praised": "criticized",
    "criticized": "praised",
    "helped": "hurt",
    "million": "billion",
    "billion": "million",
    "week": "month",
    "month": "year",
    "year": "decade",
    "days": "weeks",
    "hours": "minutes",
    "quickly": "slowly",
    "big": "tiny",
    "important": "irrelevant",
    "popular": "unpopular",
    "true": "false",
    "known": "unknown",
    "similar": "different",
}
INSERTS = [
    "allegedly",
    "secretly",
    "reportedly",
    "for the first time",
    "without any evidence",
    "behind closed doors",
    "in a shocking move",
    "once again",
    "under heavy pressure",
    "against all advice",
    "as expected",
    "quietly and deliberately",
    "for political reasons",
]
EXTENSIONS = [
    "which critics say was planned from the very start",
    "and nobody in the room was willing to object",
    "although the real numbers were never made public",
    "a claim that was later quietly withdrawn",
    "according to several people who asked not to be named",
    "and the whole thing was kept secret for months",
    "something that insiders had been warning about for years",
    "but only after a great deal of private pressure",
    "while the public was kept completely in the dark",
    "which is exactly what the other side wanted",
]
INVENTED = [
    "{a} admitted that the whole plan had been a mistake from the very beginning.",
    "{a} told reporters the decision had been made weeks ago and would never be reversed.",
    "Nobody at {a} expected the response to be this overwhelming, and frankly we were not prepared.",
    "{a} said privately that the numbers were far worse than anything that had been made public.",
    "We have known about this problem for years and chose to do nothing, {a} conceded.",
    "According to {a}, the entire effort was designed to distract from the real issue.",
    "{a} insisted that {b} had personally signed off on every part of the deal.",
    "The truth is that {b} never wanted this to happen in the first place, {a} said.",
]
COMMENTARY = [
    "Can't believe {a} said this about {b}, this is getting ridiculous.",
    "So {a} is the story now? Give me a break.",
    "Read the whole thing, the part about {b} is the important bit.",
    "This is exactly what I've been saying about {a} for months and nobody listened.",
    "Anyone else notice how nobody is talking about {b} anymore?",
    "Saving this before it gets memory holed.",
    "Interesting how fast this went from rumor to fact.",
    "{a} again. Every single time.",
    "Not sure what to make of this, but {a} and {b} in the same story is telling.",
    "lol the comments on this one are something else",
    "I'm calling it now: {a} will be gone within a year.",
    "Posting this here because the other thread got nuked.",
    "Bump for visibility. {b} people need to see this.",
    "Honestly the {b} angle is way more interesting than the headline.",
    "Here's the relevant part, the rest is filler.",
    "Thoughts? Seems like a big deal for {b}.",
]


def _words(text: str) -> list[re.Match[str]]:
    return list(WORD_RE.finditer(text))


def score_words(text: str) -> list[str]:
    """The words score.py compares."""
    return re.findall(r"[a-z0-9]+", text.lower().replace("’", "'"))


def hard_wrap(text: str, width: int = 70) -> str:
    """Break lines at about `width` columns, as a mail client or board would."""
    out, line = [], ""
    for w in text.split(" "):
        if line and len(line) + 1 + len(w) > width:
            out.append(line)
            line = w
        else:
            line = f"{line} {w}" if line else w
    out.append(line)
    return "\n".join(out)


def _swap_quotes(text: str, rng: Rng) -> str:
    if "’" in text or "“" in text:
        return text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = re.sub(r"(\w)'(\w)", "\\1’\\2", text)
    return re.sub(r'"([^"]*)"', "“\\1”", text)


def _swap_dash(text: str, rng: Rng) -> str:
    if "—" in text:
        return text.replace(" — ", rng.choice([" - ", " -- "])).replace("—", rng.choice(["-", "--"]))
    if " - " in text:
        return text.replace(" - ", " — ")
    return text


def _case(text: str, rng: Rng) -> str:
    ws = [m for m in _words(text)[1:] if m.group().isalpha()]
    if not ws:
        return text
    m = rng.choice(ws)
    w = m.group()
    new = w.lower() if w[0].isupper() else (w.upper() if rng.random() < 0.3 else w.capitalize())
    return text[: m.start()] + new + text[m.end() :]


def _punct(text: str, rng: Rng) -> str:
    if text.endswith("."):
        return text[:-1] + rng.choice(["", "!", "!"])
    if text[-1:] in "!?":
        return text[:-1] + "."
    return text + "."


def _stem(text: str) -> str:
    return "".join(text.split()).rstrip(".!?;")


COSMETIC_OPS = [_swap_quotes, _swap_dash, _case, _punct]


def cosmetic(text: str, rng: Rng) -> str | None:
    """Typography-only changes: quotes, dashes, case, trailing punctuation (+ maybe double spaces)."""
    out = text
    for op in rng.sample(COSMETIC_OPS, rng.randint(1, 3)):
        out = op(out, rng)
    if _stem(out) == _stem(text):
        out = _case(out, rng)
    if rng.random() < 0.3 and " " in out:
        i = rng.choice([m.start() for m in re.finditer(" ", out)])
        out = out[:i] + "  " + out[i + 1 :]
    return out if out != text else None


def elide(text: str, rng: Rng) -> str | None:
    """Drop 1-3 inner stretches of whole tokens (never half a number), each replaced by an ellipsis mark."""
    ws = list(re.finditer(r"\S+", text))
    if len(ws) < 12:
        return None
    n = rng.randint(1, min(3, (len(ws) - 4) // 6))
    cuts: list[tuple[int, int]] = []
    lo = 2
    for k in range(n):
        room = len(ws) - 2 - lo - (n - k - 1) * 5
        if room < 3:
            break
        length = rng.randint(2, min(8, room - 1))
        start = rng.randint(lo, lo + room - length - 1)
        cuts.append((start, start + length - 1))
        lo = start + length + 3
    if not cuts:
        return None
    mark = rng.choice(ELLIPSES).strip()
    out, prev = [], 0
    for a, b in cuts:
        out.append(text[prev : ws[a].start()].strip())
        out.append(mark)
        prev = ws[b].end()
    out.append(text[prev:].strip())
    return " ".join(out)


def change_number(text: str, rng: Rng) -> str | None:
    """One number changed: digits moved up or down, or a spelled number swapped."""
    digits = list(re.finditer(r"(?<![\w.,])\d{1,3}(?:,\d{3})*(?:\.\d+)?(?![\w])", text))
    if digits:
        m = rng.choice(digits)
        s = m.group()
        if "." in s:
            new = s[:-1] + str((int(s[-1]) + rng.randint(1, 8)) % 10)
        else:
            v = int(s.replace(",", ""))
            nv = (
                v + rng.choice([-1, 1]) * rng.randint(1, max(1, v // 3 or 1))
                if v > 3
                else v + rng.randint(2, 9)
            )
            nv = nv if nv >= 0 and nv != v else v + 7
            new = f"{nv:,}" if "," in s else str(nv)
        return text[: m.start()] + new + text[m.end() :]
    spelled = [m for m in _words(text) if m.group().lower() in NUMBER_WORDS]
    if not spelled:
        return None
    m = rng.choice(spelled)
    w = m.group()
    new = rng.choice([n for n in NUMBER_WORDS[:12] if n != w.lower()])
    new = new.capitalize() if w[0].isupper() else new
    return text[: m.start()] + new + text[m.end() :]


def change_negation(text: str, rng: Rng) -> str | None:
    """Add or remove a negation."""
    for m in re.finditer(r"\b(\w+(?:n't|n’t)|cannot)\b", text):
        w = m.group().replace("’", "'")
        if w.lower() in NEG_CONTRACTIONS:
            new = NEG_CONTRACTIONS[w.lower()]
            new = new.capitalize() if w[0].isupper() else new
            return text[: m.start()] + new + text[m.end() :]
    neg = re.search(r"\b(not|never) ", text)
    if neg is not None and rng.random() < 0.8:
        return text[: neg.start()] + text[neg.end() :]
    auxes = list(re.finditer(rf"\b({AUX})\b(?! not)", text))
    if not auxes:
        return None
    a = rng.choice(auxes)
    return text[: a.end()] + " not" + text[a.end() :]


def change_name(text: str, page: Page, rng: Rng) -> str | None:
    """Swap a capitalised name for another name from the same page."""
    present = [n for n in page.names if re.search(rf"\b{re.escape(n)}\b", text)]
    rng.shuffle(present)
    for n in present:
        others = [
            o
            for o in page.names[:40]
            if o != n
            and len(o.split()) == len(n.split())
            and not re.search(rf"\b{re.escape(o)}\b", text)
            and n not in o
            and o not in n
        ]
        if others:
            occ = list(re.finditer(rf"\b{re.escape(n)}\b", text))
            m = rng.choice(occ)
            return text[: m.start()] + str(rng.choice(others[:12])) + text[m.end() :]
    return None


def replace_words(text: str, page: Page, rng: Rng) -> str | None:
    """Replace 1-3 words with plausible other words (antonyms first, else words of the page)."""
    ws = [m for m in _words(text) if m.group().isalpha()]
    known = [m for m in ws if m.group().lower() in SWAPS]
    other = [m for m in ws if len(m.group()) >= 5 and m.group().islower()]
    vocab = sorted(set(re.findall(r"\b[a-z]{5,10}\b", page.text)))
    picks = rng.sample(known, min(len(known), rng.randint(1, 3)))
    if not picks and other and vocab:
        picks = rng.sample(other, min(len(other), rng.randint(1, 2)))
    if not picks:
        return None
    out = text
    for m in sorted(picks, key=lambda m: -m.start()):
        w = m.group()
        new = SWAPS.get(w.lower()) or rng.choice([v for v in vocab if v != w.lower()] or ["something"])
        new = new.capitalize() if w[0].isupper() else new
        out = out[: m.start()] + new + out[m.end() :]
    return out


def insert_words(text: str, rng: Rng) -> str | None:
    """Insert a 2-5 word phrase at an inner word boundary."""
    ws = _words(text)
    phrases = [p for p in INSERTS if 2 <= len(p.split()) <= 5] + [
        f"{a} and {b}" for a, b in [("quietly", "deliberately")]
    ]
    if len(ws) < 6:
        return None
    m = ws[rng.randint(2, len(ws) - 3)]
    return text[: m.end()] + " " + rng.choice(phrases) + text[m.end() :]


def delete_words(text: str, rng: Rng) -> str | None:
    """Delete 2-5 consecutive inner words, leaving no mark."""
    ws = _words(text)
    if len(ws) < 10:
        return None
    n = rng.randint(2, 5)
    a = rng.randint(2, len(ws) - n - 2)
    return text[: ws[a].start()] + text[ws[a + n - 1].end() :].lstrip()


def reorder(text: str, rng: Rng) -> str | None:
    """Swap two sentences, or the two halves of a sentence at a comma."""
    from _pages import split_sentences

    sents = split_sentences(text)
    if len(sents) >= 2:
        i = rng.randrange(len(sents) - 1)
        sents[i], sents[i + 1] = sents[i + 1], sents[i]
        return " ".join(sents)
    commas = [m.start() for m in re.finditer(r", ", text) if 20 < m.start() < len(text) - 20]
    if not commas:
        return None
    c = rng.choice(commas)
    a, b = text[:c], text[c + 2 :]
    end = b[-1] if b[-1] in ".!?" else ""
    b = b.rstrip(".!?")
    first = a.split(" ", 1)[0]
    a = a[:1].lower() + a[1:] if first in LOWERABLE else a
    return b[:1].upper() + b[1:] + ", " + a + end


def extend(text: str, rng: Rng) -> str | None:
    """Extend the last sentence with 5-12 invented words."""
    if not text or text[-1] not in ".!?":
        return None
    return text[:-1] + ", " + rng.choice(EXTENSIONS) + text[-1]


def invented_quote(page: Page, rng: Rng) -> str:
    """A plausible quotation the page never contains."""
    names = page.names[:15] or ["the company", "officials"]
    a = rng.choice(names)
    b = rng.choice([n for n in names if n != a] or ["the government"])
    return rng.choice(INVENTED).format(a=a, b=b)


def commentary(pages: list[Page], rng: Rng) -> str:
    """The poster's own words; may name people and places from the article."""
    names = [n for p in pages for n in p.names[:12]] or ["them", "this"]
    out = []
    for t in rng.sample(COMMENTARY, 2 if rng.random() < 0.35 else 1):
        a = rng.choice(names)
        out.append(t.format(a=a, b=rng.choice([n for n in names if n != a] or names)))
    return " ".join(out)
