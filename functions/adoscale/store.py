"""The queue table (C1): a paginated scan that never fails as a whole for one bad item.

Takes an injected DynamoDB client (low-level, so the same code runs against moto, the
local mode and AWS). Items convert through ``adoscale.attributes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from adoscale.attributes import from_attribute_map, to_attribute_map
from adoscale.exceptions import QueueConfigError
from adoscale.schema import Queue, parse_queue

TRANSACTION_LIMIT = 100


@dataclass(frozen=True)
class ScanResult:
    """Valid queues and, separately, the items that broke C1 (one error each)."""

    queues: list[Queue] = field(default_factory=list)
    errors: list[QueueConfigError] = field(default_factory=list)


class QueueStore:
    """Reads and writes queue items in one table."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._dynamodb = dynamodb
        self._table = table

    @property
    def table(self) -> str:
        return self._table

    def scan(self) -> ScanResult:
        """Every item, validated; a strongly consistent scan so a fresh put is seen at once."""
        result = ScanResult()
        paginator = self._dynamodb.get_paginator("scan")
        for page in paginator.paginate(TableName=self._table, ConsistentRead=True):
            for raw in page.get("Items", []):
                try:
                    result.queues.append(parse_queue(from_attribute_map(raw)))
                except QueueConfigError as error:
                    result.errors.append(error)
        result.queues.sort(key=lambda queue: queue.queue)
        return result

    def raw_items(self) -> list[dict[str, Any]]:
        """Every item as stored, valid or not (for export and repair)."""
        paginator = self._dynamodb.get_paginator("scan")
        items = [
            from_attribute_map(raw)
            for page in paginator.paginate(TableName=self._table, ConsistentRead=True)
            for raw in page.get("Items", [])
        ]
        return sorted(items, key=lambda item: str(item.get("queue", "")))

    def get(self, name: str) -> Queue | None:
        """The queue, None when absent; QueueConfigError when the stored item is invalid."""
        response = self._dynamodb.get_item(
            TableName=self._table, Key={"queue": {"S": name}}, ConsistentRead=True
        )
        raw = response.get("Item")
        return None if raw is None else parse_queue(from_attribute_map(raw))

    def put_all(self, queues: Sequence[Queue]) -> None:
        """Write every queue or none: one transaction per 100 items, undone on a later failure."""
        names = [queue.queue for queue in queues]
        if len(set(names)) != len(names):
            duplicates = sorted({name for name in names if names.count(name) > 1})
            raise QueueConfigError(None, {"queue": [f"given twice: {', '.join(duplicates)}"]})
        chunks = [
            list(queues[start : start + TRANSACTION_LIMIT])
            for start in range(0, len(queues), TRANSACTION_LIMIT)
        ]
        previous = (
            {queue.queue: self._raw(queue.queue) for queue in queues} if len(chunks) > 1 else {}
        )
        written: list[Queue] = []
        try:
            for chunk in chunks:
                self._dynamodb.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": self._table, "Item": to_attribute_map(q.to_item())}}
                        for q in chunk
                    ]
                )
                written.extend(chunk)
        except Exception:
            self._restore([q.queue for q in written], previous)
            raise

    def delete(self, name: str) -> bool:
        """True when an item was deleted, False when there was none."""
        response = self._dynamodb.delete_item(
            TableName=self._table, Key={"queue": {"S": name}}, ReturnValues="ALL_OLD"
        )
        return "Attributes" in response

    def _raw(self, name: str) -> dict[str, Any] | None:
        response = self._dynamodb.get_item(
            TableName=self._table, Key={"queue": {"S": name}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _restore(self, names: Sequence[str], previous: dict[str, dict[str, Any] | None]) -> None:
        for name in names:
            old = previous.get(name)
            if old is None:
                self._dynamodb.delete_item(TableName=self._table, Key={"queue": {"S": name}})
            else:
                self._dynamodb.put_item(TableName=self._table, Item=old)
