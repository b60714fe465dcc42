"""Per-queue and stack metrics, batched into as few PutMetricData calls as fit.

CloudWatch bills a custom metric for every hour it receives data, so the per-queue ones
cost in proportion to activity: a queue publishes them while it was active (waiting,
busy or starting agents, or a scaling action) within the last hour, and only the four that
the dashboard needs to tell which queue waits and what its agents do (``QUEUE_METRICS``).
The stack totals (no dimension, what the alarms and the dashboard's totals watch) are
published every cycle, over every queue, ``StartingAgents`` among them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from adoscale.core.counting import QueueCounts

LOG = logging.getLogger(__name__)
PUT_METRIC_DATA_LIMIT = 1000  # metric data items per request (CloudWatch's documented maximum)
ACTIVE_WINDOW = timedelta(hours=1)  # per-queue metrics go on this long after the last activity
# Per queue (dimension Queue): what waits, and the agents busy and idle for it.
QUEUE_METRICS = ("QueuedJobs", "BusyAgents", "IdleAgents")


@dataclass(frozen=True)
class QueueMetrics:
    """One queue's numbers for a cycle."""

    queue: str
    counts: QueueCounts
    desired: int


def queue_metric_data(sample: QueueMetrics, when: datetime) -> list[dict[str, Any]]:
    dimensions = [{"Name": "Queue", "Value": sample.queue}]
    counts = sample.counts
    values = {"QueuedJobs": counts.queued, "BusyAgents": counts.busy, "IdleAgents": counts.idle}
    return [_datum(name, values[name], "Count", when, dimensions) for name in QUEUE_METRICS]


def is_active(sample: QueueMetrics) -> bool:
    """Anything worth a per-queue graph: waiting, busy or starting, or agents to retire."""
    counts = sample.counts
    return bool(counts.queued or counts.busy or counts.starting or sample.desired != counts.idle)


class QueueActivity:
    """When each queue was last active, kept by the warm container (a cold start forgets
    it: a queue quiet since then publishes again at its next activity)."""

    def __init__(self, window: timedelta = ACTIVE_WINDOW) -> None:
        self._window = window
        self._last: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def update(self, samples: Sequence[QueueMetrics], now: datetime) -> set[str]:
        """Record this cycle; the queues whose per-queue metrics to publish."""
        with self._lock:
            for sample in samples:
                if is_active(sample):
                    self._last[sample.queue] = now
            present = {sample.queue for sample in samples}
            recent = {q for q, last in self._last.items() if now - last <= self._window}
            self._last = {q: t for q, t in self._last.items() if q in recent}
        return recent & present


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
        _datum("StartingAgents", sum(s.counts.starting for s in samples), "Count", when),
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
