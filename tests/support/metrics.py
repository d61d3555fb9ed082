"""This process's Prometheus samples, as a scrape would read them (in-process tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import REGISTRY

from identity import metrics

# What a test reads: its name for a sample -> (metric sample name, labels).
Wanted = dict[str, tuple[str, dict[str, str]]]


def samples(wanted: Wanted) -> dict[str, float]:
    """Return the value of each sample of ``wanted`` (0 when it was never set)."""
    metrics.tally.flush()  # as a scrape does
    return {key: REGISTRY.get_sample_value(name, labels) or 0.0 for key, (name, labels) in wanted.items()}


def added(wanted: Wanted, action: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    """Run ``action()``; return what it returned and what it added to each sample of ``wanted``."""
    before = samples(wanted)
    result = action()
    after = samples(wanted)
    return result, {key: after[key] - before[key] for key in after}
