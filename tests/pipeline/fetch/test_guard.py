"""Address and URL checks: the bad-input checklist of security.md §1.6 (rows 1–23, 33–40)."""

from __future__ import annotations

import socket
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from service.pipeline.errors import AddressBlocked, UnsupportedURL
from service.pipeline.fetch.guard import check_url, is_denied_address, parse_ipv4

# Rows 1–23: each URL must be refused; "addr" is the address it names, when it names one.
DENIED_URLS = [
    # 1 loopback
    "http://127.0.0.1/", "http://127.127.127.127/", "http://127.0.1.3/",
    # 2-4 IPv6 loopback, unspecified
    "http://[::1]/", "http://0.0.0.0/", "http://0/", "http://[::]/", "http://[::]:22/",
    # 5 RFC1918
    "http://10.0.0.1/", "http://172.16.0.1/", "http://172.31.0.1/", "http://192.168.0.1/",
    # 6-8 metadata
    "http://169.254.169.254/latest/meta-data/", "http://169.254.170.2/", "http://metadata.google.internal/",
    "http://metadata.amazonaws.com/", "http://100.100.100.200/",
    # 9 ULA metadata
    "http://[fd00:ec2::254]/",
    # 10 multicast, broadcast
    "http://224.0.0.1/", "http://255.255.255.255/", "http://[ff02::2]/",
    # 11 special-purpose IPv4 that is_global misses
    "http://192.0.0.192/", "http://198.18.0.1/", "http://192.88.99.1/",
    # 12-17 numeric spellings
    "http://2130706433/", "http://3232235521/", "http://017700000001/", "http://0x7f000001/",
    "http://0x7f.1/", "http://0x7f.0.0.1/", "http://0177.0.0.1/", "http://0251.0376.0251.0376/",
    "http://0251.00376.000251.0000376/", "http://127.1/", "http://127.0.1/", "http://127.000.000.001/",
    "http://012.1.2.3/", "http://0xA9FEA9FE/", "http://0xA9.0xFE.0xA9.0xFE/", "http://2852039166/",
    # 18 Unicode digits yarl normalises
    "http://１２７.０.０.１/", "http://①②⑦.⓪.⓪.①/",
    # 20-22 IPv6 carrying IPv4
    "http://[::ffff:127.0.0.1]/", "http://[0:0:0:0:0:ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/",
    "http://[::fFFf:169.254.169.254]/", "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:a9fe:a9fe::]/",
    "http://[2001:0:4136:e378:8000:63bf:3f57:fdf2]/",
    # 23 local names
    "http://localhost/", "http://LOCALHOST/", "http://localhost./", "http://foo.localhost/",
    "http://localdomain/", "http://box.localdomain/",
]  # fmt: skip

DENIED_ADDRESSES = [
    "127.0.0.1", "127.127.127.127", "::1", "0.0.0.0", "::", "10.0.0.1", "172.16.0.1", "172.31.255.255",
    "192.168.0.1", "169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254", "fe80::1",
    "fe80::1%eth0", "224.0.0.1", "255.255.255.255", "ff02::2", "192.0.0.192", "198.18.0.1", "192.88.99.1",
    "192.0.2.1", "198.51.100.1", "203.0.113.1", "240.0.0.1", "100.64.0.1", "100.127.255.254",
    "2130706433", "0x7f.1", "0177.0.0.1", "127.1", "::ffff:127.0.0.1", "::ffff:7f00:1",
    "::fFFf:169.254.169.254", "64:ff9b::a9fe:a9fe", "64:ff9b::808:808", "64:ff9b:1::1", "2002:a9fe:a9fe::",
    "2001:0:4136:e378:8000:63bf:3f57:fdf2", "2001:db8::1", "100::1", "fec0::1", "FEC0:CCCC::", "0.1.1.1",
    "::ffff:192.168.2.1", "2002:C0A8:FFFF::", "64:ff9b::192.168.2.1", "::127.0.0.1", "[::1]",
    "not-an-address", "", "425.510.425.510", "::ffff:0:7f00:1", "::ffff:0:a9fe:a9fe", "::ffff:0:808:808",
    "5f00::1", "3fff::1",
]  # fmt: skip

