"""The facades (service/pipeline/_facade.py): every exported name resolves, lazily."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

FACADES = [
    "service.pipeline",
    "service.pipeline.posts",
    "service.pipeline.fetch",
    "service.pipeline.extract",
    "service.pipeline.align",
    "service.pipeline.judge",
    "service.pipeline.evidence",
    "service.pipeline.report",
]


@pytest.mark.parametrize("name", FACADES)
def test_every_exported_name_is_the_object_of_its_module(name: str) -> None:
    """``__all__`` and the facade's table agree, and each name is the very object its module defines."""
    facade = importlib.import_module(name)
    where: dict[str, str] = facade._WHERE
    assert set(facade.__all__) == set(where)
    for exported, module in where.items():
        assert getattr(facade, exported) is getattr(importlib.import_module(module), exported)
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = facade.nothing_here


def test_importing_the_facades_loads_no_client_stack() -> None:
    """Importing every facade (as the CLI and a worker do) loads neither aiohttp nor trafilatura:
    they come only with the first live fetch or the first extraction."""
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in FACADES)
        + "from service.pipeline import parse_post, run_batch, verify_post\n"
        + "print(sorted(m for m in ('aiohttp', 'trafilatura', 'redis') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
