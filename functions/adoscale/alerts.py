"""Contract C5: alerts to SNS, deduplicated per (kind, queue) across cold starts.

Dedupe marks live in the state table with a TTL so a broken PAT pages the operator once
per window, not once a minute, and a cold start does not forget it already paged.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from adoscale.redact import Redactor

LOG = logging.getLogger(__name__)
SOURCE = "adoscale"
STACK_SCOPE = "-"  # the "queue" of alerts that concern the whole stack


class DedupeStore:
    """Claims a (kind, queue) mark in the state table for a window; conditional writes only."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._dynamodb = dynamodb
        self._table = table

    def claim(self, key: str, window_seconds: int, now: float) -> bool:
        """True when nobody holds an unexpired mark for ``key``; the mark is then ours."""
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": f"alert#{key}"},
                    "expires_at": {"N": str(int(now + window_seconds))},
                },
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                ExpressionAttributeValues={":now": {"N": str(int(now))}},
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def release(self, key: str) -> None:
        self._dynamodb.delete_item(TableName=self._table, Key={"pk": {"S": f"alert#{key}"}})


def alert_body(
    kind: str, queue: str | None, message: str, detail: Mapping[str, Any] | None, when: datetime
) -> dict[str, Any]:
    return {
        "source": SOURCE,
        "kind": kind,
        "queue": queue or STACK_SCOPE,
        "message": message,
        "detail": dict(detail or {}),
        "time": when.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }


class Alerter:
    """Publishes C5 alerts; never raises, because an alert must not stop a poll."""

    def __init__(
        self,
        sns: Any,
        topic_arn: str,
        dedupe: DedupeStore | None = None,
        *,
        window_seconds: int = 900,
        secrets: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sns = sns
        self._topic_arn = topic_arn
        self._dedupe = dedupe
        self._window = window_seconds
        self._redactor = Redactor(secrets)
        self._clock = clock

    def add_secret(self, secret: str) -> None:
        self._redactor.add(secret)

    def publish(
        self,
        kind: str,
        queue: str | None,
        message: str,
        detail: Mapping[str, Any] | None = None,
        *,
        scope: str | None = None,
    ) -> bool:
        """True when sent; False when deduplicated or SNS failed (logged either way).
        ``scope`` deduplicates a stack alert per thing it concerns (an organisation)."""
        now = self._clock()
        key = f"{kind}#{queue or STACK_SCOPE}" + (f"#{scope}" if scope else "")
        body = self._redactor.scrub(
            alert_body(kind, queue, message, detail, datetime.fromtimestamp(now, UTC))
        )
        try:
            if self._dedupe is not None and not self._dedupe.claim(key, self._window, now):
                LOG.info("alert %s for %s suppressed (sent within the window)", kind, queue)
                return False
            self._sns.publish(
                TopicArn=self._topic_arn,
                Subject=f"adoscale {kind} {queue or ''}".strip()[:100],
                Message=json.dumps(body, default=str),
                MessageAttributes={
                    "kind": {"DataType": "String", "StringValue": kind},
                    "queue": {"DataType": "String", "StringValue": body["queue"]},
                },
            )
        except Exception as error:  # noqa: BLE001 - alerting must never break the caller
            LOG.error("alert %s for %s not sent: %s", kind, queue, self._redactor.text(str(error)))
            self._release_quietly(key)
            return False
        LOG.warning("alert %s for %s: %s", kind, queue, body["message"])
        return True

    def _release_quietly(self, key: str) -> None:
        if self._dedupe is None:
            return
        try:
            self._dedupe.release(key)
        except Exception:  # best effort; the mark expires anyway
            LOG.exception("could not release dedupe mark %s", key)
