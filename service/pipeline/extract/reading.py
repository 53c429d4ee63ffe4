"""Reading one page, in an extraction worker: decode, parse once, metadata, signals, the whole
visible text, then trafilatura's main text; and the worker's own set-up.

What the fork server imports (``launcher._PRELOAD``): this and the extraction stack, nothing of
the parent's (no asyncio, no URL normalisation with its public-suffix list), so the server is
ready sooner. The parent imports this module too (the pool sends its functions by name), so the
page modules are imported by ``read_page``, in the worker: the parent never loads lxml or
htmldate. ``pool.py`` sends pages here and puts the URL-dependent part back in.
"""

from __future__ import annotations

import contextlib
import ctypes
import encodings
import functools
import gc
import importlib
import inspect
import logging
import math
import os
import pickle
import pkgutil
import signal
import socket
import struct
import sys
import time
from collections.abc import MutableSequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from service.pipeline.models import PageSignals
from service.settings import ExtractSettings

if TYPE_CHECKING:
    from lxml import html

    from service.pipeline.extract.page_text import PageTags

DEFAULT_MAX_HTML = ExtractSettings().max_html_bytes
_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PageReading:
    """What a page says regardless of the URL it was served under (the cacheable part)."""

    main_text: str
    page_text: str
    title: str | None
    author: str | None
    published: str | None
    canonical_href: str | None
    og_url: str | None
    base_href: str | None
    signals: PageSignals | None = None
    incomplete: bool = False  # the parser stopped early (depth limit) or the HTML was cut at the cap


def _limit_cpu(seconds: float) -> None:
    """Let this worker spend at most ``seconds`` more CPU (RLIMIT_CPU; Linux sends SIGXCPU, which
    ends it, and no core is written): a second bound besides the parent's wall clock, which a
    suspended or starved parent cannot enforce. Elsewhere, or when refused: nothing."""
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = math.ceil(usage.ru_utime + usage.ru_stime + seconds)
        capped = soft if hard == resource.RLIM_INFINITY else min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (capped, hard))
        resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))


# Where this worker stamps the moment it starts a page (``time.monotonic``, one clock for every
# process): a slot of an array shared with the pool, which counts a page's wall-clock limit from
# that moment, not from when the page was queued. Set by ``init_worker``.
_starts: MutableSequence[float] | None = None


def read_limited(
    body: bytes,
    url: str | None,
    content_type: str | None,
    max_html_bytes: int,
    cpu_s: float,
    slot: int | None = None,
) -> PageReading:
    """``read_page`` under a CPU-time limit: what the pool's workers run; ``slot``: where to stamp
    its start in the pool's shared array."""
    begin_call(cpu_s, slot)
    return read_page(body, url, content_type, max_html_bytes)


def begin_call(cpu_s: float, slot: int | None) -> None:
    """Start a worker's call: stamp its start in ``slot`` (the pool's clock for its wall-clock
    limit) and allow it ``cpu_s`` more seconds of CPU."""
    if slot is not None and _starts is not None:
        _starts[slot] = time.monotonic()
    _limit_cpu(cpu_s)


