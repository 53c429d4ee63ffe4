"""What a page declares its encoding to be (BOM, HTTP charset, ``<meta>``, XML prolog).

Apart from ``page_text`` because the parent process needs it too (the extraction cache is keyed
by the declared charset) and must not load lxml or charset detection for that: only the
extraction workers read pages.
"""

from __future__ import annotations

import codecs
import re

__all__ = ["codec_of", "declared_encoding"]

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Labels browsers read as a wider encoding (WHATWG Encoding): pages labelled latin-1 routinely
# carry windows-1252 quotes and dashes in 0x80-0x9F.
_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc-kr": "cp949",
    "tis-620": "cp874",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
}
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([A-Za-z0-9_:.+-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_:.+-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9_:.+-]+)", re.IGNORECASE)
_PRESCAN_BYTES = 8192
_NOT_WEB_CODECS = frozenset(
    {"idna", "punycode", "undefined", "unicode-escape", "raw-unicode-escape", "utf-7", "mbcs", "oem"}
)


def codec_of(label: str | None) -> str | None:
    """The Python codec for a charset label, or None if the label names nothing usable."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = _ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    # Python's bytes-to-bytes codecs (base64, zlib, rot13...) and its own text ones (idna,
    # unicode-escape...) are no web charset: decoding by them raises or mangles the page.
    if not info._is_text_encoding or info.name in _NOT_WEB_CODECS:
        return None
    # A byte stream can't declare UTF-16/32 in ASCII; browsers read such labels as UTF-8.
    if info.name.startswith(("utf-16", "utf-32")):
        return "utf-8"
    return info.name


def declared_encoding(body: bytes, content_type: str | None) -> str | None:
    """The page's own statement of its encoding: BOM, then HTTP charset, then ``<meta>``/XML prolog.

    The BOM wins over the header, as in browsers (WHATWG "decode").
    """
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    if content_type:
        match = _HEADER_CHARSET.search(content_type)
        codec = codec_of(match.group(1)) if match else None
        if codec:
            return codec
    head = body[:_PRESCAN_BYTES]
    for pattern in (_META_CHARSET, _XML_ENCODING):
        found = pattern.search(head)
        codec = codec_of(found.group(1).decode("ascii")) if found else None
        if codec:
            return codec
    return None
