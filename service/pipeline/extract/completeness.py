"""Whether a parsed page holds all of its text (issue 13: "extraction incomplete").

libxml2 stops reading a document that nests more than 255 elements deep (``ERR_RESOURCE_LIMIT``,
"Excessive depth in document"): everything from that point on, the deepest text and every later
sibling, is missing from the tree, with no exception raised. The extractor also cuts HTML at
``max_html_bytes``. Either way a quote missing from the page's text says nothing about the page, so
the source is read as *incomplete* (``SourceReason.EXTRACTION_INCOMPLETE``) rather than as a page
that lacks the quote. PURE: looks at the tree and the bytes it was parsed from, nothing else.
"""

from __future__ import annotations

from lxml import etree, html

# libxml2's limits on what it will build (depth, text node size, dictionary size, memory): each
# ends the parse early, and lxml only logs it.
_LIMIT_ERRORS = frozenset({etree.ErrorTypes.ERR_RESOURCE_LIMIT, etree.ErrorTypes.ERR_NO_MEMORY})
_UTF8_TAIL = 3  # parse_html drops at most a cut character's 3 leading bytes after the cut


def hit_parser_limit(root: html.HtmlElement) -> bool:
    """True when libxml2 logged a resource limit while it built ``root``'s document."""
    parser = root.getroottree().parser
    if parser is None:  # a tree built by hand: nothing was cut
        return False
    return any(entry.type in _LIMIT_ERRORS for entry in parser.error_log)


def was_cut(text: str, data: bytes, max_html_bytes: int) -> bool:
    """True when ``parse_html`` cut the page at the size cap: ``text`` is the decoded page it was
    given, ``data`` the bytes it parsed.

    It cuts the text at ``max_html_bytes`` characters, cleans it, then cuts its UTF-8 at
    ``max_html_bytes`` bytes (dropping a split character). A page whose cleaned HTML comes within
    3 bytes of the cap counts as cut too: the cap leaves no mark of its own, and calling a whole
    page incomplete only spares the quotes missing from it a flag.
    """
    return len(text) > max_html_bytes or len(data) + _UTF8_TAIL >= max_html_bytes


def extraction_incomplete(root: html.HtmlElement | None, text: str, data: bytes, max_html_bytes: int) -> bool:
    """Whether the text read from ``root`` may lack part of the page: a parser limit or the size cap."""
    if was_cut(text, data, max_html_bytes):
        return True
    return root is not None and hit_parser_limit(root)