ALLOWED_ADDRESSES = [
    "8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.254", "100.128.0.1", "2606:4700:4700::1111",
    "2001:4860:4860::8888", "64:ff9c::1", "134744072",
]  # fmt: skip

# (url, exception, reason) for rows 19 and 33–40.
REJECTED = [
    # 19 overflowing numbers: fail closed
    ("http://0x41414141A9FEA9FE/", AddressBlocked, "bad_url"),
    ("http://425.510.425.510/", AddressBlocked, "bad_url"),
    ("http://7147006462/", AddressBlocked, "bad_url"),
    ("http://1.2.3.4.5/", AddressBlocked, "bad_url"),
    ("http://example.123/", AddressBlocked, "bad_url"),
    # 33 userinfo
    ("http://evil.com@127.0.0.1/", AddressBlocked, "userinfo_in_url"),
    ("http://evil.com@example.com/", AddressBlocked, "userinfo_in_url"),
    ("http://127.1.1.1:80@127.2.2.2:80/", AddressBlocked, "userinfo_in_url"),
    ("http://127.1.1.1:80:@@127.2.2.2:80/", AddressBlocked, "userinfo_in_url"),
    ("http://127.1.1.1:80#@127.2.2.2:80/", AddressBlocked, "private_address"),
    ("http://user:pass@127.0.0.100/", AddressBlocked, "userinfo_in_url"),
    # 34 parser differentials
    ("http://evil.com\\@127.0.0.1/", AddressBlocked, "bad_url"),
    ("http://127.0.0.1:80\\@evil.com/", AddressBlocked, "bad_url"),
    ("http://127.0.0.1%2f@evil.com/", AddressBlocked, "userinfo_in_url"),
    # 35 control characters
    ("http://exa%00mple.com/", AddressBlocked, "bad_url"),
    ("http://exa\x00mple.com/", AddressBlocked, "bad_url"),
    ("http://example.com/%0d%0aSet-Cookie:x", AddressBlocked, "bad_url"),
    ("http://example.com/a\r\nSet-Cookie:x", AddressBlocked, "bad_url"),
    ("http://exa\tmple.com/", AddressBlocked, "bad_url"),
    ("http://exa mple.com/", AddressBlocked, "bad_url"),
    ("http://[fe80::1%25eth0]/", AddressBlocked, "bad_url"),
    # 36 schemes
    ("file:///etc/passwd", UnsupportedURL, "unsupported_scheme"),
    ("gopher://127.0.0.1:6379/_INFO", UnsupportedURL, "unsupported_scheme"),
    ("dict://127.0.0.1:11211/stat", UnsupportedURL, "unsupported_scheme"),
    ("ftp://127.0.0.1/", UnsupportedURL, "unsupported_scheme"),
    ("ws://example.com/", UnsupportedURL, "unsupported_scheme"),
    ("javascript:alert(1)", UnsupportedURL, "unsupported_scheme"),
    ("data:text/html,x", UnsupportedURL, "unsupported_scheme"),
    ("//example.com/", UnsupportedURL, "unsupported_scheme"),
    # 37 ports
    ("http://127.0.0.1:6379/", AddressBlocked, "private_address"),
    ("http://127.0.0.1:22/", AddressBlocked, "private_address"),
    ("http://public.example:6379/", AddressBlocked, "port_not_allowed"),
    ("http://public.example:25/", AddressBlocked, "port_not_allowed"),
    # 38 port parsing
    ("http://localhost:+11211aaa/", AddressBlocked, "bad_url"),
    ("http://localhost:00011211aaaa/", AddressBlocked, "bad_url"),
    ("http://example.com:0/", AddressBlocked, "bad_port"),
    ("http://example.com:65536/", AddressBlocked, "bad_url"),
    ("http://example.com:-1/", AddressBlocked, "bad_url"),
    ("http://0000::1:80/", AddressBlocked, "bad_url"),
    # 39 sizes
    ("http://example.com/" + "a" * 100_000, AddressBlocked, "bad_url"),
    ("http://" + "a" * 300 + ".com/", AddressBlocked, "bad_url"),
    ("http://" + "a" * 64 + ".example.com/", AddressBlocked, "bad_url"),
    ("http://example.com" + "/a" * 10_000, AddressBlocked, "bad_url"),
    ("http://a..b/", AddressBlocked, "bad_url"),
    # 40 broken punycode
    ("http://xn--/", AddressBlocked, "bad_url"),
    ("http://xn--a.xn--b/", AddressBlocked, "bad_url"),
]


