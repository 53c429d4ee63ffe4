"""Tests for service.pipeline.urls: the URL finder and the fetch-key normaliser."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from yarl import URL

from service.pipeline.errors import InvalidURL, UnsupportedURL
from service.pipeline.urls import FoundURL, extract_urls, lookup_keys, normalize_url, surt_key, url_origin

CASES_PATH = Path(__file__).parents[2].parent / "shared" / "data" / "linkify-it" / "cases.json"


def _cases(kind: str) -> list[Any]:
    if not CASES_PATH.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{CASES_PATH} absent"))]
    data = json.loads(CASES_PATH.read_text(encoding="utf-8"))
    return [pytest.param(case, id=f"line{case.get('line', i)}") for i, case in enumerate(data[kind])]


@pytest.mark.parametrize("case", _cases("links"))
def test_linkify_links(case: dict[str, Any]) -> None:
    """Every linkify-it link case yields exactly its URL, as written, at the right offsets."""
    found = extract_urls(case["post"])
    assert [f.url for f in found] == case["urls"]
    for f in found:
        assert case["post"][f.span[0] : f.span[1]] == f.url
        normalize_url(f.url)


@pytest.mark.parametrize("case", _cases("not_links"))
def test_linkify_not_links(case: dict[str, Any]) -> None:
    """Malformed links from linkify-it's fixtures are not reported."""
    assert extract_urls(case["post"]) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see https://en.wikipedia.org/wiki/Foo_(bar).", ["https://en.wikipedia.org/wiki/Foo_(bar)"]),
        ("(see https://en.wikipedia.org/wiki/Foo_(bar))", ["https://en.wikipedia.org/wiki/Foo_(bar)"]),
        ("[label](https://example.com/a_(b)) and more", ["https://example.com/a_(b)"]),
        ('[x](https://a.example.com/1 "title")', ["https://a.example.com/1"]),
        ("<https://example.com/x>, then", ["https://example.com/x"]),
        ('<a href="https://example.com/a?b=1&amp;c=2">link</a>', ["https://example.com/a?b=1&amp;c=2"]),
        ("<a href='http://example.com/q'>x</a>", ["http://example.com/q"]),
        ("“http://example.com/quoted” he said", ["http://example.com/quoted"]),
        ("‘http://example.com/single’", ["http://example.com/single"]),
        ("«http://example.com/guillemets»", ["http://example.com/guillemets"]),
        ("visit www.example.com/x!", ["www.example.com/x"]),
        ("WWW.EXAMPLE.COM", ["WWW.EXAMPLE.COM"]),
        ("**http://example.com/bold**", ["http://example.com/bold"]),
        ("&lt;http://example.com/e&gt;", ["http://example.com/e"]),
        ("http://[2001:db8::1]:8080/x", ["http://[2001:db8::1]:8080/x"]),
        (
            "two http://a.example.com and https://b.example.org/",
            ["http://a.example.com", "https://b.example.org/"],
        ),
        ("http://a.example.com/\u00a0next", ["http://a.example.com/"]),
    ],
)
def test_extract_shapes(text: str, expected: list[str]) -> None:
    """Brackets, quotes, Markdown, HTML attributes and typography around links are left out."""
    found = extract_urls(text)
    assert [f.url for f in found] == expected
    assert all(text[f.span[0] : f.span[1]] == f.url for f in found)


@pytest.mark.parametrize(
    "text",
    [
        "http://a..b/", "http://a-.com", "www.example", "awww.example.com",
        "http://a%20b.com/", "http://x.com:99999/", "ftp://example.com", "mailto:a@example.com",
        "http://[::1/", "example.com/no-scheme",
    ],
)  # fmt: skip
def test_extract_rejects(text: str) -> None:
    """Invalid hosts, bad ports, other schemes and bare domains are not reported."""
    assert extract_urls(text) == []


def test_found_url_is_frozen() -> None:
    """FoundURL is an immutable value."""
    found = FoundURL(url="http://a.example", span=(0, 16))
    with pytest.raises(AttributeError):
        found.url = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("www.Example.com/x", "http://www.example.com/x"),
        ("HTTP://EXAMPLE.COM", "http://example.com/"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("http://example.com/a/./b/../c", "http://example.com/a/c"),
        ("http://example.com/a#section", "http://example.com/a"),
        ("http://bücher.de/x", "http://xn--bcher-kva.de/x"),
        ("http://example.com/?utm_source=x&id=3&utm_medium=y&fbclid=z", "http://example.com/?id=3"),
        (
            "http://example.com/a?gclid=1&mc_cid=2&mc_eid=3&igshid=4&yclid=5&msclkid=6&_ga=7&ref_src=8",
            "http://example.com/a",
        ),
        ("http://example.com/a?b=1&amp;c=2", "http://example.com/a?b=1&c=2"),
        ("http://user:pw@example.com/", "http://user:pw@example.com/"),
    ],
)
def test_normalize(url: str, key: str) -> None:
    """The key lower-cases, IDNA-encodes, drops default ports, fragments and tracking params."""
    assert normalize_url(url) == key


