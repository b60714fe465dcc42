"""Faults of the stack's own AWS resources (the queue table, the state table, the alert
topic): one name per resource and failure, so the poller result, the alert and the log
say the same thing, and one table of which error codes mean which failure.

No I/O and no botocore import: errors are read through their ``response`` attribute, the
shape botocore's ``ClientError`` has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

QUEUE_TABLE = "queue_table"
STATE_TABLE = "state_table"
ALERT_TOPIC = "alert_topic"

MISSING = "missing"
THROTTLED = "throttled"
UNAVAILABLE = "unavailable"

_MISSING_CODES = frozenset({"ResourceNotFoundException", "NotFound", "NotFoundException"})
_THROTTLED_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "Throttled",
    }
)
# Every kind this module can produce, for the docs and the tests.
KINDS = tuple(
    f"{resource}_{failure}"
    for resource in (QUEUE_TABLE, STATE_TABLE, ALERT_TOPIC)
    for failure in (MISSING, THROTTLED, UNAVAILABLE)
)


@dataclass(frozen=True)
class Fault:
    """One failure of one of the stack's resources, e.g. ``queue_table_throttled``."""

    resource: str
    failure: str
    message: str

    @property
    def kind(self) -> str:
        return f"{self.resource}_{self.failure}"


def error_code(error: BaseException) -> str:
    response: Any = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def failure_of(error: BaseException) -> str:
    """missing, throttled, or unavailable (unreachable, denied, 5xx, anything else)."""
    code = error_code(error)
    if code in _MISSING_CODES:
        return MISSING
    if code in _THROTTLED_CODES:
        return THROTTLED
    return UNAVAILABLE


def fault(resource: str, doing: str, error: BaseException) -> Fault:
    """``doing`` says what failed in the operator's words ("reading the queue table x")."""
    failure = failure_of(error)
    cause = {MISSING: "it does not exist", THROTTLED: "throttled"}.get(failure, "unavailable")
    detail = str(error).strip() or type(error).__name__
    return Fault(resource, failure, f"{doing} failed ({cause}): {detail}")


T = TypeVar("T")


class LastGood(Generic[T]):
    """The last value read successfully, for a warm container to carry on through a short
    outage of its source; never older than ``max_age``, and never when the source is
    gone for good (a missing table is a deployment fault, not a blip)."""

    def __init__(self, max_age: timedelta) -> None:
        self._max_age = max_age
        self._value: T | None = None
        self._read_at: datetime | None = None

    def remember(self, value: T, now: datetime) -> None:
        self._value, self._read_at = value, now

    def fallback(self, failure: Fault, now: datetime) -> tuple[T, datetime] | None:
        if failure.failure == MISSING or self._value is None or self._read_at is None:
            return None
        if now - self._read_at > self._max_age:
            return None
        return self._value, self._read_at
