"""Address and URL checks that keep the fetcher off private networks (security.md §1).

PURE: no I/O. ``check_url`` runs before any request and on every redirect hop;
``is_denied_address`` also runs inside the connector's socket factory on every address actually
dialled (``session.py``), which is the check that counts: a name may resolve anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

from yarl import URL

from service.pipeline.errors import AddressBlocked, UnsupportedURL
from service.pipeline.models import SourceReason
from service.pipeline.urls import URL_PARSE_ERRORS

IPAddress = IPv4Address | IPv6Address

MAX_URL_CHARS = 2048
MAX_HOST_CHARS = 253
MAX_LABEL_CHARS = 63
SAFE_PORTS: frozenset[int] = frozenset({80, 443, 8000, 8080, 8443})
SCHEMES = frozenset({"http", "https"})

# The deny table of security.md §1.3; ``not is_global`` alone misses several of these.
_DENY_V4 = tuple(
    ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
        "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    )
)  # fmt: skip
_DENY_V6 = tuple(
    ip_network(n)
    for n in (
        "::/96", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64",
        "2001::/32", "2001:db8::/32", "2002::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
        # Newer than CPython 3.11's tables, which call them global: SIIT "IPv4-translated"
        # addresses (RFC 2765; ``::ffff:0:7f00:1`` carries 127.0.0.1 to a translator), SRv6 SIDs
        # (RFC 9602) and the second documentation block (RFC 9637).
        "::ffff:0:0:0/96", "5f00::/16", "3fff::/20",
    )
)  # fmt: skip
_NAT64 = ip_network("64:ff9b::/96")
METADATA_ADDRESSES = frozenset(
    ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
_DENIED_NAMES = frozenset(
    {"localhost", "localdomain", "metadata", "instance-data", "metadata.google.internal",
     "metadata.amazonaws.com"}
)  # fmt: skip
_DENIED_SUFFIXES = (".localhost", ".localdomain", ".local", ".internal")

_NUMBER = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)", re.IGNORECASE)
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?")
_ENCODED_CONTROL = re.compile(r"%(?:[01][0-9a-f]|7f)", re.IGNORECASE)


# ---------------------------------------------------------------- addresses


def _parse_number(part: str) -> int | None:
    """One part of an inet_aton address: ``0x`` hex, leading-zero octal or decimal."""
    if not _NUMBER.fullmatch(part):
        return None
    if part[:2].lower() == "0x":
        return int(part[2:], 16) if len(part) > 2 else 0
    if len(part) > 1 and part[0] == "0":
        return int(part, 8) if set(part) <= set("01234567") else None
    return int(part)


def parse_ipv4(host: str) -> IPv4Address | None:
    """Decode ``host`` the way libc's inet_aton would (``127.1``, ``0x7f.1``, ``2130706433``).

    Returns None when it is not such an address; callers decide whether that means "a name".
    """
    parts = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = [_parse_number(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    values = [n for n in numbers if n is not None]
    *head, last = values
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return IPv4Address(value)


def looks_numeric(host: str) -> bool:
    """True when the last label is a number, so the host must be an IPv4 address (WHATWG URL)."""
    trimmed = host[:-1] if host.endswith(".") else host
    return bool(_NUMBER.fullmatch(trimmed.rsplit(".", 1)[-1]))


def parse_ip(text: str) -> IPAddress | None:
    """An IP address in any spelling libc accepts (brackets, zone ids and inet_aton forms too)."""
    host = text.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        try:
            return IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return None
    return parse_ipv4(host)


def _embedded_ipv4(addr: IPv6Address) -> list[IPv4Address]:
    """IPv4 addresses an IPv6 address carries: mapped, 6to4, Teredo, NAT64."""
    if addr.ipv4_mapped is not None:
        return [addr.ipv4_mapped]
    if addr.sixtofour is not None:
        return [addr.sixtofour]
    if addr.teredo is not None:
        return list(addr.teredo)
    if addr in _NAT64:
        return [IPv4Address(int(addr) & 0xFFFFFFFF)]
    return []


def _denied(addr: IPAddress) -> bool:
    if addr in METADATA_ADDRESSES or not addr.is_global or addr.is_multicast:
        return True
    if isinstance(addr, IPv4Address):
        return addr.is_reserved or any(addr in net for net in _DENY_V4)
    if any(_denied(v4) for v4 in _embedded_ipv4(addr)):
        return True
    return any(addr in net for net in _DENY_V6)


def is_denied_address(ip: str) -> bool:
    """True if connecting to ``ip`` could reach a private, local or metadata service.

    Unparseable input is denied: the classifier must fail closed.
    """
    addr = parse_ip(ip)
    return True if addr is None else _denied(addr)


# ---------------------------------------------------------------- URLs


def _blocked(reason: SourceReason, url: str) -> AddressBlocked:
    return AddressBlocked(f"{reason}: {url[:200]!r}", reason=reason)


def _check_raw(url: str) -> URL:
    """Checks on the string itself, then the one parse whose result is fetched."""
    if len(url) > MAX_URL_CHARS:
        raise _blocked(SourceReason.BAD_URL, url)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url) or "\\" in url:
        raise _blocked(SourceReason.BAD_URL, url)
    if _ENCODED_CONTROL.search(url):
        raise _blocked(SourceReason.BAD_URL, url)
    try:
        parsed = URL(url)
    except URL_PARSE_ERRORS as e:
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme and scheme not in SCHEMES and scheme.isalpha():
            raise UnsupportedURL(f"scheme {scheme!r}") from e
        raise _blocked(SourceReason.BAD_URL, url) from e
    if parsed.scheme not in SCHEMES:
        raise UnsupportedURL(f"scheme {parsed.scheme!r}")
    if parsed.raw_user is not None or parsed.raw_password is not None:
        raise _blocked(SourceReason.USERINFO_IN_URL, url)
    return parsed


def _check_name(host: str, url: str) -> None:
    """Syntax of a DNS name: lengths, characters, punycode labels."""
    name = host[:-1] if host.endswith(".") else host
    if not name or len(name) > MAX_HOST_CHARS:
        raise _blocked(SourceReason.BAD_URL, url)
    for label in name.split("."):
        if len(label) > MAX_LABEL_CHARS or not _LABEL.fullmatch(label):
            raise _blocked(SourceReason.BAD_URL, url)
        if label.startswith("xn--"):
            try:
                decoded = label[4:].encode("ascii").decode("punycode")
            except (UnicodeError, ValueError) as e:
                raise _blocked(SourceReason.BAD_URL, url) from e
            if not decoded or decoded.isascii():
                raise _blocked(SourceReason.BAD_URL, url)


def _is_denied_name(host: str) -> bool:
    name = host.rstrip(".").lower()
    return name in _DENIED_NAMES or name.endswith(_DENIED_SUFFIXES)


def _resolve_literal(parsed: URL, url: str) -> tuple[URL, IPAddress | None]:
    """The host as an IP address if it is one (URL rewritten to dotted form), else checked as a name."""
    host = parsed.raw_host
    if not host:
        raise _blocked(SourceReason.BAD_URL, url)
    if ":" in host:  # yarl has already removed the brackets
        if "%" in host:
            raise _blocked(SourceReason.BAD_URL, url)  # a zone id names a local interface
        addr = parse_ip(host)
        if addr is None:
            raise _blocked(SourceReason.BAD_URL, url)
        return parsed, addr
    if looks_numeric(host):
        v4 = parse_ipv4(host)
        if v4 is None:
            raise _blocked(SourceReason.BAD_URL, url)  # e.g. 425.510.425.510: fail closed
        return (parsed if str(v4) == host else parsed.with_host(str(v4))), v4
    _check_name(host, url)
    return parsed, None


def check_url(
    url: str,
    *,
    allow_private: bool = False,
    allowed_ports: Collection[int] | None = SAFE_PORTS,
) -> URL:
    """Validate ``url`` before any I/O and return the exact ``yarl.URL`` to fetch.

    Numeric hosts in any spelling (``2130706433``, ``0x7f.1``, ``127.1``) are decoded as libc
    would and rewritten to dotted form, so the address checked is the address dialled. With
    ``allow_private`` only scheme and syntax checks apply (no address, name or port rules).
    Raises ``UnsupportedURL`` for a scheme other than http(s), else ``AddressBlocked``.
    """
    parsed, addr = _resolve_literal(_check_raw(url), url)
    if parsed.explicit_port == 0:
        raise _blocked(SourceReason.BAD_PORT, url)
    if allow_private:
        return parsed
    if addr is not None and _denied(addr):
        raise _blocked(SourceReason.PRIVATE_ADDRESS, url)
    if addr is None and _is_denied_name(parsed.raw_host or ""):
        raise _blocked(SourceReason.PRIVATE_ADDRESS, url)
    if allowed_ports is not None and parsed.explicit_port not in (None, *allowed_ports):
        raise _blocked(SourceReason.PORT_NOT_ALLOWED, url)
    return parsed
