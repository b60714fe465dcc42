"""Contract C3: per-queue and stack metrics, batched into as few PutMetricData calls as fit."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adoscale.counting import QueueCounts

LOG = logging.getLogger(__name__)
PUT_METRIC_DATA_LIMIT = 1000  # metric data items per request (CloudWatch's documented maximum)


@dataclass(frozen=True)
class QueueMetrics:
    """One queue's numbers for a cycle."""

    queue: str
    counts: QueueCounts
    desired: int


def queue_metric_data(sample: QueueMetrics, when: datetime) -> list[dict[str, Any]]:
    dimensions = [{"Name": "Queue", "Value": sample.queue}]
    counts = sample.counts
    values = {
        "QueuedJobs": (counts.queued, "Count"),
        "RunningJobs": (counts.running, "Count"),
        "IdleAgents": (counts.idle, "Count"),
        "BusyAgents": (counts.busy, "Count"),
        "OfflineAgents": (counts.offline, "Count"),
        "StartingAgents": (counts.starting, "Count"),
        "DesiredAgents": (sample.desired, "Count"),
        "OldestQueuedJobAgeSeconds": (counts.oldest_queued_age_seconds, "Seconds"),
    }
    return [_datum(name, value, unit, when, dimensions) for name, (value, unit) in values.items()]


def stack_metric_data(
    samples: Sequence[QueueMetrics],
    *,
    api_errors: int,
    invalid_configs: int,
    rate_limit_remaining: float | None,
    when: datetime,
) -> list[dict[str, Any]]:
    """Totals without a dimension, for the stack-level alarms."""
    data = [
        _datum("QueuedJobs", sum(s.counts.queued for s in samples), "Count", when),
        _datum(
            "OldestQueuedJobAgeSeconds",
            max((s.counts.oldest_queued_age_seconds for s in samples), default=0.0),
            "Seconds",
            when,
        ),
        _datum("AdoApiErrors", api_errors, "Count", when),
        _datum("InvalidQueueConfigs", invalid_configs, "Count", when),
    ]
    if rate_limit_remaining is not None:
        data.append(_datum("AdoRateLimitRemaining", rate_limit_remaining, "None", when))
    return data


def alerts_not_sent_datum(count: int, when: datetime) -> dict[str, Any]:
    """Stack-level ``AlertsNotSent``: alerts SNS refused this cycle (each is in the log)."""
    return _datum("AlertsNotSent", count, "Count", when)


def _datum(
    name: str,
    value: float,
    unit: str,
    when: datetime,
    dimensions: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    datum: dict[str, Any] = {"MetricName": name, "Value": float(value), "Unit": unit}
    datum["Timestamp"] = when
    if dimensions:
        datum["Dimensions"] = dimensions
    return datum


class MetricsPublisher:
    """Sends metric data in batches; a failed batch is logged and reported, never raised."""

    def __init__(self, cloudwatch: Any, namespace: str) -> None:
        self._cloudwatch = cloudwatch
        self._namespace = namespace

    def publish(self, data: Iterable[dict[str, Any]]) -> int:
        """Sends every batch concurrently; returns the number of batches that failed."""
        items = list(data)
        batches = [
            items[start : start + PUT_METRIC_DATA_LIMIT]
            for start in range(0, len(items), PUT_METRIC_DATA_LIMIT)
        ]
        if len(batches) <= 1:
            return sum(self._send(batch) for batch in batches)
        with ThreadPoolExecutor(len(batches), thread_name_prefix="metrics") as executor:
            return sum(executor.map(self._send, batches))

    def _send(self, batch: list[dict[str, Any]]) -> int:
        try:
            self._cloudwatch.put_metric_data(Namespace=self._namespace, MetricData=batch)
        except Exception as error:  # noqa: BLE001 - metrics must not stop scaling
            LOG.error("PutMetricData failed for %d items: %s", len(batch), error)
            return 1
        return 0
