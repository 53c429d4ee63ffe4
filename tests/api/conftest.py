"""The API on a loopback port, answering every URL from the seed WARC (nothing leaves the machine)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from service.api.app import create_app
from service.settings import ApiSettings, ExtractSettings, HttpSettings, Settings

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "tests" / "data" / "seed"
SEED_POST = (SEED / "post.txt").read_text("utf-8")
SEED_POSTED_AT = "2023-12-10T14:23:38Z"
TOI = "https://www.timesofisrael.com/in-call-netanyahu-flogs-putin-over-gaza-war-stance-and-blossoming-iran-ties/"
TOI_SENTENCE = (
    "Prime Minister Benjamin Netanyahu spoke with Russian leader Vladimir Putin for nearly an hour Sunday, "
    "criticizing Moscow’s alliance with Iran and expressing dissatisfaction with its stance on Israel’s war "
    "with Hamas."
)

MakeClient = Callable[..., Any]


def seed_settings(tmp_path: Path, **api: Any) -> Settings:
    """Replay of the seed WARC, no evidence written, one extraction worker, the API as asked."""
    return Settings(
        replay=(SEED / "seed.warc.gz",),
        archive=frozenset(),
        data_dir=tmp_path / "data",
        http=HttpSettings(probe_soft_404=False),
        extract=ExtractSettings(workers=1),
        api=replace(ApiSettings(), **api),
    )


@pytest.fixture
async def make_client(tmp_path: Path) -> AsyncIterator[MakeClient]:
    """Start apps with the given API settings; every one is closed after the test."""
    clients: list[TestClient[Any, Any]] = []

    async def make(**api: Any) -> TestClient[Any, Any]:
        client = TestClient(TestServer(create_app(seed_settings(tmp_path, **api)), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def client(make_client: MakeClient) -> TestClient[Any, Any]:
    """The API with its defaults (open: it listens on loopback)."""
    made: TestClient[Any, Any] = await make_client()
    return made
