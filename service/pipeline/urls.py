"""Finding the URLs a post cites, and turning each into the key it is fetched and deduplicated by.

Pure functions, no I/O. The finder is two passes: a cheap scan proposes every place a URL may
start (``http://``, ``https://``, ``www.``) and runs it to the first character that can never be
part of a written URL; a trimming pass then cuts unbalanced closing brackets and quotes and
trailing punctuation, and a validating pass (yarl plus our own host rules) drops malformed hosts.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote

import surt
from yarl import URL

from service.pipeline.errors import InvalidURL, UnsupportedURL

URL_PARSE_ERRORS: tuple[type[Exception], ...] = (ValueError, UnicodeError, TypeError, IndexError)
"""What yarl raises for a string it cannot parse (IndexError: ``HTTP://[]@`` in yarl 1.2x)."""

__all__ = ["FoundURL", "extract_urls", "normalize_url", "url_origin"]


@dataclass(frozen=True, slots=True)
class FoundURL:
    """A URL as written in a text; ``text[span[0]:span[1]] == url``."""

    url: str
    span: tuple[int, int]


# Where a URL may start. A scheme may follow anything but a letter or digit ("text:http://",
# "a@http://" are links); "www." must start a word so that "awww.com" or a path segment is not one.
_START_RE = re.compile(r"(?<![A-Za-z0-9])https?://|(?<![\w.@/\\-])www\.", re.IGNORECASE)

# Characters that end a written URL: never legal unescaped, or typography that surrounds links.
_STOP_CHARS = frozenset("<>`\\“”„‟‘’‚‛«»‹›「」『』【】〈〉《》〔〕…｜，。、；：！？（）［］｛｝\u3000")
_TRAILING_PUNCT = frozenset(".,;:!?*")
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = frozenset(_OPENERS.values())
# An HTML entity left dangling at the end ("&gt;", "&quot;" around a link in raw HTML).
_TRAILING_ENTITY_RE = re.compile(
    r"&(?:gt|lt|quot|apos|nbsp|amp|[lr][sd]quo|[lr]aquo|#\d{1,7}|#x[0-9a-f]{1,6});?$", re.IGNORECASE
)
_SCHEME_RE = re.compile(r"^(https?)://", re.IGNORECASE)
_LABEL_RE = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")

# Query parameters that only identify a click or a campaign, never the page.
_TRACKING_PREFIXES = ("utm_", "mtm_", "pk_", "hsa_", "oly_", "vero_")
_TRACKING_NAMES = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "ysclid",
        "twclid", "ttclid", "li_fat_id", "igshid", "igsh", "mc_cid", "mc_eid", "_ga", "_gl",
        "_hsenc", "_hsmi", "mkt_tok", "ref_src", "ref_url", "s_cid", "wt_mc", "cmpid",
        "__twitter_impression", "spm", "scid", "ncid", "sr_share", "at_medium", "at_campaign",
    }
)  # fmt: skip


def _is_stop(ch: str) -> bool:
    """Whitespace, control characters and the typography in ``_STOP_CHARS`` end a URL."""
    return ch.isspace() or ch in _STOP_CHARS or unicodedata.category(ch) == "Cc"


def _scan_end(text: str, start: int, body_from: int) -> int:
    """The end of the longest run from ``start`` that contains no stop char or unbalanced closer."""
    stack: list[str] = []
    before = text[start - 1] if start > 0 else ""
    fence = before if before in "\"'" else ""  # href="..." / '...': the value ends at its quote
    i = body_from
    while i < len(text):
        ch = text[i]
        if _is_stop(ch) or ch == fence:
            break
        if ch in _OPENERS:
            stack.append(_OPENERS[ch])
        elif ch in _CLOSERS:
            if not stack or stack[-1] != ch:
                break
            stack.pop()
        i += 1
    return i


def _trim(url: str) -> str:
    """Cut trailing punctuation, unbalanced quotes and dangling entities, repeatedly."""
    while url:
        last = url[-1]
        if last in _TRAILING_PUNCT or (last in "\"'" and url.count(last) % 2 == 1):
            url = url[:-1]
            continue
        entity = _TRAILING_ENTITY_RE.search(url)
        if entity and entity.start() > 0:
            url = url[: entity.start()]
            continue
        break
    return url


def _valid_host(raw_host: str | None) -> bool:
    """An IP literal, or dot-separated LDH labels (after IDNA) with no empty label."""
    if not raw_host:
        return False
    if ":" in raw_host:
        try:
            ipaddress.IPv6Address(raw_host.split("%", 1)[0])
        except ValueError:
            return False
        return True
    if len(raw_host) > 253:
        return False
    # One trailing dot is the DNS root (``localhost.``, ``example.com.``): a valid, fetchable name.
    name = raw_host[:-1] if raw_host.endswith(".") and len(raw_host) > 1 else raw_host
    return all(_LABEL_RE.match(label) for label in name.split("."))


