"""The ``provenance`` command: arguments and environment into settings, then the pipeline.

No domain logic here. Every failure a user can cause ends as one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

# Only leaves at start-up: --help and a usage error load neither the pipeline, nor structlog, nor
# the HTTP client; each command imports what it runs.
from service.pipeline.errors import PipelineError
from service.pipeline.models import EventKind, InputFormat, ProgressEvent, Report, SourceStatus, Verdict
from service.settings import (
    ARCHIVE_CHOICES,
    ApiSettings,
    ArchiveTarget,
    BudgetSettings,
    QueueSettings,
    Settings,
    SettingsError,
    parse_archive,
)

if TYPE_CHECKING:
    from service.api.credentials import KeyStore

EXIT_OK, EXIT_FLAGGED, EXIT_USAGE = 0, 1, 2
EXIT_OUT_OF_TIME = 3  # batch: its budget ran out; posts not started have a budget_exhausted report


class UsageError(Exception):
    """Bad usage or unreadable input: one line to stderr, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


_LOG_LEVELS = ("debug", "info", "warning", "error")
_HELP = {
    "format": "report format (default: text on a terminal, json when piped; batch: json lines only)",
    "input_format": "how to read the post (default auto: guessed from its content)",
    "posted_at": "when the post was made: sources are also read as they were then",
    "replay": "read pages from this WARC file or folder instead of the web (repeatable)",
    "archive": "where fetched pages are kept as evidence (default warc)",
    "data_dir": "folder for WARC evidence and keys (default from PROVENANCE_DATA_DIR)",
    "allow_private_addresses": "allow fetching from private, loopback and link-local addresses",
    "log_level": "log messages at this level and above (on stderr)",
    "redis": "Redis URL: queue the posts for workers (default from PROVENANCE_REDIS_URL)",
    "concurrency": "posts verified at once (default 8)",
    "post_budget": "seconds to read one post's sources; those unread by then are budget_exhausted "
    "(default 120, from PROVENANCE_POST_BUDGET; 0: no limit)",
    "batch_budget": "seconds for the whole batch; posts not started by then get an error report "
    "and the exit status is 3 (default: none, from PROVENANCE_BATCH_BUDGET; 0: no limit)",
}


def _shared_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("json", "text", "html"), default=None, help=_HELP["format"])
    parser.add_argument(
        "--input-format", choices=[f.value for f in InputFormat], default="auto", help=_HELP["input_format"]
    )
    parser.add_argument("--posted-at", metavar="ISO-8601", help=_HELP["posted_at"])
    parser.add_argument(
        "--post-budget", type=float, default=None, metavar="SECONDS", help=_HELP["post_budget"]
    )
    _evidence_options(parser)
    parser.add_argument("--log-level", default="warning", choices=_LOG_LEVELS, help=_HELP["log_level"])