@pytest.mark.parametrize("url", DENIED_URLS)
def test_check_url_refuses_private_targets(url: str) -> None:
    """Rows 1–23: every private, local or metadata target is refused before any I/O."""
    with pytest.raises(AddressBlocked) as info:
        check_url(url)
    assert info.value.reason == "private_address"


@pytest.mark.parametrize("address", DENIED_ADDRESSES)
def test_denied_addresses(address: str) -> None:
    """The deny table, embedded IPv4, metadata, and unparseable input (fail closed)."""
    assert is_denied_address(address) is True


@pytest.mark.parametrize("address", ALLOWED_ADDRESSES)
def test_public_addresses_allowed(address: str) -> None:
    """Global unicast addresses pass, including the CGNAT edges just outside 100.64/10."""
    assert is_denied_address(address) is False


@pytest.mark.parametrize(("url", "exc", "reason"), REJECTED)
def test_check_url_rejections(url: str, exc: type[Exception], reason: str) -> None:
    """Rows 19 and 33–40: syntax, userinfo, control characters, schemes, ports, sizes, punycode."""
    with pytest.raises(exc) as info:
        check_url(url)
    assert getattr(info.value, "reason", None) == reason


@pytest.mark.parametrize(
    ("url", "expected"),
    [("http://example.com/a?b=1", "http://example.com/a?b=1"), ("https://example.com:8443/", "https://example.com:8443/"),
     ("http://8.8.8.8/", "http://8.8.8.8/"), ("http://134744072/x", "http://8.8.8.8/x"),
     ("http://0x08.0x08.0x08.0x08/", "http://8.8.8.8/"), ("http://[2606:4700:4700::1111]/", "http://[2606:4700:4700::1111]/"),
     ("http://100.63.255.254/", "http://100.63.255.254/"), ("http://аpple.com/", "http://xn--pple-43d.com/"),
     ("HTTP://Example.COM./", "http://example.com./")],
)  # fmt: skip
def test_check_url_accepts_public_urls(url: str, expected: str) -> None:
    """Public targets pass; numeric spellings come back in dotted form; IDN hosts as punycode."""
    assert str(check_url(url)) == expected


def test_allowed_ports_can_be_lifted() -> None:
    """``allowed_ports=None`` accepts any port on a public host."""
    assert check_url("http://public.example:6379/", allowed_ports=None).port == 6379


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:6379/", "http://localhost/", "http://[::1]/", "http://10.0.0.1/"]
)
def test_allow_private_lifts_address_rules(url: str) -> None:
    """With allow_private, private addresses, local names and any port are accepted."""
    assert check_url(url, allow_private=True) == URL(url)


