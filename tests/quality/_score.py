"""The official scoring rule (``../shared/tools/score.py``), in the repository so CI can run without it.

Each reported quote is matched to one labelled passage: by character span when the passage has a
``span`` and the quote a ``post_span`` (the passage it overlaps most, by at least half the quote's
span), else by words (the passage sharing most words with it, at least 60% of the quote's words;
ties go to the earlier passage). A passage is found when its quotes cover at least half its words.
Labels: ``ok`` (found, not flagged, status verbatim/cosmetic/elided), ``commentary`` (not flagged),
``flagged`` (any flagged status), ``source_changed`` (found, not flagged, that status), and
``altered`` / ``misattributed`` / ``not_found`` (flagged with that status).

``tests/quality/test_score_agreement.py`` checks that this gives score.py's output, line for line.
"""

from __future__ import annotations

import collections
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OK_STATUSES = frozenset({"verbatim", "cosmetic", "elided"})
SHOULD_FLAG = frozenset({"altered", "misattributed", "not_found", "flagged"})
FAITHFUL = frozenset({"ok", "commentary"})
_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """Letters and digits of every script, lowercased; a curly apostrophe counts as a straight one."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def overlap(a: Sequence[str], b: Sequence[str]) -> int:
    """Words the two share, counted with multiplicity."""
    return sum((collections.Counter(a) & collections.Counter(b)).values())


def _span_overlap(a: Sequence[int], b: Sequence[int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


@dataclass(frozen=True)
class Planted:
    """One labelled passage: its text in the post, its label and, when known, its span in the post."""

    text: str
    label: str
    span: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Row:
    """The verdict on one labelled passage."""

    text: str
    label: str
    flagged: bool
    statuses: tuple[str, ...]
    found: bool
    right: bool


def _assign(planted: Sequence[Planted], quotes: Sequence[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Which labelled passage each reported quote stands for (a quote matching none is dropped)."""
    pw = [words(p.text) for p in planted]
    spans = [p.span for p in planted if p.span]
    by_span = len(spans) == len(planted)  # every passage has a (non-empty) span
    assigned: dict[int, list[dict[str, Any]]] = collections.defaultdict(list)
    for q in quotes:
        qw = words(q.get("text") or "")
        if not qw or not planted:
            continue
        qs = q.get("post_span")
        if qs and by_span:
            best = max(range(len(planted)), key=lambda i: _span_overlap(qs, spans[i]))
            if _span_overlap(qs, spans[best]) >= 0.5 * max(1, qs[1] - qs[0]):
                assigned[best].append(q)
            continue
        best = max(range(len(planted)), key=lambda i: overlap(qw, pw[i]))
        if overlap(qw, pw[best]) >= 0.6 * len(qw):
            assigned[best].append(q)
    return assigned


def _is_right(label: str, *, found: bool, flagged: bool, statuses: set[str]) -> bool:
    if label == "ok":
        return found and not flagged and statuses <= OK_STATUSES
    if label == "commentary":
        return not flagged
    if label == "flagged":
        return flagged
    if label == "source_changed":
        return found and not flagged and "source_changed" in statuses
    return flagged and label in statuses


def judge(planted: Sequence[Planted], quotes: Sequence[dict[str, Any]]) -> list[Row]:
    """One row per labelled passage of a post, given the quotes of that post's report."""
    assigned = _assign(planted, quotes)
    rows = []
    for i, p in enumerate(planted):
        pw = words(p.text)
        qs = assigned.get(i, [])
        cover = sum(overlap(words(q.get("text") or ""), pw) for q in qs) / max(1, len(pw))
        flagged = any(q.get("flagged") for q in qs)
        statuses = {q["status"] for q in qs if q.get("status")}
        found = cover >= 0.5
        right = _is_right(p.label, found=found, flagged=flagged, statuses=statuses)
        rows.append(Row(p.text, p.label, flagged, tuple(sorted(statuses)), found, right))
    return rows


@dataclass(frozen=True)
class Score:
    """Figures over every passage: the three rates and the counts they come from."""

    recall: float
    false_flag: float
    accuracy: float
    passages: int
    should_flag: int
    flagged_right: int
    faithful: int
    faithful_flagged: int
    right: int
    per_kind: dict[str, tuple[int, int]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """score.py's output, line for line."""
        kinds = ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(self.per_kind.items()))
        return [
            f"per kind (right/total): {kinds}",
            f"recall {self.recall:.4f} false_flag {self.false_flag:.4f} accuracy {self.accuracy:.4f} "
            f"passages {self.passages}",
        ]


def summarize(rows: Sequence[Row], per_kind: dict[str, tuple[int, int]] | None = None) -> Score:
    """Recall (changes flagged), false flags (faithful passages flagged) and accuracy (right status)."""
    should = [r for r in rows if r.label in SHOULD_FLAG]
    shouldnt = [r for r in rows if r.label in FAITHFUL]
    hits = sum(r.flagged for r in should)
    false = sum(r.flagged for r in shouldnt)
    right = sum(r.right for r in rows)
    return Score(
        recall=hits / max(1, len(should)),
        false_flag=false / max(1, len(shouldnt)),
        accuracy=right / max(1, len(rows)),
        passages=len(rows),
        should_flag=len(should),
        flagged_right=hits,
        faithful=len(shouldnt),
        faithful_flagged=false,
        right=right,
        per_kind=dict(per_kind or {}),
    )


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _span(passage: dict[str, Any]) -> tuple[int, ...] | None:
    span = passage.get("span")
    return None if span is None else tuple(span)


def score_files(labelled: Path, reports: Path) -> Score:
    """Score a report file (one JSON report per line, with the post's id) against labelled posts."""
    by_id = {r.get("id"): r for r in _jsonl(reports)}  # a repeated id: the last report counts
    rows: list[Row] = []
    kinds: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for post in _jsonl(labelled):
        passages = post["passages"]
        planted = [Planted(p["text"], p["label"], _span(p)) for p in passages]
        quotes = by_id.get(post["id"], {}).get("quotes", [])
        for row, p in zip(judge(planted, quotes), passages, strict=True):
            rows.append(row)
            k = kinds[p.get("kind", p["label"])]
            k[0] += row.right
            k[1] += 1
    return summarize(rows, {k: (v[0], v[1]) for k, v in kinds.items()})
