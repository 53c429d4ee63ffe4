"""The reference browser extension (``service/extension/``, package data) as downloads.

One manifest, written for Chromium (``background.service_worker``); Firefox's MV3 runs background
*scripts* instead (an event page) and wants an add-on id, so its variant is generated here rather
than kept as a second copy. Each archive is built once, in memory, with fixed timestamps (the same
bytes for the same files).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import zipfile
from enum import StrEnum
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from aiohttp import web

EXTENSION = resources.files("service") / "extension"
GECKO_ID = "provenance@provenance-verify"
FIREFOX_MIN_VERSION = "121.0"  # MV3 background scripts and host permissions as used here
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)


class Variant(StrEnum):
    """Which browser an archive is for."""

    CHROMIUM = "chromium"
    FIREFOX = "firefox"


def manifest() -> dict[str, Any]:
    """The extension's manifest as shipped (the Chromium one)."""
    data: dict[str, Any] = json.loads((EXTENSION / "manifest.json").read_text("utf-8"))
    return data


def firefox_manifest(chromium: dict[str, Any]) -> dict[str, Any]:
    """The Firefox variant: background scripts instead of a service worker, the gecko add-on id, no
    Chromium ``key`` (Firefox gives each installation its own ``moz-extension://`` origin)."""
    out = {k: v for k, v in chromium.items() if k not in {"key", "minimum_chrome_version"}}
    background = dict(chromium["background"])
    worker = background.pop("service_worker")
    out["background"] = {**background, "scripts": [worker]}
    out["browser_specific_settings"] = {"gecko": {"id": GECKO_ID, "strict_min_version": FIREFOX_MIN_VERSION}}
    return out


def extension_id(chromium: dict[str, Any]) -> str:
    """Chromium's id for the manifest's ``key``: the SHA-256 of the public key, its first 32 hex
    digits written with the letters a-p. The CORS origin is ``chrome-extension://<id>``."""
    digest = hashlib.sha256(base64.b64decode(chromium["key"])).hexdigest()[:32]
    return "".join(chr(ord("a") + int(c, 16)) for c in digest)


def _files(folder: Traversable, prefix: str = "") -> list[tuple[str, bytes]]:
    found: list[tuple[str, bytes]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        name = prefix + entry.name
        if entry.is_dir():
            found.extend(_files(entry, name + "/"))
        elif entry.is_file() and not entry.name.startswith("."):
            found.append((name, entry.read_bytes()))
    return found


@functools.cache
def archive(variant: Variant) -> bytes:
    """The extension folder as a zip (its manifest rewritten for Firefox when asked)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in _files(EXTENSION):
            if name == "manifest.json" and variant is Variant.FIREFOX:
                data = json.dumps(firefox_manifest(manifest()), indent=2, ensure_ascii=False).encode() + b"\n"
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buffer.getvalue()


def _download(variant: Variant, filename: str) -> web.Response:
    if not (EXTENSION / "manifest.json").is_file():
        raise web.HTTPNotFound(reason="the browser extension is not installed")
    return web.Response(
        body=archive(variant),
        content_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def chromium_zip(request: web.Request) -> web.Response:
    """GET /extension.zip: the extension for Chromium-based browsers (load it unpacked)."""
    return _download(Variant.CHROMIUM, "provenance-extension.zip")


async def firefox_zip(request: web.Request) -> web.Response:
    """GET /extension-firefox.zip: the same extension with Firefox's manifest."""
    return _download(Variant.FIREFOX, "provenance-extension-firefox.zip")
