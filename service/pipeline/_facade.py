"""Lazy package facades (PEP 562): a name's module is imported when the name is first used.

Written here rather than taken from a library (``lazy_loader`` resolves names from stub files, which
would be a second list to keep in step): each facade keeps one table of where its names live, and
its ``TYPE_CHECKING`` imports give type checkers the same names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``where[name]`` on first use."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__
