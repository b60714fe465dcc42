"""The service-hook endpoint (a Lambda function URL, payload format 2.0): a job that waits
for an agent means "poll its organisation now" (``adoscale.poller.hook``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from adoscale.core.settings import load_settings
from adoscale.handlers import from_process_environment
from adoscale.poller.hook import HOOK_REQUIRED, HookService, build_hook_service

logging.getLogger().setLevel(os.environ.get("ADOSCALE_LOG_LEVEL", "INFO"))


class HookHandler:
    """The hook's entry point over one service (settings, clients, credentials, debounce)."""

    def __init__(self, service: HookService) -> None:
        self.service = service

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        return self.service.handle(event if isinstance(event, dict) else {})


def make_handler(
    environ: Mapping[str, str],
    *,
    session: Any | None = None,
    poller_clock: Callable[[], Any] | None = None,
) -> HookHandler:
    """The hook's handler over ``environ``; a bad variable raises ``ConfigError`` at once."""
    settings = load_settings(environ, HOOK_REQUIRED)
    return HookHandler(build_hook_service(settings, session=session, poller_clock=poller_clock))


handler = from_process_environment(make_handler)
