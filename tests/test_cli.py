"""The command line: the seed post end to end, exit statuses, one-line errors."""

from __future__ import annotations

import argparse
import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from redis.asyncio import Redis

from service.cli import build_parser
from service.pipeline.streams import RedisNames

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "tests" / "data" / "seed"


def run(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=ROOT,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.slow
def test_seed_post_replayed_is_verified() -> None:
    """The seed post against its WARC: verified, every copied passage found, nothing flagged."""
    result = run(
        "verify",
        str(SEED / "post.txt"),
        "--replay",
        str(SEED / "seed.warc.gz"),
        "--posted-at",
        "2023-12-10T14:23:38Z",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "verified"
    assert not [q for q in report["quotes"] if q["flagged"]]
    found = [q for q in report["quotes"] if q["status"] in {"verbatim", "cosmetic", "elided"}]
    assert len(found) >= 11
    assert {s["status"] for s in report["sources"]} == {"ok"}
    toi = next(s for s in report["sources"] if "timesofisrael" in s["url"])
    assert toi["title"].startswith("In call, Netanyahu flogs Putin")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("verify", "no/such/file.txt"), "no/such/file.txt"),
        (("verify", "--format", "pdf"), "--format"),
        (("verify", "-", "--posted-at", "soon"), "ISO-8601"),
        (("verify", "-", "--replay", "no/such.warc.gz"), "no such file"),
        (("verify", "-", "--input-format", "docx"), "--input-format"),
        (("frobnicate",), "invalid choice"),
        (("worker",), "worker needs --redis"),
        (("batch", "-", "-o", "-", "--redis", "redis://127.0.0.1:1/0"), "cannot reach Redis"),
        (("worker", "--redis", "redis://u:secret@127.0.0.1:1/0"), "redis://…@127.0.0.1:1/0"),
        ((), "required"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(args: tuple[str, ...], needle: str) -> None:
    """Bad usage: exit 2, one line on stderr naming the problem, no traceback."""
    result = run(*args, stdin="hello")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle in lines[0]
    assert "Traceback" not in result.stderr


def test_flagged_post_exits_1_and_text_format(tmp_path: Path) -> None:
    """A misquote of the seed page exits 1; the text report names the status without colour codes."""
    post = (
        "Premier holds 50-minute conversation with Russian leader, ‘expresses annoyance’ over Russian "
        "backing for a ceasefire at the UN but refuses to ask for help to pressure the Red Cross\n\n"
        "https://www.timesofisrael.com/in-call-netanyahu-flogs-putin-over-gaza-war-stance-and-blossoming-iran-ties/\n"
    )
    result = run("verify", "-", "--replay", str(SEED / "seed.warc.gz"), "--format", "text", stdin=post)
    assert result.returncode == 1, result.stderr
    assert "ALTERED" in result.stdout.upper()
    assert "\x1b[" not in result.stdout


def test_batch_writes_reports_in_order(tmp_path: Path) -> None:
    """batch: one report per line, same ids, a bad line gets an error report, exit 0."""
    seed = (SEED / "post.txt").read_text(encoding="utf-8")
    lines = [
        json.dumps({"id": "seed", "text": seed, "posted_at": "2023-12-10T14:23:38Z"}),
        "garbage",
        json.dumps({"id": "empty", "text": "nothing cited here"}),
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = run("batch", str(src), "-o", str(out), "--replay", str(SEED / "seed.warc.gz"))
    assert result.returncode == 0, result.stderr
    reports = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in reports] == ["seed", None, "empty"]
    assert reports[0]["verdict"] == "verified"
    assert reports[1]["error"]["code"] == "bad_json"
    assert reports[2]["verdict"] == "no_citations"


@pytest.mark.parametrize(
    ("env", "args", "needle"),
    [
        ({"PROVENANCE_CONCURRENCY": "abc"}, ("verify", "-"), "PROVENANCE_CONCURRENCY"),
        ({"PROVENANCE_ARCHIVE": "bogus"}, ("verify", "-"), "PROVENANCE_ARCHIVE"),
        ({"PROVENANCE_WAYBACK_CAPTURE_WAIT": "x"}, ("verify", "-"), "PROVENANCE_WAYBACK_CAPTURE_WAIT"),
        ({}, ("verify", "-", "--replay", "/dev/null"), "not a file or a folder"),
        ({}, ("verify", "-", "--data-dir", "/proc/no/such"), "cannot write there"),
        ({}, ("batch", "tests/data/seed/post.txt", "-o", "out.jsonl", "--concurrency", "0"), "--concurrency"),
        ({"PROVENANCE_TOTAL_TIMEOUT": "0"}, ("verify", "-"), "PROVENANCE_TOTAL_TIMEOUT"),
        ({}, ("verify", "-", "--post-budget", "-1"), "--post-budget"),
        ({}, ("batch", "-", "-o", "-", "--batch-budget", "-5"), "--batch-budget"),
        ({"PROVENANCE_MAX_POST_CHARS": "0"}, ("verify", "-"), "PROVENANCE_MAX_POST_CHARS"),
    ],
)
def test_bad_settings_are_one_line_and_exit_2(
    env: dict[str, str], args: tuple[str, ...], needle: str
) -> None:
    """Bad environment values, odd replay paths and unusable data folders stop the run cleanly."""
    result = subprocess.run(
        [sys.executable, "-m", "service", *args], capture_output=True, text=True, input="x", cwd=ROOT,
        env={**os.environ, **env}, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert needle in result.stderr


def test_batch_refuses_to_overwrite_its_input(tmp_path: Path) -> None:
    """-o naming the input file is refused before anything is written: the input stays whole."""
    src = tmp_path / "posts.jsonl"
    src.write_text('{"id": "a", "text": "hello"}\n', encoding="utf-8")
    result = run("batch", str(src), "-o", str(src))
    assert result.returncode == 2
    assert "is the input file" in result.stderr
    assert src.read_text(encoding="utf-8") == '{"id": "a", "text": "hello"}\n'


def test_batch_bad_lines_of_every_kind_become_error_reports(tmp_path: Path) -> None:
    """Deep nesting, huge numbers and invalid UTF-8 cost their own line only."""
    src = tmp_path / "in.jsonl"
    lines = [
        b'{"id": "deep", "text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"id": ' + b"1" * 5000 + b', "text": "x"}',
        b'{"id": "latin1", "text": "caf\xe9"}',
        b'{"id": "fine", "text": "nothing cited here"}',
    ]
    src.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out.jsonl"
    result = run("batch", str(src), "-o", str(out), "--replay", str(SEED / "seed.warc.gz"))
    assert result.returncode == 0, result.stderr
    reports = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["error"]["code"] if r["error"] else None for r in reports] == [
        "bad_json", "bad_json", "bad_encoding", None,
    ]  # fmt: skip
    assert reports[3]["verdict"] == "no_citations"


def test_truncated_warc_is_not_evidence(tmp_path: Path) -> None:
    """A WARC cut short does not pass for a page: the damaged capture is an error source."""
    damaged = tmp_path / "cut.warc.gz"
    damaged.write_bytes((SEED / "seed.warc.gz").read_bytes()[:4000])
    result = run("verify", str(SEED / "post.txt"), "--replay", str(damaged))
    report = json.loads(result.stdout)
    reasons = {s["reason"] for s in report["sources"]}
    assert "corrupt_capture" in reasons or "not_in_replay" in reasons
    assert all(s["status"] != "ok" or s["sha256"] for s in report["sources"])
    kremlin = next(s for s in report["sources"] if "kremlin" in s["url"])
    assert kremlin["status"] == "error"
    assert not [q for q in report["quotes"] if q["flagged"]]


@pytest.mark.slow
def test_extraction_workers_never_import_from_the_working_directory(tmp_path: Path) -> None:
    """A ``trafilatura.py`` where the command is run is not what the extraction fork server
    imports (a ``python -c``, whose sys.path would start with the working directory): the seed
    post is read with the real one, and the decoy is never imported."""
    decoy = "from pathlib import Path\nPath(__file__).with_name('imported').touch()\n"
    (tmp_path / "trafilatura.py").write_text(decoy + "raise ImportError('decoy')\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSAFEPATH"}
    result = subprocess.run(
        [sys.executable, "-m", "service", "verify", str(SEED / "post.txt"), "--replay",
         str(SEED / "seed.warc.gz"), "--posted-at", "2023-12-10T14:23:38Z",
         "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["verdict"] == "verified"
    assert not (tmp_path / "imported").exists()


def test_json_report_has_every_field_of_the_contract() -> None:
    """The seed's JSON report carries the contract's fields with the contract's types."""
    result = run("verify", str(SEED / "post.txt"), "--replay", str(SEED / "seed.warc.gz"),
                 "--posted-at", "2023-12-10T14:23:38Z")  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    top = {"schema", "id", "posted_at", "verdict", "checked_at", "generator", "sources", "quotes", "error"}
    assert set(report) == top
    assert len(report["sources"]) == 2  # the field checks below run on every source and quote
    assert len(report["quotes"]) >= 11
    assert report["schema"] == "provenance.report/1"
    assert report["posted_at"] == "2023-12-10T14:23:38Z"
    source_keys = {"url", "final_url", "redirects", "status", "reason", "http_status", "title", "author",
                   "published", "canonical_url", "sha256", "fetched_at", "archive", "at_post"}  # fmt: skip
    for source in report["sources"]:
        assert source_keys <= set(source)
        assert set(source["archive"]) == {"warc", "wayback"}
        assert len(source["sha256"]) == 64
        assert set(source["at_post"]) == {"captured_at", "sha256", "archive_url"}
    quote_keys = {"text", "post_span", "explicit", "cited_url", "status", "flagged", "score", "source"}
    quote_keys |= {"diff", "reasons"}
    post = (SEED / "post.txt").read_text(encoding="utf-8")
    for quote in report["quotes"]:
        assert quote_keys <= set(quote)
        start, end = quote["post_span"]
        assert post[start:end] == quote["text"]
        assert 0.0 <= quote["score"] <= 1.0
        assert {"url", "span", "exact", "prefix", "suffix", "text_fragment_url"} <= set(quote["source"])
        assert quote["source"]["text_fragment_url"].startswith(quote["source"]["url"] + "#:~:text=")
        assert all(d["op"] in {"equal", "insert", "delete", "replace"} for d in quote["diff"])


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    """``keys create`` prints a key once (only its hash is stored), ``list`` shows it active, then
    revoked after ``revoke``; revoking an unknown id is a one-line error and exit 2."""
    data = str(tmp_path / "data")
    created = run("keys", "create", "--name", "moderation", "--data-dir", data)
    assert created.returncode == 0
    key_id, token = created.stdout.split()
    assert token.startswith("pvk_")
    assert token not in (tmp_path / "data" / "api-keys.json").read_text()
    listed = run("keys", "list", "--data-dir", data).stdout
    assert listed.split()[0] == key_id
    assert "active moderation" in listed
    assert run("keys", "revoke", key_id, "--data-dir", data).returncode == 0
    assert "revoked" in run("keys", "list", "--data-dir", data).stdout
    bad = run("keys", "revoke", "nope", "--data-dir", data)
    assert (bad.returncode, bad.stderr.strip()) == (2, "provenance: no key with id 'nope'")


@pytest.mark.slow
async def test_keys_in_redis(shared_redis: tuple[Redis, RedisNames], tmp_path: Path) -> None:
    """With --redis the keys live in the deployment's Redis, hashed, not in the data folder."""
    redis, names = shared_redis
    env = {"PROVENANCE_REDIS_PREFIX": names.prefix}
    url = "redis://127.0.0.1:6379/0"
    created = run("keys", "create", "--name", "fleet", "--redis", url, "--data-dir", str(tmp_path), env=env)
    assert created.returncode == 0, created.stderr
    key_id, token = created.stdout.split()
    stored: dict[bytes, bytes] = await redis.hgetall(names.api_keys)  # type: ignore[assignment]
    assert len(stored) == 1
    assert token not in json.dumps({k.decode(): v.decode() for k, v in stored.items()})
    assert "active fleet" in run("keys", "list", "--redis", url, env=env).stdout
    assert run("keys", "revoke", key_id, "--redis", url, env=env).returncode == 0
    assert "revoked" in run("keys", "list", "--redis", url, env=env).stdout
    assert not (tmp_path / "api-keys.json").exists()


def test_serve_refuses_to_be_open_on_a_public_address() -> None:
    """``serve --open`` on 0.0.0.0 stops at once with one line, unless --allow-open-public is given."""
    refused = run("serve", "--host", "0.0.0.0", "--open", "--port", "1")
    assert refused.returncode == 2
    assert "refusing to serve 0.0.0.0 without API keys" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_version() -> None:
    """``provenance --version`` names the version."""
    assert run("--version").stdout.startswith("provenance ")


def test_resume_point_keeps_whole_reports_and_cuts_a_half_written_one(tmp_path: Path) -> None:
    """A batch re-run keeps the complete report lines of its own input and cuts a partial last line."""
    from service.cli import _resume_point

    lines = b"".join(json.dumps({"id": f"p{i}", "text": "x"}).encode() + b"\n" for i in range(5))
    out = tmp_path / "out.jsonl"
    out.write_bytes(b'{"id": "p0"}\n{"id": "p1"}\n{"id": "p2", "verd')
    assert _resume_point(out, io.BytesIO(lines)) == 2
    assert out.read_bytes() == b'{"id": "p0"}\n{"id": "p1"}\n'
    assert _resume_point(tmp_path / "missing.jsonl", io.BytesIO(lines)) == 0


def test_resume_point_refuses_the_reports_of_another_input(tmp_path: Path) -> None:
    """Appending to reports of other posts would misalign every line after: refused, file untouched."""
    from service.cli import UsageError, _resume_point

    lines = b"".join(json.dumps({"id": f"p{i}", "text": "x"}).encode() + b"\n" for i in range(3))
    out = tmp_path / "out.jsonl"
    out.write_bytes(b'{"id": "p0"}\n{"id": "other"}\n')
    with pytest.raises(UsageError, match="another input"):
        _resume_point(out, io.BytesIO(lines))
    assert out.read_bytes() == b'{"id": "p0"}\n{"id": "other"}\n'


def _actions_without_help(parser: argparse.ArgumentParser, path: str) -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            named = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if not named.get(name):
                    missing.append(f"{path} {name} (the command)")
                missing += _actions_without_help(sub, f"{path} {name}")
        elif not action.help or action.help == argparse.SUPPRESS:
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_option_and_command_has_help() -> None:
    """Walking the parser and every subcommand's parser, no option, argument or command lacks help."""
    parser = build_parser()
    assert _actions_without_help(parser, "provenance") == []
    verify_help = run("verify", "--help").stdout
    assert "--format" in verify_help
    assert "terminal" in verify_help
    assert "--replay" in run("worker", "--help").stdout


_LONE_POST = "Nothing cited here, just a thought of my own.\n"


def test_format_defaults_to_json_when_piped() -> None:
    """stdout a pipe and no --format: the report is JSON."""
    result = run("verify", "-", "--replay", str(SEED / "seed.warc.gz"), stdin=_LONE_POST)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["verdict"] == "no_citations"


def test_format_defaults_to_text_on_a_terminal(tmp_path: Path) -> None:
    """stdout a terminal (a pty) and no --format: the text report; --format json still wins."""
    post = tmp_path / "post.txt"
    post.write_text(_LONE_POST, encoding="utf-8")

    def on_terminal(*extra: str) -> str:
        master, slave = pty.openpty()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "service", "verify", str(post), "--replay", str(SEED / "seed.warc.gz"),
                 *extra],
                stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE, cwd=ROOT,
                env={**os.environ, "NO_COLOR": "1"},
            )  # fmt: skip
            os.close(slave)
            chunks = []
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
            if proc.stderr:
                proc.stderr.close()
        finally:
            os.close(master)
        return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")

    shown = on_terminal()
    assert shown.startswith("provenance: NO CITATIONS"), shown
    assert "Summary:" in shown
    assert json.loads(on_terminal("--format", "json"))["verdict"] == "no_citations"
