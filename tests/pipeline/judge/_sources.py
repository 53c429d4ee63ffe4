"""Shared by the judge tests: two sources with distinct texts, read as verification reads them."""

from __future__ import annotations

from service.pipeline.models import SourceReport, SourceStatus, TextKind
from service.pipeline.state import ReadSource, SourceText, new_index_cache
from service.settings import AlignSettings

SETTINGS = AlignSettings()
INDEXES = new_index_cache()
A, B = "https://a.example/", "https://b.example/"
TEXT_A = "The harbour reopened on Monday after three days of storms, the port authority said."
TEXT_B = "The council approved the new budget late on Tuesday night after a long debate."


def source(url: str, text: str | None, *, then: str | None = None, partial: bool = False) -> ReadSource:
    status = SourceStatus.OK if text is not None else SourceStatus.DEAD
    live = (SourceText(url, TextKind.MAIN, text, INDEXES),) if text is not None else ()
    past = (SourceText(url, TextKind.MAIN, then, INDEXES),) if then is not None else ()
    return ReadSource(url, SourceReport(url=url, final_url=url, status=status), live=live, at_post=past,
                      partial=partial)  # fmt: skip
