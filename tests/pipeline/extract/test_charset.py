"""The encoding a page declares: what the pool keys its cache by, read without lxml."""

from __future__ import annotations

import codecs

import pytest

from service.pipeline.extract.charset import codec_of, declared_encoding


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (codecs.BOM_UTF8 + b"<meta charset=koi8-r>", "text/html; charset=latin-1", "utf-8"),
        (b"<meta charset=koi8-r>", "text/html; charset=latin-1", "cp1252"),
        (b"<meta charset='koi8-r'>", "text/html", "koi8-r"),
        (b"<?xml version='1.0' encoding='shift_jis'?><html/>", None, "cp932"),
        (b"<html></html>", "text/html; charset=nonsense", None),
    ],
)
def test_the_bom_then_the_header_then_the_markup_declare_it(
    body: bytes, content_type: str | None, expected: str | None
) -> None:
    """BOM over HTTP charset over ``<meta>``/XML prolog, labels read as browsers read them."""
    assert declared_encoding(body, content_type) == expected


@pytest.mark.parametrize("label", ["base64", "rot13", "idna", "utf-7", "", None])
def test_labels_that_name_no_web_charset_are_refused(label: str | None) -> None:
    """Python's bytes-to-bytes and internal codecs are no page's charset."""
    assert codec_of(label) is None


def test_a_utf16_label_in_ascii_markup_means_utf8() -> None:
    """A byte stream cannot declare UTF-16 in ASCII: browsers read it as UTF-8."""
    assert codec_of("UTF-16") == "utf-8"