def _parse(url: str) -> URL:
    """yarl's view of an http(s) URL or a scheme-less ``www.`` one; UnsupportedURL for another
    scheme, InvalidURL for one that does not parse."""
    text = url.strip()
    while "&amp;" in text:  # an href copied from raw HTML
        text = text.replace("&amp;", "&")
    if text[:4].lower() == "www.":
        text = "http://" + text
    if not _SCHEME_RE.match(text):
        raise UnsupportedURL(f"not an http(s) URL: {url[:80]!r}")
    try:
        parsed = URL(text)
        raw_host = parsed.raw_host
    except URL_PARSE_ERRORS as exc:
        raise InvalidURL(f"malformed URL: {url[:80]!r}") from exc
    if parsed.scheme not in ("http", "https"):
        raise UnsupportedURL(f"not an http(s) URL: {url[:80]!r}")
    if not _valid_host(raw_host):
        raise InvalidURL(f"malformed host: {url[:80]!r}")
    return parsed


def _is_tracking(param: str) -> bool:
    name = unquote(param.split("=", 1)[0]).lower()
    return name in _TRACKING_NAMES or name.startswith(_TRACKING_PREFIXES)


def normalize_url(url: str) -> str:
    """The fetch and dedup key: scheme added to ``www.``, IDNA lower-case host, no default port,
    dot-segments resolved, no fragment, no tracking parameters. Raises UnsupportedURL or InvalidURL."""
    parsed = _parse(url).with_fragment(None)
    try:
        rendered = str(parsed)
        # A punycode label that does not decode (``xn--a``) is malformed: yarl keeps it as written
        # and fails only later, when the host is read back.
        _ = parsed.host
    except URL_PARSE_ERRORS as exc:
        raise InvalidURL(f"malformed URL: {url[:80]!r}") from exc
    base, _, query = rendered.partition("?")
    authority_at = base.index("://") + 3
    if "/" not in base[authority_at:]:
        base += "/"
    kept = [part for part in query.split("&") if part and not _is_tracking(part)]
    return base + ("?" + "&".join(kept) if kept else "")


def url_origin(url: str) -> str | None:
    """Scheme, host and port of ``url`` (``https://example.com``, ``http://[::1]:8080``): lower
    case, IDNA host, no default port, no user info. None for a relative or malformed URL."""
    try:
        parsed = URL(url)
        if not parsed.absolute or parsed.scheme not in {"http", "https"}:
            return None
        return str(parsed.origin())
    except URL_PARSE_ERRORS:
        return None


def _candidate(text: str, match: re.Match[str]) -> FoundURL | None:
    """The URL starting at ``match``, trimmed and validated, or None."""
    start = match.start()
    end = _scan_end(text, start, match.end())
    url = _trim(text[start:end])
    if len(url) <= match.end() - start:
        return None
    if url[:4].lower() == "www." and not _plausible_www(url):
        return None
    try:
        normalize_url(url)
    except (UnsupportedURL, InvalidURL):
        return None
    return FoundURL(url=url, span=(start, start + len(url)))


def _plausible_www(url: str) -> bool:
    """Without a scheme, demand ``www.`` + a name + a top-level domain of letters."""
    host = re.split(r"[/?#:]", url, maxsplit=1)[0]
    labels = host.split(".")
    return len(labels) >= 3 and (labels[-1].isalpha() or labels[-1].lower().startswith("xn--"))


def extract_urls(text: str) -> list[FoundURL]:
    """Every http(s) or ``www.`` URL in ``text``, in order, each exactly as written."""
    found: list[FoundURL] = []
    covered = 0
    for match in _START_RE.finditer(text):
        if match.start() < covered:
            continue
        hit = _candidate(text, match)
        if hit is not None:
            found.append(hit)
            covered = hit.span[1]
    return found


def surt_key(url: str) -> str:
    """The SURT key pywb and the Internet Archive index ``url`` under (the ``surt`` package, as
    pywb itself calls it): host reversed with IPv4 octets too (``1,0,0,127:8080)``), IDNA host,
    ``www``/``www1``… dropped, default port, fragment and trailing slash dropped, query sorted,
    escapes normalised, lower case. The key of the URL as written: two spellings of one page share
    a key only when SURT says so (tracking parameters are kept; ``normalize_url`` drops them).

    Raises ``InvalidURL`` when ``surt`` cannot key the string.
    """
    try:
        key: str = surt.surt(url)
    except Exception as exc:  # surt raises whatever its parsing hits (ValueError, IndexError, …)
        raise InvalidURL(f"malformed URL: {url[:80]!r}") from exc
    if not key or ")" not in key:
        raise InvalidURL(f"not a URL surt can key: {url[:80]!r}")
    return key


def lookup_keys(url: str) -> tuple[str, ...]:
    """The SURT keys a stored capture of ``url`` may be indexed under: the URL as written and its
    ``normalize_url`` form (the fetch key, without tracking parameters), deduplicated."""
    keys = [surt_key(url)]
    with contextlib.suppress(UnsupportedURL, InvalidURL):
        keys.append(surt_key(normalize_url(url)))
    return tuple(dict.fromkeys(keys))