def read_page(body: bytes, url: str | None, content_type: str | None, max_html_bytes: int) -> PageReading:
    """Decode, parse and extract one page. Pure: the result depends on the bytes and charset only.

    The page is parsed once: metadata, signals and the whole-page text are read from the tree,
    then htmldate and trafilatura are handed the same tree (trafilatura copies it before it
    cleans it; htmldate cleans a copy), which costs less than their own decoding and parsing.
    """
    # Imported here, in the worker (the fork server preloads them): the parent imports this
    # module for the worker's entry points and ``PageReading``, not lxml or htmldate.
    from service.pipeline.extract import page_meta as _pagemeta
    from service.pipeline.extract import page_text as _pagetext
    from service.pipeline.extract.completeness import extraction_incomplete
    from service.pipeline.extract.signals import read_signals

    text, utf8 = _pagetext.decode_page(body, content_type)
    root, data = _pagetext.parse_html(text, max_html_bytes, utf8)
    incomplete = extraction_incomplete(root, text, data, max_html_bytes)
    if root is None:
        return PageReading("", "", None, None, None, None, None, None, incomplete=incomplete)
    tags = _pagetext.page_tags(root)  # one walk for every reader's meta, link, script… elements
    metas = _pagetext.meta_map(root, tags)
    canonical, og_url, base = _pagemeta.link_hrefs(root, metas, tags)
    title, author = _pagemeta.title(root, metas, tags), _pagemeta.author(root, metas, tags)
    signals = read_signals(root, title, tags)
    text = _pagetext.page_text(root, metas, tags)
    published = _pagemeta.published_date(root, metas, tags) or _pagemeta.guessed_date(root)
    _drop_what_trafilatura_deletes(root, tags)  # our readers are done with the tree
    main_text = _trafilatura(root, url) or ""
    return PageReading(
        main_text, text, title, author, published, canonical, og_url, base, signals, incomplete=incomplete
    )


def _drop_what_trafilatura_deletes(root: html.HtmlElement, tags: PageTags) -> None:
    """Remove, tails kept, the elements trafilatura deletes unread on every path (its cleaning
    lists for the main extractor, the baseline and the page measure): scripts other than JSON-LD
    (its forum and baseline readers use those) and styles. Not ``link`` or ``svg``, which it deletes
    too: a ``<link>`` inside a paragraph ends a line of its text, and a page with little else
    gives its last-resort readers an ``svg``'s text.

    trafilatura copies the tree two to three times and runs its raw-tree XPaths over all of it
    before it deletes them: handed a smaller tree, it does the same for 2 to 3% less CPU (measured on
    the 190 corpus, international and test pages, its text unchanged on every one).
    """
    doomed = [el for el in tags.script if "ld+json" not in (el.get("type") or "").lower()]
    doomed += root.iter("style")
    for el in doomed:
        if el.getparent() is not None:  # never the root
            el.drop_tree()


def _trafilatura(root: html.HtmlElement, url: str | None) -> str | None:
    """trafilatura's main text of the page, or None when it discards the page or trips on it.

    Read in place when this trafilatura's cascade is the one ``_in_place`` was written against
    (``_IN_PLACE``), else through ``bare_extraction``, which first copies the tree it is handed.
    """
    # Imported here, in the worker: the parent process never extracts and starts faster without it.
    import trafilatura
    from trafilatura.settings import Document

    from service.pipeline.extract import cleaning, selections

    cleaning.install()  # once per process: the same selection, without a Python call per element
    selections.install()  # the same, for the XPaths that prune sections and find the body
    try:
        if _in_place_usable():
            return _in_place(root, url)
        doc = trafilatura.bare_extraction(root, url=url, **_OPTIONS)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - a trafilatura bug on one odd page costs its main text, not the page
        _log.warning("trafilatura failed on %s", url, exc_info=True)
        return None
    return doc.text if isinstance(doc, Document) else None


# What trafilatura is asked for, whichever way it is called.
_OPTIONS = {
    # Metadata is read from the tree in _pagemeta: trafilatura's pass (htmldate's extensive date
    # search above all) cost a third of the extraction time.
    "with_metadata": False,
    "include_comments": False,
    "deduplicate": False,  # the process-global dedup cache would make results depend on history
    # No readability/jusText second pass: 25% faster, and what the main text misses the whole-page
    # text still holds.
    "fast": True,
}

# ``trafilatura.core.trafilatura_sequence``'s parameters in the trafilatura ``_in_place`` follows.
_IN_PLACE = ("tree", "options", "url")


@functools.cache
def _in_place_usable() -> bool:
    from trafilatura import core

    sequence = getattr(core, "trafilatura_sequence", None)
    return sequence is not None and tuple(inspect.signature(sequence).parameters) == _IN_PLACE


