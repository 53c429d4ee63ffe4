"""The framework-free verification pipeline: post → sources → alignments → report.

Importing this package loads no web code; stage modules are imported where they are used.
"""

__all__ = [
    "align",
    "archive",
    "batch",
    "cache",
    "deps",
    "errors",
    "evidence",
    "extract",
    "fetch",
    "guard",
    "health",
    "http",
    "judge",
    "models",
    "posts",
    "render",
    "replay",
    "report",
    "segments",
    "sources",
    "urls",
    "verify",
]
