"""The queue table: a paginated scan that never fails as a whole for one bad item.

Takes an injected DynamoDB client (low-level, so the same code runs against moto, the
local mode and AWS). Items convert through ``adoscale.core.attributes``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from adoscale.core.attributes import foreign_types, from_attribute_map, item_size, to_attribute_map
from adoscale.core.exceptions import PartialWriteError, QueueConfigError
from adoscale.core.schema import Queue, parse_queue

LOG = logging.getLogger(__name__)
TRANSACTION_LIMIT = 100  # items per TransactWriteItems call
TRANSACTION_BYTES = 4_000_000  # aggregate item size per call (DynamoDB's limit is 4 MB)
BATCH_GET_LIMIT = 100  # keys per BatchGetItem call
UNDO_ATTEMPTS = 3
UNDO_BACKOFF_SECONDS = 0.2


@dataclass(frozen=True)
class ScanResult:
    """Valid queues and, separately, the items that broke the queue item schema (one error each)."""

    queues: list[Queue] = field(default_factory=list)
    errors: list[QueueConfigError] = field(default_factory=list)


class QueueStore:
    """Reads and writes queue items in one table."""

    def __init__(
        self, dynamodb: Any, table: str, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._sleep = sleep

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
                    result.queues.append(parse_item(raw))
                except QueueConfigError as error:
                    result.errors.append(error)
        result.queues.sort(key=lambda queue: queue.queue)
        return result

    def raw_items(self) -> list[dict[str, Any]]:
        """Every item as stored, valid or not (for export and repair)."""
        return [from_attribute_map(raw) for raw in self.stored_items()]

    def stored_items(self) -> list[dict[str, Any]]:
        """Every item in DynamoDB's attribute form (``parse_item`` judges each), by name."""
        paginator = self._dynamodb.get_paginator("scan")
        items = [
            raw
            for page in paginator.paginate(TableName=self._table, ConsistentRead=True)
            for raw in page.get("Items", [])
        ]
        return sorted(items, key=lambda raw: str(raw.get("queue", {}).get("S", "")))

    def get(self, name: str) -> Queue | None:
        """The queue, None when absent; QueueConfigError when the stored item is invalid."""
        response = self._dynamodb.get_item(
            TableName=self._table, Key={"queue": {"S": name}}, ConsistentRead=True
        )
        raw = response.get("Item")
        return None if raw is None else parse_item(raw)

    def put_all(self, queues: Sequence[Queue]) -> None:
        """Write every queue or none: one transaction per 100 items, undone on a later failure."""
        names = [queue.queue for queue in queues]
        if len(set(names)) != len(names):
            duplicates = sorted({name for name in names if names.count(name) > 1})
            raise QueueConfigError(None, {"queue": [f"given twice: {', '.join(duplicates)}"]})
        chunks = transaction_chunks(queues)
        previous = self._current([q.queue for q in queues]) if len(chunks) > 1 else {}
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
        except Exception as error:
            left, undo_error = self._restore([q.queue for q in written], previous)
            if left:
                # an item left unrestored always comes with the error that stopped it
                raise PartialWriteError(error, undo_error or error, left) from error
            raise

    def delete(self, name: str) -> bool:
        """True when an item was deleted, False when there was none."""
        response = self._dynamodb.delete_item(
            TableName=self._table, Key={"queue": {"S": name}}, ReturnValues="ALL_OLD"
        )
        return "Attributes" in response

    def _current(self, names: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        """The stored items (None where absent), read 100 keys a call; keys DynamoDB
        leaves unprocessed (throttling) are asked for again."""
        found: dict[str, dict[str, Any] | None] = dict.fromkeys(names)
        for start in range(0, len(names), BATCH_GET_LIMIT):
            keys = [{"queue": {"S": name}} for name in names[start : start + BATCH_GET_LIMIT]]
            for _ in range(UNDO_ATTEMPTS):
                response = self._dynamodb.batch_get_item(
                    RequestItems={self._table: {"Keys": keys, "ConsistentRead": True}}
                )
                for item in response.get("Responses", {}).get(self._table, []):
                    found[item["queue"]["S"]] = item
                keys = response.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
                if not keys:
                    break
                self._sleep(UNDO_BACKOFF_SECONDS)
            for key in keys:  # still unprocessed: one at a time
                item = self._dynamodb.get_item(
                    TableName=self._table, Key=key, ConsistentRead=True
                ).get("Item")
                found[key["queue"]["S"]] = item
        return found

    def _restore(
        self, names: Sequence[str], previous: Mapping[str, dict[str, Any] | None]
    ) -> tuple[list[str], BaseException | None]:
        """Put every item back as it was, each retried; the names still not restored
        (all of them are tried, not only those before the first failure) and the last error."""
        left: list[str] = []
        last_error: BaseException | None = None
        for name in names:
            error = self._undo_one(name, previous.get(name))
            if error is not None:
                left.append(name)
                last_error = error
        return left, last_error

    def _undo_one(self, name: str, old: dict[str, Any] | None) -> BaseException | None:
        error: BaseException | None = None
        for attempt in range(UNDO_ATTEMPTS):
            if attempt:
                self._sleep(UNDO_BACKOFF_SECONDS * 2 ** (attempt - 1))
            try:
                if old is None:
                    self._dynamodb.delete_item(TableName=self._table, Key={"queue": {"S": name}})
                else:
                    self._dynamodb.put_item(TableName=self._table, Item=old)
            except Exception as caught:  # noqa: BLE001 - reported with the original error
                error = caught
                LOG.warning("undo of %s failed (attempt %d): %s", name, attempt + 1, caught)
                continue
            return None
        return error


def parse_item(raw: Mapping[str, Any]) -> Queue:
    """A stored item as a Queue; any item the table can hold that is not one is a
    QueueConfigError naming it (a binary or unknown attribute type included), never a crash."""
    foreign = foreign_types(raw)
    skipped = {path.split(".", 1)[0] for path in foreign}
    item = from_attribute_map(raw)
    name = item.get("queue")
    name = name if isinstance(name, str) else None
    try:
        queue = parse_queue({key: value for key, value in item.items() if key not in skipped})
    except QueueConfigError as error:
        if not foreign:
            raise
        kept = _without(error.errors, skipped)
        raise QueueConfigError(name, {**kept, **foreign}) from None
    except Exception as error:  # noqa: BLE001 - whatever the item holds, it is one bad item
        raise QueueConfigError(name, {"_item": [f"cannot be read: {error}"]}) from None
    if foreign:
        raise QueueConfigError(name, foreign)
    return queue


def _without(errors: Mapping[str, list[str]], skipped: set[str]) -> dict[str, list[str]]:
    """An attribute left out of parsing for its type is not also reported 'missing'."""
    return {f: messages for f, messages in errors.items() if f.split(".", 1)[0] not in skipped}


def transaction_chunks(queues: Sequence[Queue]) -> list[list[Queue]]:
    """Consecutive groups within both of DynamoDB's transaction limits (count and bytes)."""
    chunks: list[list[Queue]] = []
    size = 0
    for queue in queues:
        bytes_ = item_size(to_attribute_map(queue.to_item()))
        if not chunks or len(chunks[-1]) >= TRANSACTION_LIMIT or size + bytes_ > TRANSACTION_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(queue)
        size += bytes_
    return chunks
