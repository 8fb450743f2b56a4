"""How long the fuzz tests run: a bounded number of examples in CI, more on request
(``FUZZ_EXAMPLES=5000 pytest tests/... -k fuzz``)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings


def fuzz_examples(default: int) -> int:
    """``default`` examples, or ``FUZZ_EXAMPLES`` when set (a longer run)."""
    return int(os.environ.get("FUZZ_EXAMPLES") or default)


def fuzz_settings(default: int, **kwargs: object) -> settings:
    """Hypothesis settings for a fuzz test: no example database (runs do not depend on
    each other) and no health check about slow generation (real processes answer)."""
    return settings(
        max_examples=fuzz_examples(default),
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        **kwargs,  # type: ignore[arg-type]
    )
