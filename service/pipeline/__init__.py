"""The framework-free verification pipeline: post → sources → alignments → report.

Importing this package loads no web code; stage modules are imported where they are used.
"""

__all__ = [
    "align",
    "batch",
    "deps",
    "extract",
    "fetch",
    "judge",
    "models",
    "posts",
    "render",
    "replay",
    "report",
    "urls",
    "verify",
]
