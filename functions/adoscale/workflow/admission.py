"""The first and last word of an execution: validate and lease, release, report a failure.

Validate re-reads the queue item (the poller's copy may be a minute old) and takes the
queue's lease; an execution that cannot get it ends as "skipped" and the poller decides
again on its next poll with fresh numbers. So does a scale-out decided (``requested_at``)
before the queue's last launch finished: its count did not include those tasks. Release
and the failure alert run on every path out, so neither may assume the input was valid.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from adoscale.aws.lease import QueueLease
from adoscale.aws.store import QueueStore
from adoscale.core.actions import Action
from adoscale.core.exceptions import WorkflowInputError
from adoscale.core.redact import Redactor
from adoscale.core.request import ScalingRequest
from adoscale.core.schema import QUEUE_NAME_PATTERN

MESSAGE_LIMIT = 1000
STALE = "stale: decided before the last launch finished"
_BASIC_AUTH = re.compile(r"(?i)(basic|bearer)\s+[A-Za-z0-9+/=._-]{8,}")


def validate(
    state: Mapping[str, Any],
    execution: str,
    store: QueueStore,
    lease: QueueLease,
    lease_seconds: int,
) -> dict[str, Any]:
    """``{"proceed", "reason", "queue", "lease"}``; bad input or a bad item raises."""
    request = ScalingRequest.from_input(state)
    decided_at = _decided_at(request.requested_at) if request.action == Action.SCALE_OUT else None
    queue = store.get(request.queue)
    if queue is None:
        return {"proceed": False, "reason": f"queue {request.queue} is not in the queue table"}
    outcome = lease.acquire(
        request.queue, execution, lease_seconds, request.action, decided_at=decided_at
    )
    if outcome.stale and outcome.last_launch_end is not None:
        ended = datetime.fromtimestamp(outcome.last_launch_end, UTC)
        return {"proceed": False, "reason": STALE, "last_launch_end": ended.isoformat()}
    if not outcome.acquired:
        return {
            "proceed": False,
            "reason": f"another execution holds the lease of {request.queue}",
            "holder": outcome.holder,
            "held_until": outcome.expires_at,
        }
    return {
        "proceed": True,
        "reason": None,
        "queue": queue.to_item(),
        "lease": {"owner": execution, "expires_at": outcome.expires_at},
    }


def release(state: Mapping[str, Any], execution: str, lease: QueueLease) -> dict[str, Any]:
    """Drop the lease if this execution holds it; anything else is a no-op.

    A scale_out holds the lease only up to its launch (its release comes right after
    Launch, or after Launch failed part way), so its release records the launch's end.
    """
    queue = queue_name(state)
    if queue is None:
        return {"released": False}
    launched = state.get("action") == Action.SCALE_OUT
    return {"released": lease.release(queue, execution, launch_ended=launched)}


def _decided_at(requested_at: str) -> float:
    """``requested_at`` (ISO 8601; UTC unless it says otherwise) as epoch seconds."""
    try:
        when = datetime.fromisoformat(requested_at)
    except ValueError as error:
        raise WorkflowInputError(
            f"requested_at: not an ISO 8601 time: {requested_at[:40]!r}"
        ) from error
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def queue_name(state: Mapping[str, Any]) -> str | None:
    """The execution's queue when the input names a valid one (it may not: see validate)."""
    name = state.get("queue")
    if isinstance(name, str) and re.fullmatch(QUEUE_NAME_PATTERN, name):
        return name
    return None


def failure_alert(
    state: Mapping[str, Any], execution: str, secrets: Iterable[str]
) -> tuple[str | None, str, dict[str, Any]]:
    """(queue, message, detail) of the ``workflow_failed`` alert for a caught error.

    Lambda errors arrive with a JSON ``Cause`` (errorType, errorMessage, stackTrace): only
    the type and message are kept, scrubbed of every known PAT and of anything that looks
    like an Authorization header value.
    """
    redactor = Redactor(secrets)
    found = state.get("error")
    error: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    name = str(error.get("Error") or "Unknown")
    cause = _cause_text(error.get("Cause"))

    def scrub(text: str) -> str:
        return _BASIC_AUTH.sub(r"\1 ***", redactor.text(text))

    queue = queue_name(state)
    action = state.get("action") if isinstance(state.get("action"), str) else "unknown"
    message = scrub(f"{action} failed: {name}: {cause}")[:MESSAGE_LIMIT]
    detail = {
        "execution": execution,
        "action": action,
        "error": scrub(name),
        "cause": scrub(cause)[:MESSAGE_LIMIT],
    }
    return queue, message, detail


def _cause_text(cause: Any) -> str:
    if not isinstance(cause, str):
        return ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(parsed, Mapping):
        message = parsed.get("errorMessage")
        if isinstance(message, str):
            return message
    return cause
