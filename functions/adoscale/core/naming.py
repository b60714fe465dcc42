"""Names shared by the poller, the workflow and the agent image, kept in one place.

Agent names carry their queue so that an offline agent whose task is long gone can still
be traced back to the queue that launched it.
"""

from __future__ import annotations

import functools
import re
import secrets
from datetime import datetime

AGENT_PREFIX = "adoscale-"
PLACEHOLDER_PREFIX = "adoscale-placeholder-"
SUFFIX_LENGTH = 12
QUEUE_TAG = "adoscale:queue"
AGENT_TAG = "adoscale:agent"
PLACEHOLDER_TAG = "adoscale:placeholder"
_SUFFIX = re.compile(rf"-[0-9a-f]{{{SUFFIX_LENGTH}}}$")


def new_agent_name(queue: str) -> str:
    return f"{AGENT_PREFIX}{queue}-{secrets.token_hex(SUFFIX_LENGTH // 2)}"


def placeholder_name(queue: str) -> str:
    return f"{PLACEHOLDER_PREFIX}{queue}"


@functools.lru_cache(maxsize=65536)
def is_agent_of(name: str, queue: str) -> bool:
    """An agent adoscale launched for ``queue`` (the placeholder is not one of them)."""
    prefix = f"{AGENT_PREFIX}{queue}"
    return (
        name.startswith(prefix)
        and not name.startswith(PLACEHOLDER_PREFIX)
        and _SUFFIX.fullmatch(name[len(prefix) :]) is not None
    )


def is_placeholder_of(name: str, queue: str) -> bool:
    return name == placeholder_name(queue)


def poll_slot(when: datetime, interval_seconds: int) -> datetime:
    """The start of the poll interval ``when`` falls in (UTC epoch-aligned)."""
    epoch = int(when.timestamp())
    return datetime.fromtimestamp(epoch - epoch % interval_seconds, when.tzinfo)


def execution_name(queue: str, action: str, slot: datetime) -> str:
    """Deterministic per (queue, action, poll slot): a repeated or concurrent poll in the
    same slot cannot start a second execution."""
    return f"{queue}-{action}-{slot:%Y%m%dT%H%M%S}"


_EXECUTION = re.compile(r"^(?P<queue>.+)-(?P<action>scale_out|scale_in|reap)-\d{8}T\d{6}$")


def parse_execution_name(name: str) -> tuple[str, str] | None:
    """(queue, action) of a name ``execution_name`` made; None for any other name."""
    match = _EXECUTION.match(name)
    return (match["queue"], match["action"]) if match else None
