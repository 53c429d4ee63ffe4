"""Where extraction workers come from: a fork server that imports the extraction stack once.

Started by the first pool of a process, or sooner: a command that will extract (``verify``,
``batch``) starts it before it imports the rest of the pipeline (``start_early``), so that the
server's imports (trafilatura, lxml, htmldate, every codec) and its warm-up read run beside the
command's own (aiohttp, structlog), on another core, instead of after them. Light on purpose: it
imports no more than ``multiprocessing``.
"""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing.context import ForkServerContext, SpawnContext

__all__ = ["start_early", "worker_context"]

# What the fork server imports once, before it forks any worker: the page reader and the
# extraction stack, not the pool (asyncio) nor the CLI.
_PRELOAD = [
    "service.pipeline.extract.reading",
    "service.pipeline.extract.page_meta",
    "service.pipeline.extract.signals",
    "service.pipeline.extract.completeness",
    "service.pipeline.extract.captures",  # replayed captures are read by the workers
    "service.pipeline.extract.cleaning",
    "service.pipeline.extract.selections",
    "trafilatura",
    "htmldate",
    "charset_normalizer",
    "service.pipeline.extract.warmup",  # last: reads a page with all of the above (``reading.warm_up``)
]


def worker_context() -> tuple[ForkServerContext | SpawnContext, int | None]:
    """The context workers start from, and the pid of the process that will be their parent.

    A fork server (started once per process, importing ``_PRELOAD`` once) forks every worker:
    starting one costs a fork and the worker's set-up, not an interpreter start and a re-import
    of trafilatura, so a page never waits long for a worker and a killed pool comes back at once.
    The server exits when this process dies; its workers die with it (``reading._die_with_parent``).
    Where there is no fork server (Windows), workers are spawned.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn"), os.getpid()
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    forkserver.ensure_running()
    # The server's pid has no public accessor; ``_forkserver_pid`` has been there since 3.4.
    return context, getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None)


def start_early() -> None:
    """Start the fork server now, if it is not running: it imports the extraction stack while
    the caller goes on. Nothing more (no worker is forked); the first pool uses this server."""
    worker_context()