def _in_place(root: html.HtmlElement, url: str | None) -> str | None:
    """What ``bare_extraction(root, url=url, **_OPTIONS).text`` gives, without its first step: a
    copy of the whole tree, made so the caller's tree is never changed, which took 1.3 ms of the
    10.8 a corpus page spends in trafilatura. This tree is read by nothing after trafilatura.

    The rest is ``bare_extraction``'s own path for these options, in its order (trafilatura
    2.3): the cascade (``trafilatura_sequence``, an internal function, hence ``_IN_PLACE``), the
    output tree's size limit, the minimum text size, then the text. A test holds it to
    ``bare_extraction``'s text on generated pages and, where ``../shared`` is, on the corpus.
    """
    from lxml.etree import strip_tags
    from trafilatura.core import trafilatura_sequence
    from trafilatura.settings import Extractor
    from trafilatura.xml import xmltotxt

    options = Extractor(
        output_format="python",
        fast=_OPTIONS["fast"],
        comments=_OPTIONS["include_comments"],
        dedup=_OPTIONS["deduplicate"],
        with_metadata=_OPTIONS["with_metadata"],
        url=url,
    )
    body, text, _, comments = trafilatura_sequence(root, options, options.url)
    if options.max_tree_size and len(body) > options.max_tree_size:
        strip_tags(body, "hi")
        if len(body) > options.max_tree_size:
            return None
    if len(text) < options.min_output_size and len(comments) < options.min_output_comm_size:
        return None
    return str(xmltotxt(body, options.formatting))


# Latin-1 with no declared charset: reading it imports trafilatura and what charset detection needs.
_WARM_UP_PAGE = "<html><body><article><p>Un café à Zürich, le 3 janvier 2020.</p></article></body></html>"
# A news page's usual parts (JSON-LD, meta tags, navigation, an article, a footer): reading it
# makes the compilations a first real page would.
_WARM_UP_ARTICLE = (
    '<!doctype html><html lang="en"><head><title>Harbour reopens</title>'
    '<meta property="og:title" content="Harbour reopens"><meta name="author" content="A. Writer">'
    '<meta property="article:published_time" content="2024-03-01T08:00:00Z">'
    '<link rel="canonical" href="https://example.com/a">'
    '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Harbour reopens"}</script>'
    "</head><body><nav><a href='/'>Home</a> <a href='/world'>World</a></nav><main><article>"
    "<h1>Harbour reopens</h1><p class='byline'>By A. Writer</p>"
    + "<p>The harbour reopened on Monday after the storm, and the first boats left before dawn.</p>"
    * 6
    + "<ul><li>One</li><li>Two</li></ul><table><tr><td>Cell</td></tr></table></article></main>"
    "<aside class='related'>Related</aside><footer>Footer</footer></body></html>"
)


_warmed_in: int | None = None  # the pid of the process that warmed up this one's stack


def warm_up() -> None:
    """Read two pages and import every codec, once per process: the imports and compilations that
    trafilatura, htmldate and charset detection make on their first page (40 ms, then 10 ms more
    on the first real page) happen here, not within a page's time limit.

    The fork server runs it (its last preload, ``extract.warmup``), so every worker forked from
    it starts warm; a spawned worker, or one whose server could not warm up, runs it itself."""
    global _warmed_in  # one per process (a forked worker inherits its server's)
    if _warmed_in is not None:
        return
    for name in ("trafilatura", "htmldate", "justext", "courlan"):
        logging.getLogger(name).setLevel(logging.ERROR)
    read_page(_WARM_UP_PAGE.encode("latin-1"), None, None, DEFAULT_MAX_HTML)
    article = _WARM_UP_ARTICLE.encode()
    read_page(article, "https://example.com/a", "text/html; charset=utf-8", DEFAULT_MAX_HTML)
    for codec in pkgutil.iter_modules(encodings.__path__):  # charset detection may try any of them
        with contextlib.suppress(ImportError):  # mbcs and oem exist on Windows only
            importlib.import_module(f"encodings.{codec.name}")
    _warmed_in = os.getpid()


