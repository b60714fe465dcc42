"""The poller Lambda: cycles every ``ADOSCALE_POLL_INTERVAL_SECONDS`` within each scheduled
invocation and returns the poller result of the last cycle."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from adoscale.core.settings import POLLER_REQUIRED, load_settings
from adoscale.handlers import from_process_environment
from adoscale.poller.cycles import Cadence, run_cycles
from adoscale.poller.wiring import PollerRuntime, build_poller

logging.getLogger().setLevel(os.environ.get("ADOSCALE_LOG_LEVEL", "INFO"))


class PollerHandler:
    """The poller's entry point over one runtime (settings and clients, once per container)."""

    def __init__(self, runtime: PollerRuntime) -> None:
        self.runtime = runtime

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        runtime = self.runtime
        runtime.deadline.reset(_time_left(context))
        settings = runtime.settings
        cadence = Cadence(settings.poll_interval_seconds, settings.poll_quiet_interval_seconds)
        return run_cycles(runtime.poller, cadence, runtime.deadline.remaining, runtime.activity)


def make_handler(
    environ: Mapping[str, str],
    *,
    session: Any | None = None,
    clock: Callable[[], datetime] | None = None,
) -> PollerHandler:
    """The poller's handler over ``environ``; a bad variable raises ``ConfigError`` at once."""
    settings = load_settings(environ, POLLER_REQUIRED)
    return PollerHandler(build_poller(settings, session=session, clock=clock))


handler = from_process_environment(make_handler)


def _time_left(context: Any) -> Callable[[], float] | None:
    if context is None or not hasattr(context, "get_remaining_time_in_millis"):
        return None
    return lambda: context.get_remaining_time_in_millis() / 1000.0