@pytest.mark.parametrize("url", ["", "example.com", "ftp://example.com/", "javascript:x"])
def test_normalize_rejects_other_schemes(url: str) -> None:
    """Text that is not an http(s) URL raises UnsupportedURL rather than yielding a key."""
    with pytest.raises(UnsupportedURL):
        normalize_url(url)


@pytest.mark.parametrize("url", ["http://", "http://-x.com/", "HTTP://[]@", "https://xn--a/"])
def test_normalize_rejects_malformed(url: str) -> None:
    """An http(s) URL that does not parse raises InvalidURL (reason ``bad_url``), not UnsupportedURL."""
    with pytest.raises(InvalidURL) as caught:
        normalize_url(url)
    assert caught.value.reason == "bad_url"


_PIECES = st.sampled_from(
    [
        "http://", "https://", "HTTPS://", "www.", "example", ".com", ".", "-", "xn--", "ü", "✪", "@",
        ":", "8080", "/", "?", "#", "&amp;", "&", "=", "utm_source=x", "fbclid=1", "(", ")", "[", "]",
        "{", "}", '"', "'", "“", "”", "’", "»", "<", ">", " ", "\n", "\u00a0", ",", ";", "!", "..", "%",
        "%41", "[a](", "a_b", "*", "`", "\\", "｜",
    ]
)  # fmt: skip
_TEXT = st.one_of(st.text(), st.lists(st.one_of(_PIECES, st.text(max_size=3)), max_size=25).map("".join))
_BAD_END = re.compile(r"[.,;:!?]$")


def _unbalanced_closer(url: str) -> bool:
    depth = {")": 0, "]": 0, "}": 0}
    pairs = {"(": ")", "[": "]", "{": "}"}
    for ch in url:
        if ch in pairs:
            depth[pairs[ch]] += 1
        elif ch in depth:
            if depth[ch] == 0:
                return True
            depth[ch] -= 1
    return False


@settings(max_examples=400, deadline=None)
@given(_TEXT)
def test_extract_properties(text: str) -> None:
    """Any text: spans slice to URLs that start right, parse with a host and end cleanly."""
    for found in extract_urls(text):
        start, end = found.span
        assert 0 <= start < end <= len(text)
        assert text[start:end] == found.url
        assert found.url.lower().startswith(("http://", "https://", "www."))
        absolute = found.url if "://" in found.url[:8] else "http://" + found.url
        assert URL(absolute).host
        assert not _BAD_END.search(found.url)
        assert not _unbalanced_closer(found.url)
        key = normalize_url(found.url)
        assert normalize_url(key) == key


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_normalize_idempotent(text: str) -> None:
    """normalize_url either refuses a string or returns a fixed point of itself."""
    try:
        key = normalize_url(text)
    except (UnsupportedURL, InvalidURL):
        return
    assert normalize_url(key) == key
    assert key.startswith(("http://", "https://"))


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("http://127.0.0.1:18080/x", "1,0,0,127:18080)/x"),  # IPv4 octets reversed, as pywb keys them
        ("http://bücher.example/a/", "example,xn--bcher-kva)/a"),  # IDNA host, trailing slash trimmed
        ("http://xn--bcher-kva.example/a", "example,xn--bcher-kva)/a"),
        ("http://www1.example.com/p/", "com,example)/p"),  # www, www1, … dropped
        ("https://WWW.Example.com:443/A/?b=2&a=1#top", "com,example)/a?a=1&b=2"),
        ("http://example.com/a%2fb", "com,example)/a/b"),
        ("http://example.com:8080", "com,example:8080)/"),
        ("https://news.example/a?id=7&utm_source=feed", "example,news)/a?id=7&utm_source=feed"),
    ],
)
def test_surt_key_is_the_key_pywb_writes(url: str, key: str) -> None:
    """The evidence index keys a URL exactly as pywb and the Internet Archive do (the ``surt``
    package), so any CDXJ consumer finds our captures."""
    assert surt_key(url) == key