_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_GC_YOUNG_THRESHOLD = 50_000


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this child when its parent dies: a worker killed with SIGKILL (or
    OOM-killed) must not leave its extraction processes running forever. Elsewhere: nothing."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def init_worker(parent: int | None = None, starts: MutableSequence[float] | None = None) -> None:
    """Child setup: die with the parent, leave Ctrl-C to the parent, and warm up (``warm_up``:
    trafilatura quieted, as it logs every discarded page, and the lazy imports made) so no page's
    time limit pays them. ``starts``: the pool's array of start stamps."""
    global _starts  # one per worker process, set once here
    _starts = starts
    if parent is not None:
        _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warm_up()  # done already (loggers quieted too) in a worker forked from a server that ran it
    # What the worker holds from now on is the modules it imported: kept out of every collection.
    # A page makes tens of thousands of short-lived objects (lxml proxies, strings) and no cycles
    # to speak of, so the youngest generation is collected every 50,000 allocations, not 700
    # (2% of a page's CPU, measured on the corpus).
    gc.freeze()
    gc.set_threshold(_GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def start_worker(parent: int | None, starts: MutableSequence[float] | None = None) -> None:
    """A forked worker's first step: let go of the fork server, then the usual ``init_worker``.

    The fork server exits when the last holder of its "alive" pipe does; that is meant to be this
    process's parent, but each worker is handed a copy too. A worker that kept it would keep
    the server alive after the parent died, and the server's death is what kills the workers
    (``_die_with_parent``); a worker never starts processes of its own, so it closes its copy.
    """
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    alive = getattr(server, "_forkserver_alive_fd", None)
    if isinstance(alive, int):
        with contextlib.suppress(OSError):
            os.close(alive)
        server._forkserver_alive_fd = None  # type: ignore[union-attr]
    init_worker(parent, starts)


# One message between the pool and a worker, either way: its length (8 bytes, big-endian), then a
# pickle. To the worker: ``(function, args)``; back: ``(True, result)`` or ``(False, exception)``.
# The first message a worker sends, once it is set up, is ``(True, pid)``: it is ready.
FRAME = struct.Struct("!Q")


def serve(conn: socket.socket, parent: int | None, starts: MutableSequence[float], forked: bool) -> None:
    """An extraction worker's whole life: set up, say so, then answer each call the pool sends,
    in order, until the pool closes its end (or kills this process).

    Written here rather than taken from ``concurrent.futures``: its pool needs two threads in the
    parent (a manager and a queue feeder) whose hand-offs cost the parent about 0.8 ms of CPU a
    page (measured on the corpus batch), on the same two cores as the workers. This loop needs
    none: the parent reads and writes the socket from its event loop.
    """
    (start_worker if forked else init_worker)(parent, starts)
    incoming = conn.makefile("rb")

    def send(answer: tuple[bool, object]) -> None:
        try:
            data = pickle.dumps(answer, pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - an answer that cannot travel is a failed call
            data = pickle.dumps((False, RuntimeError(f"unpicklable answer: {exc!r}")))
        conn.sendall(FRAME.pack(len(data)) + data)

    try:
        send((True, os.getpid()))
        while len(header := incoming.read(FRAME.size)) == FRAME.size:
            function, args = pickle.loads(incoming.read(FRAME.unpack(header)[0]))
            try:
                answer: tuple[bool, object] = (True, function(*args))
            except Exception as exc:  # noqa: BLE001 - the caller gets the exception, as from any call
                answer = (False, exc)
            send(answer)
    except OSError:  # the pool closed its end while this call ran (it gave the call up): done
        return
