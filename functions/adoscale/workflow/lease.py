"""One scaling action per queue at a time: a lease item in the state table.

The poller's deterministic execution names stop a repeated poll from starting the same
action twice in one minute; the lease also stops a scale-in from overlapping a reap or a
second scale-out started a minute later while the first still runs. The item expires
(``expires_at``, the table's TTL attribute) so a crashed execution cannot wedge a queue:
the condition treats an expired lease as free even before DynamoDB's TTL deletes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PREFIX = "lease#"


@dataclass(frozen=True)
class LeaseOutcome:
    """Whether ``owner`` holds the lease now; when not, who does and until when."""

    acquired: bool
    holder: str | None
    expires_at: int


def lease_key(queue: str) -> dict[str, Any]:
    return {"pk": {"S": f"{PREFIX}{queue}"}}


class QueueLease:
    """Conditional writes on ``lease#<queue>``: acquire, re-acquire by the same owner, release."""

    def __init__(
        self, dynamodb: Any, table: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._clock = clock

    def acquire(self, queue: str, owner: str, seconds: int, action: str = "") -> LeaseOutcome:
        """Take the lease when it is free, expired, or already ours (a retried first state)."""
        now = int(self._clock())
        expires_at = now + seconds
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item={
                    **lease_key(queue),
                    "owner": {"S": owner},
                    "action": {"S": action},
                    "acquired_at": {"N": str(now)},
                    "expires_at": {"N": str(expires_at)},
                },
                ConditionExpression=(
                    "attribute_not_exists(pk) OR expires_at < :now OR #owner = :owner"
                ),
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":now": {"N": str(now)}, ":owner": {"S": owner}},
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            holder, until = self._holder(queue)
            return LeaseOutcome(False, holder, until)
        return LeaseOutcome(True, owner, expires_at)

    def release(self, queue: str, owner: str) -> bool:
        """Delete the lease if ``owner`` holds it; False when it is someone else's or gone."""
        try:
            self._dynamodb.delete_item(
                TableName=self._table,
                Key=lease_key(queue),
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _holder(self, queue: str) -> tuple[str | None, int]:
        item = self._dynamodb.get_item(
            TableName=self._table, Key=lease_key(queue), ConsistentRead=True
        ).get("Item", {})
        owner = item.get("owner", {}).get("S")
        return owner, int(item.get("expires_at", {}).get("N", "0"))
