"""Build tests/data/seed/seed.warc.gz: the two pages the seed post cites, captured before the post.

Run: /work/venv/bin/python tests/data/make_seed_warc.py [--source DIR]

The pages are copied into tests/data/seed/pages/ first (from --source, default
/work/shared/seed/pages when it exists), then written as WARC/1.1 request + response pairs dated
2023-12-10T14:00:00Z. Record ids are derived from the URLs, so the output is byte-for-byte
reproducible. Check it with ``warcio check tests/data/seed/seed.warc.gz``.
"""

from __future__ import annotations

import argparse
import shutil
import uuid
from io import BytesIO
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

HERE = Path(__file__).resolve().parent
SEED = HERE / "seed"
PAGES = SEED / "pages"
OUT = SEED / "seed.warc.gz"
SHARED = Path("/work/shared/seed/pages")

CAPTURED = "2023-12-10T14:00:00Z"
HTTP_DATE = "Sun, 10 Dec 2023 14:00:00 GMT"
USER_AGENT = "ProvenanceBot/0.1 (+https://github.com/provenance; source verification)"

# (cited URL, page file), from /work/shared/seed/README.md
SEED_PAGES = (
    (
        "https://www.timesofisrael.com/in-call-netanyahu-flogs-putin-over-gaza-war-stance-and-blossoming-iran-ties/",
        "timesofisrael-in-call-netanyahu-flogs-putin.html",
    ),
    ("http://en.kremlin.ru/events/president/news/72947", "kremlin-72947.html"),
)


def _record_id(kind: str, url: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{kind} {url}')}>"


def _write_pair(writer: WARCWriter, url: str, body: bytes) -> None:
    host = url.split("/")[2]
    path = "/" + url.split("/", 3)[3]
    response_headers = StatusAndHeaders(
        "200 OK",
        [
            ("Date", HTTP_DATE),
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
        ],
        protocol="HTTP/1.1",
    )
    response = writer.create_warc_record(
        url,
        "response",
        payload=BytesIO(body),
        length=len(body),
        http_headers=response_headers,
        warc_headers_dict={"WARC-Record-ID": _record_id("response", url), "WARC-Date": CAPTURED},
    )
    request_headers = StatusAndHeaders(
        f"GET {path} HTTP/1.1",
        [("Host", host), ("User-Agent", USER_AGENT), ("Accept", "text/html,*/*")],
        is_http_request=True,
    )
    request = writer.create_warc_record(
        url,
        "request",
        http_headers=request_headers,
        warc_headers_dict={"WARC-Record-ID": _record_id("request", url), "WARC-Date": CAPTURED},
    )
    writer.write_request_response_pair(request, response)


def build(source: Path | None = None, out: Path = OUT) -> Path:
    """Copy the pages (if a source is given) and write the WARC; returns its path."""
    PAGES.mkdir(parents=True, exist_ok=True)
    if source is not None:
        for _, name in SEED_PAGES:
            (PAGES / name).unlink(missing_ok=True)
            shutil.copyfile(source / name, PAGES / name)
    with out.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True, warc_version="1.1")
        info = writer.create_warcinfo_record(
            out.name,
            {"software": "provenance tests/data/make_seed_warc.py", "format": "WARC File Format 1.1"},
        )
        info.rec_headers.replace_header("WARC-Record-ID", _record_id("warcinfo", out.name))
        info.rec_headers.replace_header("WARC-Date", CAPTURED)
        writer.write_record(info)
        for url, name in SEED_PAGES:
            _write_pair(writer, url, (PAGES / name).read_bytes())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SHARED if SHARED.is_dir() else None)
    args = parser.parse_args()
    print(build(args.source))


if __name__ == "__main__":
    main()