def _evidence_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--replay", action="append", default=[], metavar="PATH", type=Path, help=_HELP["replay"]
    )
    parser.add_argument(
        "--archive", default=None, metavar="none|warc|wayback|warc,wayback", help=_HELP["archive"]
    )
    parser.add_argument("--data-dir", type=Path, default=None, help=_HELP["data_dir"])
    parser.add_argument(
        "--allow-private-addresses", action="store_true", default=None, help=_HELP["allow_private_addresses"]
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="provenance", description="Check quoted passages against the pages they cite.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    verify = commands.add_parser("verify", help="verify one post and print its report")
    verify.add_argument("file", nargs="?", default="-", help="the post (default: standard input)")
    verify.add_argument("--id", default=None, help="an id to put in the report")
    _shared_options(verify)
    batch = commands.add_parser("batch", help="verify many posts (JSON lines) in-process")
    batch.add_argument("input", help="JSON lines: {id, text, format?, posted_at?}; - for stdin")
    batch.add_argument(
        "-o", "--output", required=True, help="where the reports go (JSON lines); - for stdout"
    )
    batch.add_argument("--concurrency", type=int, default=None, help=_HELP["concurrency"])
    batch.add_argument("--redis", default=None, metavar="URL", help=_HELP["redis"])
    batch.add_argument(
        "--batch-budget", type=float, default=None, metavar="SECONDS", help=_HELP["batch_budget"]
    )
    _shared_options(batch)
    capture = commands.add_parser("capture", help="fetch pages and write them as WARC evidence")
    capture.add_argument("urls", nargs="+", metavar="URL", help="the pages to fetch")
    capture.add_argument("-o", "--output", required=True, type=Path, help="the WARC file to write")
    capture.add_argument(
        "--allow-private-addresses", action="store_true", default=None, help=_HELP["allow_private_addresses"]
    )
    capture.add_argument("--log-level", default="warning", choices=_LOG_LEVELS, help=_HELP["log_level"])
    capture.set_defaults(archive=None, data_dir=None)
    serve = commands.add_parser("serve", help="the HTTP API and the web page")
    serve.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8080)")
    serve.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a browser origin allowed to call the API (repeatable), e.g. chrome-extension://ID",
    )
    serve.add_argument("--open", action="store_true", default=None, help="no API keys needed")
    serve.add_argument("--allow-open-public", action="store_true", help="allow --open on a public address")
    serve.add_argument("--redis", default=None, metavar="URL", help="send verifications to queue workers")
    serve.add_argument("--concurrency", type=int, default=None, help=_HELP["concurrency"])
    _shared_options(serve)
    worker = commands.add_parser("worker", help="a queue worker: verifies posts from the Redis job stream")
    worker.add_argument("--redis", default=None, metavar="URL", help="the Redis holding the job stream")
    worker.add_argument("--concurrency", type=int, default=None, help="jobs run at once (default 8)")
    worker.add_argument("--name", default=None, help="this worker's name (default <hostname>-<pid>)")
    worker.add_argument("--burst", action="store_true", help="exit when no job is left")
    worker.add_argument("--check", action="store_true", help="exit 0 if this host's worker is alive")
    worker.add_argument(
        "--metrics-port", type=int, default=None, metavar="PORT", help="serve Prometheus metrics on this port"
    )
    _evidence_options(worker)
    worker.add_argument("--log-level", default="info", choices=_LOG_LEVELS, help=_HELP["log_level"])
    worker.add_argument("--log-format", default="json", choices=("json", "console"), help="log line format")
    keys = commands.add_parser("keys", help="API keys for serve (stored hashed: in Redis, else the data dir)")
    keys.add_argument("action", choices=("create", "list", "revoke"), help="what to do with the keys")
    keys.add_argument("key_id", nargs="?", help="the key to revoke")
    keys.add_argument("--name", default="", help="a label for a new key")
    keys.add_argument("--data-dir", type=Path, default=None, help="keep the keys in this folder")
    keys.add_argument("--redis", default=None, metavar="URL", help="keep the keys in this Redis")
    keys.add_argument("--log-level", default="warning", choices=_LOG_LEVELS, help=_HELP["log_level"])
    keys.set_defaults(archive=None, allow_private_addresses=None)
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
    return parser


