"""pywb replays the evidence store through OUR CDXJ index (no ``wb-manager reindex``).

pywb 2.10.0 pins ``redis==2.10.6`` and ``werkzeug==3.1.7``, so pip cannot install it next to this
project (``redis>=5``): it lives in its own virtualenv, ``.venv-pywb`` (``.ci/run`` builds it from
``tests/pywb-requirements.txt``; ``PROVENANCE_PYWB`` may name another ``wayback`` executable).
The test starts pywb's own ``wayback`` server on a loopback port, with a collection whose
``index_paths`` and ``archive_paths`` are the store's ``warc/`` folder, and asks it for each
capture verbatim (``id_``) by URL and timestamp. Without pywb the test is skipped and says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from service.pipeline.evidence.store import EvidenceStore
from tests.pipeline._warc_helpers import WHEN
from tests.pipeline.evidence.test_cdxj import page

ROOT = Path(__file__).resolve().parents[3]

# (URL stored, URL asked of pywb): IPv4 host with a port, IDN host (stored as punycode, asked in
# Unicode), a trailing slash, a ``www1.`` host (asked without it), a ``%2f`` in the path.
CASES = [
    ("http://127.0.0.1:18080/ipv4/page", "http://127.0.0.1:18080/ipv4/page"),
    ("https://xn--bcher-kva.example/buch", "https://bücher.example/buch"),
    ("https://slash.example/dir/", "https://slash.example/dir/"),
    ("https://www1.example.com/w1", "https://www1.example.com/w1"),
    ("https://www1.example.net/bare", "https://example.net/bare"),
    ("https://enc.example/a%2Fb/c", "https://enc.example/a%2Fb/c"),
]


def _wayback() -> str | None:
    named = os.environ.get("PROVENANCE_PYWB")
    if named:
        return named if Path(named).is_file() else None
    local = ROOT / ".venv-pywb" / "bin" / "wayback"
    return str(local) if local.is_file() else shutil.which("wayback")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _pywb(exe: str, folder: Path, work: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    config = f"collections:\n  evidence:\n    index_paths: {folder}/\n    archive_paths: {folder}/\n"
    (work / "config.yaml").write_text(config, "utf-8")
    log = (work / "pywb.log").open("wb")
    proc = subprocess.Popen(
        [exe, "-b", "127.0.0.1", "-p", str(port), "-t", "2"],
        cwd=work, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        log.close()


async def _until_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            text = await asyncio.to_thread(log.read_text, errors="replace")
            pytest.fail(f"pywb exited: {text[-2000:]}")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return
        await asyncio.sleep(0.1)
    pytest.fail("pywb did not start listening within 30 s")


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_pywb_replays_the_store_through_our_index(tmp_path: Path) -> None:
    """Every URL kind pywb finds nothing for under a private key form replays byte for byte, at the
    stored timestamp, from pywb reading our CDXJ files and WARCs as they are."""
    exe = _wayback()
    if exe is None:
        pytest.skip("pywb is not installed: run .ci/run (it builds .venv-pywb) or set PROVENANCE_PYWB")
    stamps = {}
    with EvidenceStore(tmp_path / "data") as store:
        for i, (stored, _) in enumerate(CASES):
            when = WHEN + timedelta(minutes=i)
            store.record(page(stored, when, f"<p>body of {stored}</p>".encode()))
            stamps[stored] = when.strftime("%Y%m%d%H%M%S")
        store.record(page(CASES[0][0], WHEN - timedelta(days=1), b"<p>older</p>"))
    work = tmp_path / "pywb"
    work.mkdir()
    port = _free_port()
    with _pywb(exe, store.folder, work, port) as proc:
        await _until_listening(port, proc, work / "pywb.log")
        async with aiohttp.ClientSession() as session:
            for stored, asked in CASES:
                url = f"http://127.0.0.1:{port}/evidence/{stamps[stored]}id_/{asked}"
                async with session.get(url, allow_redirects=False) as r:
                    body = await r.read()
                    assert r.status == 200, (asked, r.status, body[:300])
                    assert body == f"<p>body of {stored}</p>".encode(), asked
                    assert r.headers.get("Memento-Datetime"), asked
            cdx = f"http://127.0.0.1:{port}/evidence/cdx"
            async with session.get(cdx, params={"url": CASES[0][1], "output": "json"}) as r:
                rows = [line for line in (await r.text()).splitlines() if line.strip()]
            assert len(rows) == 2  # both captures of the IPv4 URL, found through our key
