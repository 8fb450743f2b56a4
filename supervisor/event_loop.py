"""Runs a coroutine on uvloop where it is built, else on the standard asyncio loop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

try:
    import uvloop
except ImportError:  # uvloop has no build for some platforms; asyncio still works there
    uvloop = None


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on the fastest event loop available."""
    if uvloop is not None:
        return uvloop.run(main)
    return asyncio.run(main)
