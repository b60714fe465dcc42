"""One scaling action per queue at a time: a lease item in the state table.

The poller's deterministic execution names stop a repeated poll from starting the same
action twice in one minute; the lease also stops a scale-in from overlapping a reap or a
second scale-out started a minute later while the first still runs. The item expires
(``expires_at``, the table's TTL attribute) so a crashed execution cannot wedge a queue:
the condition treats an expired lease as free even before DynamoDB's TTL deletes it.

A scale-out gives its lease back right after launching, so the item also remembers when
that launch ended (``last_launch_end``, epoch seconds): a scale-out decided before then
counted without those tasks and would launch the same agents again, so it cannot take
the lease. Released, the item keeps that record (and its TTL) without an owner; an item
with no record is deleted; no item means no launch to remember.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PREFIX = "lease#"
_NAMES = {"#owner": "owner", "#action": "action"}
_FREE = (
    "(attribute_not_exists(pk) OR attribute_not_exists(#owner) OR expires_at < :now"
    " OR #owner = :owner)"
)
_NOT_STALE = "(attribute_not_exists(last_launch_end) OR last_launch_end <= :decided)"


@dataclass(frozen=True)
class LeaseOutcome:
    """Whether ``owner`` holds the lease now; when not, who does and until when, and
    whether a launch ended after the decision (``stale``)."""

    acquired: bool
    holder: str | None
    expires_at: int
    stale: bool = False
    last_launch_end: float | None = None


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

    def acquire(
        self,
        queue: str,
        owner: str,
        seconds: int,
        action: str = "",
        *,
        decided_at: float | None = None,
    ) -> LeaseOutcome:
        """Take the lease when it is free, expired, or already ours (a retried first state),
        and, given ``decided_at`` (epoch seconds), no launch ended after that decision."""
        now = int(self._clock())
        expires_at = now + seconds
        values = {":now": {"N": str(now)}, ":owner": {"S": owner}}
        condition = _FREE
        if decided_at is not None:
            condition = f"{_FREE} AND {_NOT_STALE}"
            values[":decided"] = {"N": _epoch(decided_at)}
        try:
            self._dynamodb.update_item(  # an update, not a put: last_launch_end stays
                TableName=self._table,
                Key=lease_key(queue),
                UpdateExpression=(
                    "SET #owner = :owner, #action = :action, acquired_at = :now,"
                    " expires_at = :expires"
                ),
                ConditionExpression=condition,
                ExpressionAttributeNames=_NAMES,
                ExpressionAttributeValues={
                    **values,
                    ":action": {"S": action},
                    ":expires": {"N": str(expires_at)},
                },
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            item = self._item(queue)
            owner_now = item.get("owner", {}).get("S")
            ended = float(item["last_launch_end"]["N"]) if "last_launch_end" in item else None
            stale = decided_at is not None and ended is not None and ended > decided_at
            until = int(item.get("expires_at", {}).get("N", "0"))
            return LeaseOutcome(False, owner_now, until, stale, ended)
        return LeaseOutcome(True, owner, expires_at)

    def release(self, queue: str, owner: str, *, launch_ended: bool = False) -> bool:
        """Give the lease back if ``owner`` holds it; False when it is someone else's or gone.

        ``launch_ended``: the owner has just launched agents; now becomes ``last_launch_end``.
        """
        values = {":owner": {"S": owner}}
        failed = self._dynamodb.exceptions.ConditionalCheckFailedException
        try:
            if launch_ended:
                values[":end"] = {"N": _epoch(self._clock())}
                self._disown(queue, "SET last_launch_end = :end", values)
                return True
            try:
                self._dynamodb.delete_item(
                    TableName=self._table,
                    Key=lease_key(queue),
                    ConditionExpression="#owner = :owner AND attribute_not_exists(last_launch_end)",
                    ExpressionAttributeNames={"#owner": "owner"},
                    ExpressionAttributeValues=values,
                )
            except failed:
                self._disown(queue, "", values)  # ours but recording a launch: keep the record
        except failed:
            return False
        return True

    def _disown(self, queue: str, setting: str, values: dict[str, Any]) -> None:
        """Drop the owner (``#owner = :owner``), keeping ``last_launch_end`` and the TTL."""
        self._dynamodb.update_item(
            TableName=self._table,
            Key=lease_key(queue),
            UpdateExpression=f"{setting} REMOVE #owner, #action, acquired_at".strip(),
            ConditionExpression="#owner = :owner",
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues=values,
        )

    def _item(self, queue: str) -> dict[str, Any]:
        item: dict[str, Any] = self._dynamodb.get_item(
            TableName=self._table, Key=lease_key(queue), ConsistentRead=True
        ).get("Item", {})
        return item


def _epoch(seconds: float) -> str:
    return f"{seconds:.3f}"
