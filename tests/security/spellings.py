"""Spellings of private, loopback, link-local and metadata destinations (security.md §1, rows 1-40),
each with the exact outcome the product gives: ``(kind, url, status, reason, cited)``.

``{port}`` is a canary's port on 127.0.0.1 (and ::1). ``cited`` is the URL the post reader takes
from the link when it is not the link as written (None: the link as written). ``status`` None: the
reader finds no URL in it at all. No spelling here may reach DNS: a public name appears only
where the URL is refused before any lookup.
"""

from __future__ import annotations

from typing import NamedTuple


class Spelling(NamedTuple):
    kind: str
    url: str
    status: str | None
    reason: str | None
    cited: str | None = None


PRIVATE = ("refused", "private_address")
BAD_URL_REFUSED = ("refused", "bad_url")  # the fetcher's check_url refused it
BAD_URL = ("error", "bad_url")  # the reader's URL normaliser refused it: never handed to the fetcher
USERINFO = ("refused", "userinfo_in_url")
PORT = ("refused", "port_not_allowed")
SCHEME = ("unsupported", "unsupported_scheme")


def _rows(kind: str, outcome: tuple[str, str], *urls: str) -> list[Spelling]:
    return [Spelling(kind, url, *outcome) for url in urls]


SPELLINGS: list[Spelling] = [
    # IPv4 loopback in every inet_aton form: dotted, short, decimal, octal, hex, mixed, padded
    *_rows(
        "ipv4 loopback", PRIVATE,
        "http://127.0.0.1:{port}/", "http://127.0.0.2:{port}/", "http://127.255.255.254:{port}/",
        "http://127.1:{port}/", "http://127.0.1:{port}/", "http://2130706433:{port}/",
        "http://017700000001:{port}/", "http://0x7f000001:{port}/", "http://0X7F000001:{port}/",
        "http://0x7f.1:{port}/", "http://0x7f.0.0.1:{port}/", "http://0x7f.0x0.0x0.0x1:{port}/",
        "http://0177.0.0.1:{port}/", "http://0177.0.0.01:{port}/", "http://0177.1:{port}/",
        "http://0177.0x0.1:{port}/", "http://127.0x0.0.1:{port}/", "http://127.000.000.001:{port}/",
        "http://00000177.0.0.1:{port}/", "http://127.0.0.1.:{port}/", "http://0x00007f.1:{port}/",
        "http://127.0.0.0x1:{port}/", "http://127.0.0.1/", "http://2130706433/",
    ),
    # this host ("0.0.0.0" connects to loopback on Linux)
    *_rows(
        "ipv4 unspecified", PRIVATE,
        "http://0.0.0.0:{port}/", "http://0:{port}/", "http://0x0:{port}/", "http://00.0.0.0:{port}/",
        "http://0.0.0.0./",
    ),
    # RFC 1918, CGNAT 100.64/10, special-purpose blocks CPython calls global, multicast, broadcast
    *_rows(
        "ipv4 private and special", PRIVATE,
        "http://10.0.0.1/", "http://10.1/", "http://012.0.0.1/", "http://0xa.0.0.1/", "http://167772161/",
        "http://172.16.0.1/", "http://172.31.255.255/", "http://0xac.0x10.0.1/", "http://192.168.0.1/",
        "http://192.168.1/", "http://3232235521/", "http://0300.0250.0.1/", "http://100.64.0.1/",
        "http://100.127.255.254/", "http://192.0.0.192/", "http://192.0.2.1/", "http://198.18.0.1/",
        "http://198.51.100.7/", "http://203.0.113.5/", "http://192.88.99.1/", "http://224.0.0.1/",
        "http://239.255.255.250/", "http://240.0.0.1/", "http://255.255.255.255/",
    ),
    # cloud metadata: AWS/GCP/Azure IMDS, ECS, AWS over IPv6, Alibaba; numeric spellings; names
    *_rows(
        "metadata", PRIVATE,
        "http://169.254.169.254/latest/meta-data/", "http://169.254.43518/", "http://2852039166/",
        "http://0xa9fea9fe/", "http://0xa9.0xfe.0xa9.0xfe/", "http://0251.0376.0251.0376/",
        "http://0251.254.169.254/", "http://169.254.169.254./", "http://169.254.170.2/v2/credentials",
        "http://[fd00:ec2::254]/latest/meta-data/", "http://[::ffff:169.254.169.254]/",
        "http://[::fFFf:a9fe:a9fe]/", "http://100.100.100.200/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/", "http://METADATA.GOOGLE.INTERNAL./",
        "http://metadata.amazonaws.com/", "http://metadata/", "http://instance-data/",
    ),
    # numbers that overflow an address: fail closed, never "a name"
    *_rows(
        "ipv4 overflow", BAD_URL_REFUSED,
        "http://0x41414141A9FEA9FE/", "http://425.510.425.510/", "http://7147006462/",
        "http://127.0.0.256/", "http://1.2.3.4.5/",
    ),
    # IPv6 loopback and unspecified, IPv4-mapped/compatible/translated, NAT64, 6to4, Teredo, ULA,
    # link-local, site-local, multicast, discard, documentation, SRv6
    *_rows(
        "ipv6", PRIVATE,
        "http://[::1]:{port}/", "http://[0:0:0:0:0:0:0:1]:{port}/", "http://[::0001]:{port}/",
        "http://[0000::1]:{port}/", "http://[::]:{port}/", "http://[::ffff:127.0.0.1]:{port}/",
        "http://[::ffff:7f00:1]:{port}/", "http://[0:0:0:0:0:ffff:7f00:1]:{port}/",
        "http://[0:0:0:0:0:ffff:127.0.0.1]:{port}/", "http://[::FFFF:7F00:0001]:{port}/",
        "http://[0::ffff:127.0.0.1]:{port}/", "http://[::127.0.0.1]:{port}/", "http://[::7f00:1]:{port}/",
        "http://[::ffff:0:127.0.0.1]:{port}/", "http://[::ffff:0:7f00:1]/", "http://[::a9fe:a9fe]/",
        "http://[64:ff9b::7f00:1]/", "http://[64:ff9b::127.0.0.1]/", "http://[64:ff9b::a9fe:a9fe]/",
        "http://[64:ff9b::808:808]/", "http://[64:ff9b:1::a9fe:a9fe]/", "http://[2002:7f00:1::]/",
        "http://[2002:a9fe:a9fe::]/", "http://[2001:0:4136:e378:8000:63bf:3f57:fdf2]/",
        "http://[fe80::1]/", "http://[fc00::1]/", "http://[fd12:3456::1]/", "http://[fec0::1]/",
        "http://[ff02::1]/", "http://[100::1]/", "http://[2001:db8::1]/", "http://[3fff::1]/",
        "http://[5f00::1]/", "http://[::ffff:10.0.0.1]/", "http://[::ffff:192.168.0.1]/",
    ),
    # a zone id names a local interface
    *_rows(
        "ipv6 scope id", BAD_URL_REFUSED,
        "http://[fe80::1%25eth0]/", "http://[fe80::1%eth0]/", "http://[::1%25lo]:{port}/",
    ),
    # Unicode digits and dots that IDNA maps to ASCII (fullwidth, circled, mathematical bold)
    *_rows(
        "unicode digits", PRIVATE,
        "http://１２７．０．０．１:{port}/", "http://１２７.０.０.１:{port}/", "http://127．0．0．1:{port}/",
        "http://127｡0｡0｡1:{port}/", "http://①②⑦.⓪.⓪.①:{port}/", "http://𝟏𝟐𝟕.𝟎.𝟎.𝟏:{port}/",
        "http://１６９．２５４．１６９．２５４/", "http://０ｘ７ｆ．１:{port}/",
    ),
    # the ideographic full stop ends the URL where the reader finds it: "http://127" is 0.0.0.127
    Spelling("unicode digits", "http://127。0。0。1:{port}/", *PRIVATE, cited="http://127"),
    # local names, refused before DNS; Unicode spellings of them IDNA maps back
    *_rows(
        "local names", PRIVATE,
        "http://localhost:{port}/", "http://LOCALHOST:{port}/", "http://localhost.:{port}/",
        "http://LocalHost:{port}/", "http://foo.localhost:{port}/", "http://a.b.localhost.:{port}/",
        "http://localdomain/", "http://x.localdomain/", "http://printer.local/", "http://db.internal/",
        "http://ｌｏｃａｌｈｏｓｔ:{port}/", "http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ:{port}/",
        "http://ｍｅｔａｄａｔａ．ｇｏｏｇｌｅ．ｉｎｔｅｒｎａｌ/",
    ),
    Spelling("local names", "http://LOCALHOST。:{port}/", *PRIVATE, cited="http://LOCALHOST"),
    # credentials in the URL are refused whatever the host: a parser-confusion trick, never needed
    *_rows(
        "userinfo", USERINFO,
        "http://evil.com@127.0.0.1:{port}/", "http://user:pass@127.0.0.1:{port}/",
        "http://evil.com:80@127.0.0.1:{port}/", "http://127.1.1.1:80@127.2.2.2:80/",
        "http://127.1.1.1:80:@@127.2.2.2/", "http://127.0.0.1:{port}@evil.com/",
        "http://127.0.0.1%2f@evil.com/", "http://:@127.0.0.1:{port}/",
    ),
    # what follows "#" or "?" is no authority: the host is the loopback before it
    *_rows(
        "fragment and query", PRIVATE,
        "http://127.0.0.1:{port}#@evil.com/", "http://127.0.0.1:{port}?@evil.com/",
        "http://127.0.0.1:{port}/#@evil.com",
    ),
    # a backslash ends the host (WHATWG: a path separator in http URLs); the host left is loopback
    Spelling("backslash", "http://127.0.0.1:{port}\\@evil.com/", *PRIVATE, cited="http://127.0.0.1:{port}"),
    Spelling("backslash", "http://127.0.0.1:{port}\\evil.com/", *PRIVATE, cited="http://127.0.0.1:{port}"),
    Spelling("backslash", "http:\\\\127.0.0.1:{port}\\", None, None),  # no URL found: nothing cited
    # percent-encoding in the host, control characters anywhere
    *_rows(
        "percent-encoding", BAD_URL,
        "http://%31%32%37.0.0.1/", "http://127%2e0%2e0%2e1/", "http://%6c%6f%63%61%6c%68%6f%73%74/",
        "http://127.0.0.1%00.evil.com/", "http://%5b::1%5d/", "http://evil.com%40127.0.0.1/",
    ),
    Spelling("percent-encoding", "http://127.0.0.1/%0d%0aHost:evil", *BAD_URL_REFUSED),
    # ports: 0 is no port; a public name on a port that is not a web port is refused before DNS;
    # malformed ports never parse
    Spelling("ports", "http://127.0.0.1:0/", "refused", "bad_port"),
    Spelling("ports", "http://127.0.0.1:6379/", *PRIVATE),
    *_rows(
        "ports", PORT,
        "http://example.com:22/", "http://example.com:25/", "http://example.com:6379/",
        "http://example.com:11211/",
    ),
    *_rows(
        "ports", BAD_URL,
        "http://localhost:+11211aaa/", "http://localhost:00011211aaaa/", "http://example.com:65536/",
        "http://example.com:-1/",
    ),
    # lengths checked before DNS: a 64-character label, a 300-character host, a 2,200-character URL
    *_rows(
        "lengths", BAD_URL,
        "http://" + "a" * 64 + ".example/", "http://" + ".".join(["abcdefghi"] * 30) + ".example/",
    ),
    Spelling("lengths", "http://example.com/" + "x/" * 1100, *BAD_URL_REFUSED),
    # other schemes are never fetched
    *_rows(
        "schemes", SCHEME,
        "gopher://127.0.0.1:6379/_INFO", "dict://127.0.0.1:11211/stat", "file:///etc/passwd",
        "ftp://127.0.0.1/", "ws://127.0.0.1:{port}/",
    ),
]  # fmt: skip


def spelled(spelling: Spelling, port: int) -> tuple[str, str | None]:
    """The link for a canary at ``port``, and the URL the reader is expected to cite for it."""
    url = spelling.url.replace("{port}", str(port))
    cited = spelling.cited.replace("{port}", str(port)) if spelling.cited else url
    return url, cited if spelling.status is not None else None


def counts() -> dict[str, int]:
    """Spellings per kind (README "Hardening")."""
    out: dict[str, int] = {}
    for spelling in SPELLINGS:
        out[spelling.kind] = out.get(spelling.kind, 0) + 1
    return out
