"""The ``provenance`` command's first step: start the extraction fork server before the CLI is
imported, when the command line plainly asks for a read in this process.

Importing the CLI takes 0.15 to 0.2 s of one core, during which the other core has nothing to
do; the fork server's own imports (trafilatura, lxml, htmldate, every codec) and its warm-up
read fill it. ``cli.main`` decides exactly, after parsing, and starts the server then if it is
not running yet: this early guess is only ever right or idle (a command it misses loses nothing;
one it starts the server for wrongly would only have wasted that idle core).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

_EXTRACTING = frozenset({"verify", "batch"})


def extracts_here(argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """A ``verify`` or ``batch`` that reads its pages here: not a batch sent to the queue
    (``--redis`` or ``PROVENANCE_REDIS_URL``), nor a call for help."""
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    if command not in _EXTRACTING or any(arg in ("-h", "--help") for arg in argv):
        return False
    queued = any(arg == "--redis" or arg.startswith("--redis=") for arg in argv)
    return command == "verify" or not (queued or environ.get("PROVENANCE_REDIS_URL"))


def main() -> int:
    if extracts_here(sys.argv[1:], os.environ):
        from service.pipeline.extract.launcher import start_early

        # As ``cli.main`` does before it starts the server: the server is a ``python -c``, so the
        # working directory would otherwise lead its sys.path.
        os.environ.setdefault("PYTHONSAFEPATH", "1")
        start_early()
    from service.cli import main as cli_main

    return cli_main()