@pytest.mark.parametrize(
    ("url", "expected"),
    [("http://2130706433/", "http://127.0.0.1/"), ("http://0x7f.1:8080/", "http://127.0.0.1:8080/"),
     ("http://127.1/", "http://127.0.0.1/"), ("http://①②⑦.⓪.⓪.①/", "http://127.0.0.1/")],
)  # fmt: skip
def test_allow_private_still_decodes_numeric_hosts(url: str, expected: str) -> None:
    """Numeric spellings are rewritten to the address libc would dial, even when allowed."""
    assert str(check_url(url, allow_private=True)) == expected


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "http://evil.com@127.0.0.1/", "http://425.510.425.510/", "http://a b/"]
)
def test_allow_private_keeps_scheme_and_syntax_rules(url: str) -> None:
    """allow_private does not admit other schemes, userinfo or malformed hosts."""
    with pytest.raises((AddressBlocked, UnsupportedURL)):
        check_url(url, allow_private=True)


# ---------------------------------------------------------------- properties


def _spellings(value: int) -> list[str]:
    """Spellings of one IPv4 address that inet_aton accepts."""
    a, b, c, d = IPv4Address(value).packed
    return [
        f"{a}.{b}.{c}.{d}",
        str(value),
        hex(value),
        f"0{value:o}",
        f"{a:#x}.{b:#x}.{c:#x}.{d:#x}",
        f"0{a:o}.0{b:o}.0{c:o}.0{d:o}",
        f"{a}.{b}.{(c << 8) | d}",
        f"{a}.{(b << 16) | (c << 8) | d}",
        f"{a:03d}.{b:03d}.{c:03d}.{d:03d}" if min(a, b, c, d) >= 100 else f"{a}.{b}.{c}.{d}",
    ]


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_every_spelling_gets_the_same_verdict(value: int) -> None:
    """For any IPv4 address, dotted, dword, hex, octal and short forms are judged alike."""
    verdicts = set()
    for spelling in _spellings(value):
        assert is_denied_address(spelling) == is_denied_address(str(IPv4Address(value)))
        try:
            verdicts.add(check_url(f"http://{spelling}/").raw_host)
        except AddressBlocked as e:
            verdicts.add(e.reason)
    assert len(verdicts) == 1


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_parse_ipv4_agrees_with_libc(value: int) -> None:
    """Our decoding of each spelling equals the C library's inet_aton."""
    for spelling in _spellings(value):
        parsed = parse_ipv4(spelling)
        assert parsed is not None
        assert parsed.packed == socket.inet_aton(spelling)


@given(st.from_regex(r"\A[0-9x.]{1,20}\Z"))
def test_parse_ipv4_never_accepts_what_libc_rejects(text: str) -> None:
    """Numeric junk is either the address libc reads or nothing at all."""
    try:
        expected: bytes | None = socket.inet_aton(text)
    except OSError:
        expected = None
    parsed = parse_ipv4(text)
    if expected is not None:
        assert parsed is not None
        assert parsed.packed == expected
    elif not text.endswith(".") and not any(p.lower() == "0x" for p in text.split(".")):
        assert parsed is None


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_ipv6_wrappers_of_any_ipv4_are_denied(value: int) -> None:
    """Mapped, compatible, NAT64, 6to4, Teredo and SIIT-translated forms are denied whatever IPv4
    they carry."""
    wrapped = [
        IPv6Address((0xFFFF << 32) | value),
        IPv6Address(value),
        IPv6Address((0x0064FF9B << 96) | value),
        IPv6Address((0x2002 << 112) | (value << 80)),
        IPv6Address((0x20010000 << 96) | (value << 64) | (~value & 0xFFFFFFFF)),
        IPv6Address((0xFFFF << 48) | value),  # SIIT IPv4-translated, ::ffff:0:a.b.c.d
    ]
    for addr in wrapped:
        assert is_denied_address(str(addr)), addr


@given(st.integers(min_value=0, max_value=2**128 - 1))
def test_ipv6_verdict_independent_of_spelling(value: int) -> None:
    """Compressed, exploded and bracketed IPv6 spellings get one verdict."""
    addr = IPv6Address(value)
    verdict = is_denied_address(str(addr))
    assert is_denied_address(addr.exploded) == verdict
    assert is_denied_address(f"[{addr.exploded.upper()}]") == verdict
