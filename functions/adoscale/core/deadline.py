"""The time left in the current Lambda invocation, as calls that must finish in it read it.

A plain object (no I/O), so every runtime keeps one and the handler points it at the
Lambda context at the start of each invocation.
"""

from __future__ import annotations

import time
from collections.abc import Callable

DEFAULT_BUDGET_SECONDS = 55.0


class Deadline:
    """Seconds left in the current invocation; the handler points it at the Lambda context."""

    def __init__(self, budget_seconds: float = DEFAULT_BUDGET_SECONDS) -> None:
        self._source: Callable[[], float] | None = None
        self._budget = budget_seconds
        self._started = time.monotonic()

    def reset(self, source: Callable[[], float] | None = None) -> None:
        self._source = source
        self._started = time.monotonic()

    def remaining(self) -> float:
        if self._source is not None:
            return self._source()
        return self._budget - (time.monotonic() - self._started)
