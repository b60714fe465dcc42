"""The poller Lambda (C4): cycles every ``ADOSCALE_POLL_INTERVAL_SECONDS`` within each
scheduled invocation."""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

from adoscale.cycles import Cadence, run_cycles
from adoscale.runtime import PollerRuntime, poller_from_environment

logging.getLogger().setLevel(os.environ.get("ADOSCALE_LOG_LEVEL", "INFO"))


@functools.cache
def _runtime() -> PollerRuntime:
    """Settings and clients, once per container; a bad variable fails the first invocation."""
    return poller_from_environment(os.environ)


def handler(event: Any, context: Any) -> dict[str, Any]:
    runtime = _runtime()
    runtime.deadline.reset(_time_left(context))
    settings = runtime.settings
    cadence = Cadence(settings.poll_interval_seconds, settings.poll_quiet_interval_seconds)
    return run_cycles(runtime.poller, cadence, runtime.deadline.remaining, runtime.activity)


def _time_left(context: Any) -> Any:
    if context is None or not hasattr(context, "get_remaining_time_in_millis"):
        return None
    return lambda: context.get_remaining_time_in_millis() / 1000.0
