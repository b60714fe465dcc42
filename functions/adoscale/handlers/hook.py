"""The service-hook endpoint (a Lambda function URL, payload format 2.0): a job that waits
for an agent means "poll its organisation now" (``adoscale.hook_poll``)."""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

from adoscale.hook_poll import HookService, hook_from_environment

logging.getLogger().setLevel(os.environ.get("ADOSCALE_LOG_LEVEL", "INFO"))


@functools.cache
def _service() -> HookService:
    """Settings, clients and credentials, once per container."""
    return hook_from_environment(os.environ)


def handler(event: Any, context: Any) -> dict[str, Any]:
    return _service().handle(event if isinstance(event, dict) else {})
