"""The ``provenance`` command's entry point, kept apart from the CLI on purpose.

multiprocessing runs the command's script again in every extraction worker it starts (as
``__mp_main__``, to rebuild the parent's ``__main__``). The script pip writes imports this
module's ``main`` at its top: were that ``service.cli``'s, each worker would import the whole CLI
(0.15 s of CPU, and its memory) for nothing. This module imports nothing; the CLI is imported
when ``main`` runs, in the command's own process only.
"""

from __future__ import annotations


def main() -> int:
    from service.cli import main as cli_main

    return cli_main()
