"""The browser extension's files read as text (no browser), its Firefox variant, and its downloads.

A valid Manifest V3 with the fewest permissions; nothing loaded from elsewhere and no string turned
into code (the default extension CSP stays in force); the Firefox manifest generated from the one
kept; ``/extension.zip`` and ``/extension-firefox.zip`` carry exactly the package folder.
"""

from __future__ import annotations

import io
import json
import re
import tomllib
import zipfile
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from service.api.extension import EXTENSION, GECKO_ID, extension_id, firefox_manifest, manifest
from service.api.openapi import document
from tests.api.test_static import Tags

ROOT = Path(__file__).resolve().parents[2]
FOLDER = Path(str(EXTENSION))
SCRIPTS = sorted(FOLDER.glob("*.js"))
PAGES = sorted(FOLDER.glob("*.html"))
FILES = sorted(p.name for p in FOLDER.iterdir() if p.is_file())
CONTENT_JS = (FOLDER / "content.js").read_bytes()
LOOPBACK = {"http://127.0.0.1/*", "http://localhost/*"}
EXPECTED_ID = "lledhichfenpcijaiocjaleajamkilgm"

Client = TestClient[Any, Any]


def test_manifest_is_mv3_with_the_fewest_permissions() -> None:
    """manifest_version 3, a service worker that exists, only contextMenus/storage/activeTab/scripting,
    host permissions for the local API's loopback origin alone (any other API origin is optional and
    asked for), no <all_urls>, no declared content scripts, nothing exposed to pages or other
    extensions, and the default CSP (no content_security_policy key)."""
    data = manifest()
    assert data["manifest_version"] == 3
    assert set(data["background"]) == {"service_worker"}
    assert (FOLDER / data["background"]["service_worker"]).is_file()
    assert set(data["permissions"]) <= {"contextMenus", "storage", "activeTab", "scripting"}
    assert {"activeTab", "contextMenus", "scripting", "storage"} == set(data["permissions"])
    assert set(data["host_permissions"]) == LOOPBACK
    assert set(data["optional_host_permissions"]) == {"http://*/*", "https://*/*"}
    text = json.dumps(data)
    assert "<all_urls>" not in text
    assert "*://*/*" not in text
    for absent in ("content_scripts", "content_security_policy", "web_accessible_resources",
                   "externally_connectable", "update_url"):  # fmt: skip
        assert absent not in data, absent
    assert (FOLDER / data["options_ui"]["page"]).is_file()
    assert set(data["commands"]) == {"check-post", "check-quote"}


def test_every_file_the_scripts_name_is_in_the_folder() -> None:
    """The files the background script injects (scripting.executeScript / insertCSS) exist."""
    background = (FOLDER / "background.js").read_text("utf-8")
    named = re.findall(r'"([\w-]+\.(?:js|css))"', background)
    assert {"legend.js", "content.js", "content.css"} <= set(named)
    assert [n for n in named if not (FOLDER / n).is_file()] == []


def test_pages_load_only_their_own_files() -> None:
    """The options page has no inline script, style or handler; every script and stylesheet is a file
    of the folder (never an http(s) address)."""
    assert PAGES
    for page in PAGES:
        parser = Tags()
        parser.feed(page.read_text("utf-8"))
        assert parser.inline == []
        for tag, attrs in parser.tags:
            assert not [a for a in attrs if a.startswith("on") or a == "style"], (page.name, tag, attrs)
            ref = attrs.get("src") or (attrs.get("href") if tag == "link" else None)
            if ref is not None:
                assert not re.match(r"[a-z]+:|//", ref), ref
                assert (FOLDER / ref).is_file(), ref


def test_no_script_loads_remote_code_or_makes_code_from_strings() -> None:
    """No import, importScripts or dynamic import; no eval, Function or string timers; no markup from
    strings; the only address written in a script is the default local API."""
    banned = re.compile(
        r"\beval\s*\(|\bFunction\s*\(|\bimportScripts\s*\(|\bimport\s*\(|^\s*import\s|\bfrom\s+[\"']"
        r"|set(?:Timeout|Interval)\s*\(\s*[\"'`]|innerHTML|outerHTML\s*=|insertAdjacentHTML|document\.write",
        re.MULTILINE,
    )
    assert SCRIPTS
    for script in SCRIPTS:
        source = script.read_text("utf-8")
        assert banned.findall(source) == [], script.name
        addresses = set(re.findall(r"https?://[^\s\"'`)]+", source))
        assert addresses <= {"http://127.0.0.1:8080"}, (script.name, addresses)


def test_every_status_group_has_its_underline() -> None:
    """Each group of the legend has a rule in the page stylesheet the extension inserts."""
    legend = (FOLDER / "legend.js").read_text("utf-8")
    block = legend.split("groups: Object.freeze({", 1)[1].split("}),", 1)[0]
    groups = re.findall(r"^\s{4}(\w+): \{", block, re.MULTILINE)
    assert len(groups) == 7
    css = (FOLDER / "content.css").read_text("utf-8")
    assert [g for g in groups if f'[data-provenance-group="{g}"]' not in css] == []


def test_firefox_manifest_runs_background_scripts_with_a_gecko_id() -> None:
    """The Firefox variant: background.scripts (the same file) instead of a service worker, the add-on
    id and minimum version, no Chromium key; every other key as kept."""
    chromium = manifest()
    firefox = firefox_manifest(chromium)
    assert firefox["background"] == {"scripts": [chromium["background"]["service_worker"]]}
    assert firefox["browser_specific_settings"]["gecko"] == {"id": GECKO_ID, "strict_min_version": "121.0"}
    assert "key" not in firefox
    assert "minimum_chrome_version" not in firefox
    same = set(chromium) - {"background", "key", "minimum_chrome_version"}
    assert {k: firefox[k] for k in same} == {k: chromium[k] for k in same}
    assert firefox["manifest_version"] == 3


def test_the_extension_id_follows_from_the_key() -> None:
    """Chromium's id for the manifest's key, the one README gives for ``--cors-origin``."""
    assert extension_id(manifest()) == EXPECTED_ID
    assert f"chrome-extension://{EXPECTED_ID}" in (ROOT / "README.md").read_text("utf-8")


def test_the_folder_is_package_data() -> None:
    """pyproject ships service/extension/ with the package, so a non-editable install serves it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    assert {"extension/*", "extension/**/*"} <= set(config["tool"]["setuptools"]["package-data"]["service"])


async def test_downloads_are_the_folder_zipped(client: Client) -> None:
    """/extension.zip is the folder as it is; /extension-firefox.zip the same with Firefox's manifest;
    both attachments of type application/zip, documented in the OpenAPI document."""
    for path, variant in (
        ("/extension.zip", manifest()),
        ("/extension-firefox.zip", firefox_manifest(manifest())),
    ):
        response = await client.get(path)
        assert response.status == 200
        assert response.content_type == "application/zip"
        assert response.headers["Content-Disposition"].startswith("attachment; filename=")
        archive = zipfile.ZipFile(io.BytesIO(await response.read()))
        assert sorted(archive.namelist()) == FILES
        assert json.loads(archive.read("manifest.json")) == variant
        assert archive.read("content.js") == CONTENT_JS
        assert path in document()["paths"]