class _VersionAction(argparse.Action):
    """argparse's ``version`` action, with the version looked up only when asked for: reading
    the installed package's metadata took a tenth of ``--help``'s time, on every command."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option: str | None = None,
    ) -> None:
        print(f"provenance {_version()}")  # on stdout, as argparse's own action prints it
        parser.exit()


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("provenance-verify")
    except metadata.PackageNotFoundError:
        return "unknown"


def settings_from(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    """Flags win over ``PROVENANCE_*`` variables, which win over defaults."""
    try:
        base = Settings.from_env(environ)
    except SettingsError as exc:
        raise UsageError(str(exc)) from exc
    http = base.http
    if args.allow_private_addresses:
        http = replace(http, allow_private_addresses=True)
    archive = base.archive
    if args.archive is not None:
        try:
            archive = parse_archive(args.archive)
        except SettingsError:
            raise UsageError(f"--archive must be one of {ARCHIVE_CHOICES}") from None
    for path in getattr(args, "replay", ()):
        _check_replay_path(path)
    concurrency = getattr(args, "concurrency", None)
    concurrency = base.concurrency if concurrency is None else concurrency
    if concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    data_dir = args.data_dir or base.data_dir
    redis_url = getattr(args, "redis", None) or base.redis_url
    return replace(
        base,
        budget=_budget_options(args, base.budget),
        queue=_queue_options(args, base.queue),
        api=_api_options(args, base.api),
        redis_url=redis_url,
        http=http,
        replay=tuple(getattr(args, "replay", ())),
        archive=archive,
        data_dir=data_dir,
        concurrency=concurrency,
    )


def _api_options(args: argparse.Namespace, api: ApiSettings) -> ApiSettings:
    if getattr(args, "host", None) is not None:
        api = replace(api, host=args.host)
    if getattr(args, "port", None) is not None:
        api = replace(api, port=args.port)
    if getattr(args, "cors_origin", None):
        api = replace(api, cors_origins=(*api.cors_origins, *args.cors_origin))
    if getattr(args, "open", None):
        api = replace(api, open_access=True)
    if getattr(args, "allow_open_public", False):
        api = replace(api, allow_open_public=True)
    return api


def _budget_options(args: argparse.Namespace, budget: BudgetSettings) -> BudgetSettings:
    """``--post-budget`` and ``--batch-budget``: seconds, 0 for no limit."""
    for flag, field_name in (("post_budget", "post_s"), ("batch_budget", "batch_s")):
        seconds = getattr(args, flag, None)
        if seconds is None:
            continue
        if not seconds >= 0:  # also NaN
            raise UsageError(f"--{flag.replace('_', '-')} must be at least 0 (0: no limit)")
        budget = replace(budget, **{field_name: seconds or None})
    return budget


def _queue_options(args: argparse.Namespace, queue: QueueSettings) -> QueueSettings:
    if getattr(args, "name", None):
        queue = replace(queue, worker_name=args.name)
    if getattr(args, "metrics_port", None) is not None:
        queue = replace(queue, metrics_port=args.metrics_port)
    return queue


def _check_replay_path(path: Path) -> None:
    if not path.exists():
        raise UsageError(f"--replay {path}: no such file or folder")
    if path.is_dir():
        if not any(p.name.endswith((".warc", ".warc.gz")) for p in path.rglob("*.warc*")):
            raise UsageError(f"--replay {path}: no .warc or .warc.gz files in this folder")
    elif not path.is_file():
        raise UsageError(f"--replay {path}: not a file or a folder")
    elif path.stat().st_size == 0:
        raise UsageError(f"--replay {path}: empty file")


def _check_data_dir(settings: Settings) -> None:
    """Evidence written nowhere is evidence lost: an unusable --data-dir stops the run up front."""
    if settings.replay or ArchiveTarget.WARC not in settings.archive:
        return
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        probe = settings.data_dir / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(
            f"--data-dir {settings.data_dir}: cannot write there ({exc.strerror or exc})"
        ) from exc


def _read_post_text(name: str, max_chars: int) -> str:
    """The post, read no further than the bytes that could make ``max_chars`` characters
    (parse_post refuses a longer one: a 10 MB file costs no 10 MB read)."""
    limit = 4 * max_chars + 4
    try:
        if name == "-":
            raw = sys.stdin.buffer.read(limit)
        else:
            with Path(name).open("rb") as handle:
                raw = handle.read(limit)
        if len(raw) >= limit:
            raise UsageError(f"{name}: post is longer than {max_chars:,} characters")
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{name}: not UTF-8 text (byte {exc.start})") from exc
    except OSError as exc:
        raise UsageError(f"{name}: {exc.strerror or exc}") from exc


def _render(report: Report, fmt: str, stream: IO[str]) -> str:
    from service.pipeline import render_html, render_json, render_text

    if fmt == "text":
        color = stream.isatty() and "NO_COLOR" not in os.environ
        return render_text(report, color=color)
    if fmt == "html":
        return render_html(report)
    return render_json(report)


def freeze_startup_heap() -> None:
    """Move every object alive now (the imported code, settings, the parsed post) out of the
    collector's reach with ``gc.freeze``.

    A full collection walks every tracked object and holds the event loop while it does: the
    imports alone are ~50,000 objects, half of what a 16,000-link post's collections walked, and
    none of them ever becomes garbage. Called by each long command once its imports are done.
    """
    import gc

    gc.freeze()


async def _verify(args: argparse.Namespace, settings: Settings) -> int:
    from service.pipeline import open_deps, parse_format, parse_post, parse_posted_at, verify_post

    max_chars = settings.post.max_chars
    text = _read_post_text(args.file, max_chars)
    posted_at = parse_posted_at(args.posted_at) if args.posted_at else None
    post = parse_post(
        text, parse_format(args.input_format), id=args.id, posted_at=posted_at, max_chars=max_chars
    )
    # One post, a person waiting: its links on one host are fetched as a browser would open them.
    http = replace(settings.http, limit_per_host=settings.http.one_post_limit_per_host)
    async with open_deps(replace(settings, http=http)) as deps:
        freeze_startup_heap()
        report = await verify_post(post, deps=deps)
        # Printed before the collaborators close: Wayback captures still landing never hold it up.
        fmt = args.format or ("text" if sys.stdout.isatty() else "json")
        sys.stdout.write(_render(report, fmt, sys.stdout).rstrip("\n") + "\n")
        sys.stdout.flush()
    return EXIT_FLAGGED if report.flagged else EXIT_OK


@contextlib.contextmanager
def _open_lines(name: str) -> Iterator[IO[bytes]]:
    """The batch input as bytes: each line is decoded on its own (a bad line is that line's error)."""
    if name == "-":
        yield sys.stdin.buffer
        return
    if Path(name).is_dir():
        raise UsageError(f"{name}: is a folder")
    try:
        handle = open(name, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(f"{name}: {exc.strerror or exc}") from exc
    with handle:
        yield handle


@contextlib.contextmanager
def _open_output(name: str, *, append: bool = False) -> Iterator[IO[str]]:
    if name == "-":
        yield sys.stdout
        return
    try:
        handle = open(name, "a" if append else "w", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(f"{name}: {exc.strerror or exc}") from exc
    with handle:
        yield handle


class _ProgressBar:
    """The batch's progress on a terminal, fed by the pipeline's progress events."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self._bar = tqdm(unit="post", file=sys.stderr, dynamic_ncols=True)
        self._sources = 0
        self._flagged = 0

    def __call__(self, event: ProgressEvent) -> None:
        if event.kind is EventKind.SOURCE_READ:
            self._sources += 1
        elif event.kind is EventKind.POST_FINISHED:
            self._flagged += event.data.get("verdict") == Verdict.FLAGGED
            self._bar.set_postfix(sources=self._sources, flagged=self._flagged, refresh=False)
            self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


async def _batch(args: argparse.Namespace, settings: Settings) -> int:
    from service.pipeline import open_deps, parse_format, run_batch

    if (args.format or "json") != "json":
        raise UsageError("batch writes JSON lines: --format must be json")
    default_format = parse_format(args.input_format)
    if args.input != "-" and args.output != "-" and _same_file(args.input, args.output):
        raise UsageError(f"{args.output}: is the input file; write the reports elsewhere")
    bar = _ProgressBar() if sys.stderr.isatty() else None
    if settings.redis_url:
        return await _batch_queued(args, settings, default_format, bar)
    with _open_lines(args.input) as lines, _open_output(args.output) as out:
        async with open_deps(settings, events=bar) as deps:
            freeze_startup_heap()
            summary = await run_batch(
                lines, out.write, deps=deps, concurrency=settings.concurrency, default_format=default_format
            )
    if bar is not None:
        bar.close()
    print(
        f"{summary.posts} posts, {summary.flagged} flagged, {summary.errors} with errors",
        file=sys.stderr,
    )
    return _out_of_time(summary.not_started)


def _out_of_time(not_started: int) -> int:
    """Exit 3 when the batch's budget left posts unstarted (each has its error report)."""
    if not not_started:
        return EXIT_OK
    print(f"provenance: the batch's budget ran out: {not_started} posts not started "
          "(reports with error budget_exhausted)", file=sys.stderr)  # fmt: skip
    return EXIT_OUT_OF_TIME


async def _batch_queued(
    args: argparse.Namespace, settings: Settings, default_format: InputFormat, bar: _ProgressBar | None
) -> int:
    """The batch through ``provenance worker`` processes; re-run on the same input and output, it
    finishes an interrupted batch without redoing the posts already in the output."""
    from redis.exceptions import RedisError

    from service.pipeline.queue import batch_id, run_queued_batch
    from service.pipeline.streams import RedisNames, connect

    with _open_lines(args.input) as given, _spooled(given, args.input) as lines:
        batch = batch_id(iter(lambda: lines.read(1 << 20), b""), default_format)
        lines.seek(0)
        skip = 0 if args.output == "-" else _resume_point(Path(args.output), lines)
        lines.seek(0)
        if skip:
            print(f"provenance: resuming batch {batch}: {skip} reports already in {args.output}",
                  file=sys.stderr)  # fmt: skip
        redis = connect(settings.redis_url or "", block_s=settings.queue.block_s)
        try:
            await _reach(redis, settings.redis_url or "")
            with _open_output(args.output, append=skip > 0) as out:
                summary = await run_queued_batch(
                    lines, out.write, redis=redis, names=RedisNames(settings.redis_prefix),
                    settings=settings.queue, batch=batch, skip=skip, default_format=default_format,
                    events=bar, sync=partial(_sync, out), budget_s=settings.budget.batch_s,
                )  # fmt: skip
        except (RedisError, OSError) as exc:
            raise UsageError(
                f"lost Redis ({exc}); the reports written so far are kept: run the same command "
                "again to finish the batch"
            ) from exc
        finally:
            await redis.aclose()
    if bar is not None:
        bar.close()
    print(f"{summary.posts} posts, {summary.flagged} flagged, {summary.errors} with errors", file=sys.stderr)
    return _out_of_time(summary.not_started)


async def _reach(redis: Any, url: str) -> None:
    from redis.exceptions import RedisError

    try:
        await redis.ping()
    except (RedisError, OSError) as exc:
        raise UsageError(f"--redis {_redacted(url)}: cannot reach Redis ({exc})") from exc


def _redacted(url: str) -> str:
    """A Redis URL fit for a message: its password left out."""
    head, at, tail = url.rpartition("@")
    return f"{head.split('://')[0]}://…@{tail}" if at else url


def _sync(out: IO[str]) -> None:
    out.flush()
    with contextlib.suppress(OSError, ValueError):  # stdout may be a pipe
        os.fsync(out.fileno())


@contextlib.contextmanager
def _spooled(given: IO[bytes], name: str) -> Iterator[IO[bytes]]:
    """The input as a file that can be read twice (once to name the batch): stdin is copied."""
    if name != "-":
        yield given
        return
    with tempfile.TemporaryFile() as copy:
        shutil.copyfileobj(given, copy)
        copy.seek(0)
        yield copy


def _resume_point(output: Path, lines: IO[bytes]) -> int:
    """How many reports an earlier run of this batch left in ``output``; a partial last line is cut.

    Every report kept must carry the id of its input line, so that a report file of another input
    is never appended to.
    """
    try:
        data = output.read_bytes()
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise UsageError(f"{output}: {exc.strerror or exc}") from exc
    kept, size = [], 0
    for raw in data.splitlines(keepends=True):
        if not raw.endswith(b"\n"):
            break
        try:
            report = json.loads(raw)
        except ValueError:
            break
        if not isinstance(report, dict):
            break
        kept.append(report.get("id"))
        size += len(raw)
    posted = (line for line in lines if line.strip())
    for number, (report_id, line) in enumerate(zip(kept, posted, strict=False), start=1):
        try:
            wanted = json.loads(line).get("id")
        except (ValueError, AttributeError):
            wanted = None
        if report_id is not None and wanted is not None and str(wanted) != str(report_id):
            raise UsageError(
                f"{output}: report {number} is for post {report_id!r}, not {wanted!r}: "
                "it holds reports of another input; remove it or write elsewhere"
            )
    if size < len(data):
        with output.open("r+b") as handle:
            handle.truncate(size)
    return len(kept)


def _same_file(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve() or os.path.samefile(a, b)
    except OSError:
        return False


async def _capture(args: argparse.Namespace, settings: Settings) -> int:
    from service.pipeline import normalize_url
    from service.pipeline.evidence import export_warc
    from service.pipeline.fetch import LiveFetcher, make_client_session

    try:
        urls = list(dict.fromkeys(normalize_url(url) for url in args.urls))  # each page once
    except PipelineError as exc:
        raise UsageError(str(exc)) from exc
    if not args.output.parent.is_dir():
        raise UsageError(f"{args.output.parent}: no such folder")
    async with make_client_session(settings.http) as session:
        fetched = await export_warc(urls, args.output, fetcher=LiveFetcher(session, settings.http))
    for result in fetched:
        detail = f" ({result.reason})" if result.reason else ""
        print(f"{result.status.value}{detail} {result.url}", file=sys.stderr)
    return EXIT_OK if all(r.status is SourceStatus.OK for r in fetched) else EXIT_FLAGGED


def _serve(settings: Settings) -> int:
    from aiohttp import web

    from service.api.app import OpenOnPublicInterface, create_app

    try:
        app = create_app(settings)
    except OpenOnPublicInterface as exc:
        raise UsageError(str(exc)) from exc
    freeze_startup_heap()
    api = settings.api
    print(f"provenance: serving http://{api.host}:{api.port}/", file=sys.stderr)
    web.run_app(app, host=api.host, port=api.port, access_log=None, print=None)
    return EXIT_OK


async def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from workers.entry import check_worker, run_worker

    if not settings.redis_url:
        raise UsageError("worker needs --redis URL (or PROVENANCE_REDIS_URL)")
    if args.check:
        try:
            alive = await check_worker(settings, name=args.name)
        except OSError as exc:
            raise UsageError(f"cannot reach Redis ({exc})") from exc
        print("alive" if alive else "no fresh heartbeat", file=sys.stderr)
        return EXIT_OK if alive else EXIT_FLAGGED
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    grace = settings.queue.drain_grace_s + 15.0

    def stopping() -> None:
        if stop.is_set():  # told twice: stop now (jobs in flight are reclaimed after the lease)
            os._exit(EXIT_OK)
        stop.set()
        # A drain longer than its grace plus the time to close is a stuck worker: leave anyway,
        # as an orchestrator would (its jobs go back to the queue when their lease lapses).
        watchdog = threading.Timer(grace, os._exit, args=(EXIT_OK,))
        watchdog.daemon = True
        watchdog.start()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping)
    from redis.exceptions import RedisError

    freeze_startup_heap()
    try:
        stats = await run_worker(settings, burst=args.burst, stop=stop)
    except (RedisError, OSError) as exc:
        raise UsageError(f"--redis {_redacted(settings.redis_url)}: {exc}") from exc
    print(f"worker {stats.done} jobs done, {stats.dead_lettered} dead-lettered, {stats.reclaimed} reclaimed",
          file=sys.stderr)  # fmt: skip
    return EXIT_OK


def _keys(args: argparse.Namespace, settings: Settings) -> int:
    from service.api.credentials import KeyStore, KeyStoreError, RedisKeyStore

    store: KeyStore
    if settings.redis_url:
        import redis

        from service.pipeline.streams import RedisNames

        client = redis.Redis.from_url(settings.redis_url, protocol=2, socket_connect_timeout=5.0)
        store = RedisKeyStore(RedisNames(settings.redis_prefix), client)
    else:
        store = KeyStore(settings.data_dir)
    try:
        return _key_action(args, store)
    except KeyStoreError as exc:
        raise UsageError(str(exc)) from exc
    finally:
        if isinstance(store, RedisKeyStore):
            store.close()


def _key_action(args: argparse.Namespace, store: KeyStore) -> int:
    if args.action == "create":
        key, token = store.create(args.name)
        print(f"{key.id} {token}")
        print("the key is shown once: keep it now", file=sys.stderr)
    elif args.action == "list":
        for key in store.all_keys():
            state = f"revoked {key.revoked_at}" if key.revoked_at else "active"
            print(f"{key.id} {key.created_at} {state} {key.name}".rstrip())
    else:
        if not args.key_id:
            raise UsageError("keys revoke needs the id of the key (see keys list)")
        store.revoke(args.key_id)
    return EXIT_OK


def _one_line(message: str, limit: int = 300) -> str:
    """A message fit for one terminal line: control characters escaped, whitespace folded."""
    printable = "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in message)
    folded = " ".join(printable.split())
    return folded if len(folded) <= limit else folded[: limit - 1] + "…"


def _extracts_here(command: str, settings: Settings) -> bool:
    """Whether this command runs extraction workers in this process (a queued batch does not)."""
    if command == "batch" and settings.redis_url:
        return False
    return command in ("verify", "batch", "worker", "serve") and settings.extract.workers > 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        settings = settings_from(args, os.environ)
        if not getattr(args, "check", False):  # a health check writes nothing
            _check_data_dir(settings)
        if _extracts_here(args.command, settings):
            from service.pipeline.extract.launcher import start_early

            # The fork server is a ``python -c``, so the working directory would lead its
            # sys.path: a ``service/`` (or ``trafilatura.py``) where the command is run would
            # be imported in place of ours. No unsafe path: it imports what this process does.
            os.environ.setdefault("PYTHONSAFEPATH", "1")
            start_early()  # the workers' imports (and logging's, below) go on side by side
        from service.logs import configure_logging

        configure_logging(level=args.log_level, json=getattr(args, "log_format", "console") == "json")
        if args.command == "serve":
            return _serve(settings)
        if args.command == "keys":
            return _keys(args, settings)
        runner = {"verify": _verify, "batch": _batch, "capture": _capture, "worker": _worker}[args.command]
        return asyncio.run(runner(args, settings))
    except (UsageError, PipelineError) as exc:
        print(f"provenance: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("provenance: interrupted", file=sys.stderr)
        return 130