def test_lookup_keys_add_the_fetch_key() -> None:
    """A lookup tries the URL as written and its fetch key: tracking parameters and fragments do
    not make a stored page a different page."""
    plain = "https://news.example/a?id=7"
    assert lookup_keys(plain + "&utm_source=feed#comments") == (
        "example,news)/a?id=7&utm_source=feed",
        "example,news)/a?id=7",
    )
    assert lookup_keys(plain) == ("example,news)/a?id=7",)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://News.Example.COM:443/a/b?c=1#d", "https://news.example.com"),
        ("http://user:pw@h.example:8080/x", "http://h.example:8080"),
        ("http://[::1]:8080/x", "http://[::1]:8080"),
        ("https://bücher.example/x", "https://xn--bcher-kva.example"),
        ("/relative/path", None),
        ("ftp://h.example/x", None),
        ("http://[::1", None),
    ],
)
def test_url_origin_is_scheme_host_and_port_or_none(url: str, expected: str | None) -> None:
    """The origin keys the soft-404 probe: lower case, IDNA host, no default port or user info;
    None when there is no http(s) origin to probe."""
    assert url_origin(url) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see file:///etc/passwd.", ["file:///etc/passwd"]),
        ("gopher://example.com/1 and FTP://example.com/x", ["gopher://example.com/1", "FTP://example.com/x"]),
        ("data:text/plain;base64,SGVsbG8= here", ["data:text/plain;base64,SGVsbG8="]),
        ("javascript:alert(1)", ["javascript:alert(1)"]),
        ("http://x.com:99999/ and http://a..b/", ["http://x.com:99999/", "http://a..b/"]),
        ("javascript: is a language, data: too", []),
        ("xgopher://example.com/ is no link", []),
    ],
)
def test_extract_every_keeps_what_is_never_fetched(text: str, expected: list[str]) -> None:
    """With ``every``, links of other schemes and malformed http(s) links are found as written
    (a post cites them: the report must list them), while prose such as "javascript: is" is not;
    without it they are not found at all."""
    found = extract_urls(text, every=True)
    assert [f.url for f in found] == expected
    assert all(text[f.span[0] : f.span[1]] == f.url for f in found)
    assert extract_urls(text) == []


@pytest.mark.parametrize("after", list("。、，；：！？）」』】〉》〕〗〙〛〞｣､\u3000"))
def test_cjk_punctuation_ends_a_url(after: str) -> None:
    """In CJK text a link runs into the next character with no space: full-width and half-width
    punctuation right after it (``。``, ``、``, ``）``, ``」``…) is not part of it."""
    text = f"原文见https://example.com/news/2024{after}下一句"
    assert [f.url for f in extract_urls(text)] == ["https://example.com/news/2024"]


@pytest.mark.parametrize(
    "url",
    ["https://zh.wikipedia.org/wiki/中华人民共和国", "https://ja.wikipedia.org/wiki/東京都/区部",
     "https://ko.wikipedia.org/wiki/서울특별시", "https://example.com/検索?q=東京&lang=ja"],
)  # fmt: skip
def test_cjk_letters_in_a_path_are_kept(url: str) -> None:
    """CJK letters in a path or query belong to the URL, up to the punctuation that ends the
    sentence (``（见 url。）``)."""
    assert [f.url for f in extract_urls(f"（见{url}。）")] == [url]
    assert [f.url for f in extract_urls(f"「{url}」によると")] == [url]


_SCHEME_WORDS = [
    "http://", "HTTPS://", "www.", "WWW.", "ftp://", "ftps://", "sftp://", "gopher://", "ws://", "wss://",
    "telnet://", "ssh://", "smb://", "ldap://", "ldaps://", "dict://", "tftp://", "nntp://", "irc://",
    "rtsp://", "git://", "svn://", "file:/", "data:text/plain,", "data:,", "javascript:x", "vbscript:x",
    "ſftp://", "Kelvin", "İrc://", "ırc://", "a", "-", ".", "@", "/", " ", "\n", "é", "x.y", ":", "//",
]  # fmt: skip


@settings(max_examples=400)
@given(st.lists(st.sampled_from(_SCHEME_WORDS) | st.text(max_size=3), max_size=12))
def test_the_first_letter_look_ahead_finds_what_the_plain_patterns_find(pieces: list[str]) -> None:
    """The start patterns behind their first-letter look-ahead match where the plain ones do, in any
    case, case-folding letters (a long s, a dotted or dotless i) and neighbours included."""
    from service.pipeline import urls

    text = "".join(pieces)
    for fast, plain in (
        (urls._START_FAST_RE, urls._START_RE),
        (urls._EVERY_START_FAST_RE, urls._EVERY_START_RE),
    ):
        assert [m.span() for m in fast.finditer(text)] == [m.span() for m in plain.finditer(text)]
