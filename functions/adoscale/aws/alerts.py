"""Alerts to SNS, deduplicated per (kind, queue) across cold starts.

Dedupe marks live in the state table with a TTL so a broken PAT pages the operator once
per window, not once a minute, and a cold start does not forget it already paged.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from adoscale.core.faults import ALERT_TOPIC, STATE_TABLE, Fault, fault
from adoscale.core.redact import Redactor

LOG = logging.getLogger(__name__)
SOURCE = "adoscale"
STACK_SCOPE = "-"  # the "queue" of alerts that concern the whole stack


class DedupeStore:
    """Claims a (kind, queue) mark in the state table for a window; conditional writes only."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._dynamodb = dynamodb
        self._table = table

    @property
    def table(self) -> str:
        return self._table

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
    """Publishes alerts; never raises, because an alert must not stop a poll."""

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
        self._lock = threading.Lock()
        self._local_marks: dict[str, float] = {}  # when the state table cannot hold them
        self._faults: dict[str, Fault] = {}
        self._unsent = 0

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

        When the state table cannot hold the dedupe mark, the mark is kept in this
        container instead and the alert still goes out; when SNS fails, the alert is
        logged in full, counted as not sent, and tried again by the next caller. Both
        are kept as faults for the poller to report (``drain_faults``).

        ``scope`` deduplicates a stack alert per thing it concerns (an organisation).
        """
        now = self._clock()
        key = f"{kind}#{queue or STACK_SCOPE}" + (f"#{scope}" if scope else "")
        body = self._redactor.scrub(
            alert_body(kind, queue, message, detail, datetime.fromtimestamp(now, UTC))
        )
        shared_mark = self._claim(key, now)
        if shared_mark is None:
            LOG.info("alert %s for %s suppressed (sent within the window)", kind, queue)
            return False
        try:
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
            self._record(
                fault(ALERT_TOPIC, f"publishing to the alert topic {self._topic_arn}", error)
            )
            with self._lock:
                self._unsent += 1
            LOG.error(
                "ALERT NOT SENT %s for %s: %s (%s)",
                kind,
                queue or STACK_SCOPE,
                body["message"],
                self._redactor.text(str(error)),
            )
            self._release_quietly(key, shared_mark)
            return False
        LOG.warning("alert %s for %s: %s", kind, queue, body["message"])
        return True

    def drain_faults(self) -> tuple[list[Fault], int]:
        """The alert-path faults met since the last call (one per kind) and how many
        alerts were not sent; both reset."""
        with self._lock:
            faults, unsent = list(self._faults.values()), self._unsent
            self._faults.clear()
            self._unsent = 0
        return faults, unsent

    def _claim(self, key: str, now: float) -> bool | None:
        """None when deduplicated; otherwise whether the mark is in the state table (True)
        or only in this container's memory (False)."""
        if self._dedupe is None:
            return False  # no dedupe configured: every alert goes out
        try:
            return True if self._dedupe.claim(key, self._window, now) else None
        except Exception as error:  # noqa: BLE001 - the alert still goes out
            doing = f"claiming an alert dedupe mark in the state table {self._dedupe.table}"
            self._record(fault(STATE_TABLE, doing, error))
        with self._lock:
            if self._local_marks.get(key, 0.0) > now:
                return None
            self._local_marks[key] = now + self._window
        return False

    def _record(self, found: Fault) -> None:
        found = Fault(found.resource, found.failure, self._redactor.text(found.message))
        with self._lock:
            self._faults.setdefault(found.kind, found)
        LOG.error("%s: %s", found.kind, found.message)

    def _release_quietly(self, key: str, shared_mark: bool) -> None:
        with self._lock:
            self._local_marks.pop(key, None)
        if self._dedupe is None or not shared_mark:
            return
        try:
            self._dedupe.release(key)
        except Exception:  # best effort; the mark expires anyway
            LOG.exception("could not release dedupe mark %s", key)
