"""Finding the URLs a post cites, and turning each into the key it is fetched and deduplicated by.

Pure functions, no I/O. The finder is two passes: a cheap scan proposes every place a URL may
start (``http://``, ``https://``, ``www.``) and runs it to the first character that can never be
part of a written URL; a trimming pass then cuts unbalanced closing brackets and quotes and
trailing punctuation, and a validating pass (yarl plus our own host rules) drops malformed hosts.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import unquote

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
# With ``every``, links of the schemes never fetched are found too, so a post that cites one sees
# it reported (``unsupported``): the hierarchical ones by their ``//`` or ``file:/``, ``data:`` by
# its media type or comma, script schemes by what follows the colon.
_OTHER_START_RE = re.compile(
    r"(?<![A-Za-z0-9+.-])(?:"
    r"(?:ftps?|sftp|gopher|wss?|telnet|ssh|smb|ldaps?|dict|tftp|nntp|irc|rtsp|git|svn)://"
    r"|file:/|data:(?=[\w.+-]*/[\w.+-]*[;,]|,)|(?:javascript|vbscript):(?=[^\s\x00-\x1f])"
    r")",
    re.IGNORECASE,
)
_EVERY_START_RE = re.compile(f"{_START_RE.pattern}|{_OTHER_START_RE.pattern}", re.IGNORECASE)


def _first_letter_first(pattern: re.Pattern[str], letters: str) -> re.Pattern[str]:
    """``pattern`` behind a look-ahead for the letters its alternatives start with: the same
    matches (under ``re.IGNORECASE`` the class folds case as each alternative's first letter
    does), found in half the time, because ``re`` tries the alternatives and their look-behinds
    only where one of the letters stands (45 to 21 µs on a 290-character post)."""
    return re.compile(f"(?=[{letters}])(?:{pattern.pattern})", re.IGNORECASE)


_START_FAST_RE = _first_letter_first(_START_RE, "hw")
_EVERY_START_FAST_RE = _first_letter_first(_EVERY_START_RE, "hwfsgtdilrjvn")

# Characters that end a written URL: never legal unescaped, or typography that surrounds links.
# CJK text sets links in running text with no space: its full-width and half-width punctuation
# (。、，；：！？､, brackets and corner quotes) ends a URL, while CJK letters in a path are kept.
# The half-width ``｡`` does not: IDNA reads it as a dot, so ``127｡0｡0｡1`` is one host (and refused).
_STOP_CHARS = frozenset(
    "<>`\\“”„‟‘’‚‛«»‹›「」『』【】〈〉《》〔〕〖〗〘〙〚〛〝〞〟…｜，。、；：！？（）［］｛｝＜＞｢｣､\u3000"
)
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


_MAX_URL_CHARS = 8192
"""A longer run is not read as a URL (RFC 9110 asks clients for 8,000 octets at least); the cap
keeps a long run of failed candidates (``http://-/`` ten thousand times) from costing their
lengths multiplied."""

# The characters a scan reacts to: stops, brackets, and C0/C1 controls (category Cc).
_EVENT_RE = re.compile(
    "[\\s\x00-\x1f\x7f-\x9f" + re.escape("".join(sorted(_STOP_CHARS | set(_OPENERS) | _CLOSERS))) + "]"
)


def _scan_ends(text: str, bodies: list[int]) -> list[int]:
    """For each position in ``bodies`` (ascending: where a URL's body starts), the end of the
    longest run from it with no stop character or unbalanced closer, all in one pass.

    One bracket stack serves every pending start: a start remembers the stack's depth when it
    began, and its run ends at a stop, at a closer that matches nothing, or at a closer that
    matches an opener from before it (the stack falls below its depth).
    """
    ends = [len(text)] * len(bodies)
    pending: list[tuple[int, int]] = []  # (index into bodies, stack depth at its start)
    stack: list[str] = []
    nxt, pos = 0, 0
    while nxt < len(bodies) or pending:
        if not pending:  # nothing between here and the next start matters
            stack.clear()
            pos = max(pos, bodies[nxt])
        event = _EVENT_RE.search(text, pos)
        at = event.start() if event else len(text)
        while nxt < len(bodies) and bodies[nxt] <= at:
            pending.append((nxt, len(stack)))
            nxt += 1
        if event is None:
            break
        ch = text[at]
        if ch in _OPENERS:
            stack.append(_OPENERS[ch])
        elif ch in _CLOSERS and stack and stack[-1] == ch:
            stack.pop()
            while pending and pending[-1][1] > len(stack):
                ends[pending.pop()[0]] = at
        else:  # a stop, or a closer that matches nothing
            for index, _ in pending:
                ends[index] = at
            pending.clear()
            stack.clear()
        pos = at + 1
    return ends


def _fenced(text: str, start: int, end: int, fences: dict[str, int]) -> int:
    """``end``, or earlier where the quote before ``start`` closes (``href="..."``).

    ``fences`` caches each quote's next position; starts come in order, so each is found once."""
    fence = text[start - 1] if start > 0 else ""
    if fence not in "\"'" or not fence:
        return end
    at = fences.get(fence, -1)
    if at < start:
        found = text.find(fence, start)
        at = fences[fence] = found if found >= 0 else len(text)
    return min(end, at)


def _trim(url: str) -> str:
    """Cut trailing punctuation, unbalanced quotes and dangling entities, repeatedly (one pass)."""
    end = len(url)
    quotes = {q: url.count(q) for q in "\"'"}
    while end:
        last = url[end - 1]
        if last in _TRAILING_PUNCT or (last in quotes and quotes[last] % 2 == 1):
            if last in quotes:
                quotes[last] -= 1
            end -= 1
            continue
        entity = _TRAILING_ENTITY_RE.search(url, max(0, end - 12), end)  # entities are short
        if entity and entity.start() > 0:
            end = entity.start()
            continue
        break
    return url[:end]


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


@functools.lru_cache(maxsize=16_384)
def normalize_url(url: str) -> str:
    """The fetch and dedup key: scheme added to ``www.``, IDNA lower-case host, no default port,
    dot-segments resolved, no fragment, no tracking parameters. Raises UnsupportedURL or InvalidURL.

    Memoised: a cited URL is keyed several times on its way (the post, the fetch, the replay
    index, the page's canonical URL), and a pure function of a string need not be worked out again.
    Reading a post goes over its URLs in three passes (lines, passages, citations): the memo holds
    a long post's URLs through all three (at 2,048, a post of 4,000 URLs was worked out afresh on
    each pass, and its reading took 9 to 10 times as long as one of 1,000; about 2 MB at most).
    """
    parsed = _parse(url).with_fragment(None)
    try:
        rendered = str(parsed)
        # A punycode label that does not decode (``xn--a``) is malformed: yarl keeps it as written
        # and fails only later, when the host is read back (IDNA decoding: costly, so only then).
        if "xn--" in (parsed.raw_host or "").lower():
            _ = parsed.host
    except URL_PARSE_ERRORS as exc:
        raise InvalidURL(f"malformed URL: {url[:80]!r}") from exc
    base, _, query = rendered.partition("?")
    authority_at = base.index("://") + 3
    if "/" not in base[authority_at:]:
        base += "/"
    kept = [part for part in query.split("&") if part and not _is_tracking(part)]
    return base + ("?" + "&".join(kept) if kept else "")


@functools.lru_cache(maxsize=16_384)
def url_origin(url: str) -> str | None:
    """Scheme, host and port of ``url`` (``https://example.com``, ``http://[::1]:8080``): lower
    case, IDNA host, no default port, no user info. None for a relative or malformed URL.

    Memoised like ``normalize_url``: a source asks it four times (its probe, the probe's URL, its
    health twice), 2.5% of a replayed batch's main process when each parsed the URL afresh."""
    try:
        parsed = URL(url)
        if not parsed.absolute or parsed.scheme not in {"http", "https"}:
            return None
        return str(parsed.origin())
    except URL_PARSE_ERRORS:
        return None


def _candidate(text: str, match: re.Match[str], end: int, *, every: bool = False) -> FoundURL | None:
    """The URL starting at ``match`` and running to ``end``, trimmed and validated, or None
    (with ``every``, a link of another scheme or a malformed http(s) one is kept as written)."""
    start = match.start()
    if end - start > _MAX_URL_CHARS:
        return None
    url = _trim(text[start:end])
    if len(url) <= match.end() - start:
        return None
    if url[:4].lower() == "www." and not _plausible_www(url):
        return None
    try:
        normalize_url(url)
    except (UnsupportedURL, InvalidURL):
        if not every:
            return None
    return FoundURL(url=url, span=(start, start + len(url)))


def _plausible_www(url: str) -> bool:
    """Without a scheme, demand ``www.`` + a name + a top-level domain of letters."""
    host = re.split(r"[/?#:]", url, maxsplit=1)[0]
    labels = host.split(".")
    return len(labels) >= 3 and (labels[-1].isalpha() or labels[-1].lower().startswith("xn--"))


def extract_urls(text: str, *, every: bool = False) -> list[FoundURL]:
    """Every http(s) or ``www.`` URL in ``text``, in order, each exactly as written. Linear in
    the text: every run is scanned once (``_scan_ends``), whatever the number of candidates.

    With ``every``, also what a post cites but is never fetched: links of other schemes
    (``file:``, ``ftp://``, ``data:``, ``javascript:``…) and http(s) links with a malformed host
    or port; ``normalize_url`` tells them apart (UnsupportedURL, InvalidURL)."""
    matches = list((_EVERY_START_FAST_RE if every else _START_FAST_RE).finditer(text))
    if not matches:  # most lines of a post: called per line, so the empty case costs nothing more
        return []
    ends = _scan_ends(text, [m.end() for m in matches])
    found: list[FoundURL] = []
    fences: dict[str, int] = {}
    covered = 0
    for match, end in zip(matches, ends, strict=True):
        if match.start() < covered:
            continue
        hit = _candidate(text, match, _fenced(text, match.start(), end, fences), every=every)
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
    # Imported on first use: surt brings tldextract and requests, which only the evidence index
    # needs; a one-page verify starts without them.
    import surt

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
