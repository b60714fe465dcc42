"""The per-organisation pace rule and the per-queue metrics that follow activity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adoscale.ado.client import RateLimit
from adoscale.aws.metrics import (
    ACTIVE_WINDOW,
    QUEUE_METRICS,
    QueueActivity,
    QueueMetrics,
    queue_metric_data,
    stack_metric_data,
)
from adoscale.core.counting import QueueCounts
from adoscale.poller.shards import MAX_INTERVAL_SECONDS, OrgScheduler, pace_for

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def headers(remaining=None, limit=None, delay=None, retry_after=None) -> RateLimit:
    return RateLimit(remaining, limit, delay, None, retry_after)


@pytest.mark.parametrize(
    ("seen", "requests", "interval", "slowed"),
    [
        (None, 100, 20, False),
        (headers(190, 200), 100, 20, False),  # plenty left
        (headers(50, 200), 10, 20, False),  # at the threshold: 25 % left
        (headers(40, 200), 10, 75, True),  # 4 cycles left in the window: 300 / 4
        (headers(10, 200), 100, MAX_INTERVAL_SECONDS, True),  # less than one cycle left
        (headers(0, 200), 10, MAX_INTERVAL_SECONDS, True),
        (headers(retry_after=45), 10, 45, True),
        (headers(retry_after=5), 10, 20, True),  # never faster than the stack
        (headers(retry_after=3600), 10, MAX_INTERVAL_SECONDS, True),
        (headers(delay=0.5), 10, 40, True),
        (headers(delay=0.0), 10, 20, False),
    ],
    ids=[
        "no-headers",
        "plenty",
        "threshold",
        "low",
        "nearly-none",
        "none",
        "retry-after",
        "short-retry-after",
        "long-retry-after",
        "delayed",
        "no-delay",
    ],
)
def test_pace_spreads_what_is_left_over_the_window(seen, requests, interval, slowed):
    pace = pace_for(seen, base_interval=20, requests_per_cycle=requests)
    assert pace.interval_seconds == pytest.approx(interval)
    assert pace.slowed is slowed


@given(
    remaining=st.floats(0, 1000),
    limit=st.floats(1, 1000),
    requests=st.integers(0, 500),
)
def test_pace_is_never_faster_than_the_stack_nor_slower_than_the_window(remaining, limit, requests):
    pace = pace_for(headers(remaining, limit), base_interval=20, requests_per_cycle=requests)
    assert 20 <= pace.interval_seconds <= MAX_INTERVAL_SECONDS
    if remaining >= 0.25 * limit:
        assert not pace.slowed


def test_scheduler_slows_one_organisation_and_says_so_once():
    scheduler = OrgScheduler()
    assert scheduler.due({"a", "b"}, 0.0) == {"a", "b"}
    pace, slowed_now = scheduler.observe(
        "a", headers(10, 200), requests=10, now=0.0, base_interval=20
    )
    assert slowed_now
    assert pace.slowed
    scheduler.observe("b", None, requests=10, now=0.0, base_interval=20)
    assert scheduler.due({"a", "b"}, 20.0) == {"b"}
    assert scheduler.due({"a", "b"}, pace.interval_seconds) == {"a", "b"}
    _pace, again = scheduler.observe(
        "a", headers(10, 200), requests=10, now=pace.interval_seconds, base_interval=20
    )
    assert not again  # still slowed: no second alert
    back, _ = scheduler.observe("a", None, requests=10, now=400.0, base_interval=20)
    assert not back.slowed


def sample(queue: str, *, queued=0, busy=0, idle=0, starting=0, desired=None) -> QueueMetrics:
    counts = QueueCounts(queued=queued, busy=busy, idle=idle, starting=starting)
    wanted = busy + queued if desired is None else desired
    return QueueMetrics(queue, counts, wanted)


# Each step: minutes since the last step, and for each of three queues whether it is active.
STEPS = st.lists(
    st.tuples(st.integers(0, 90), st.lists(st.booleans(), min_size=3, max_size=3)),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60)
@given(STEPS)
def test_a_queue_publishes_per_queue_metrics_while_active_within_the_hour(steps):
    activity = QueueActivity()
    now = T0
    last_active: dict[str, datetime] = {}
    for minutes, actives in steps:
        now += timedelta(minutes=minutes)
        samples = [
            sample(f"q{n}", queued=1) if active else sample(f"q{n}", idle=1, desired=1)
            for n, active in enumerate(actives)
        ]
        for n, active in enumerate(actives):
            if active:
                last_active[f"q{n}"] = now
        expected = {q for q, t in last_active.items() if now - t <= ACTIVE_WINDOW}
        assert activity.update(samples, now) == expected


def test_a_queue_removed_from_the_table_stops_publishing():
    activity = QueueActivity()
    assert activity.update([sample("a", busy=1), sample("b", busy=1)], T0) == {"a", "b"}
    assert activity.update([sample("a")], T0 + timedelta(minutes=1)) == {"a"}


@pytest.mark.parametrize(
    ("queue_sample", "active"),
    [
        (sample("q", queued=2), True),
        (sample("q", busy=1), True),
        (sample("q", starting=1, desired=1), True),
        (sample("q", idle=3, desired=1), True),  # surplus to retire
        (sample("q", idle=1, desired=1), False),  # a standby agent at rest
        (sample("q"), False),
    ],
    ids=["waiting", "busy", "starting", "surplus-idle", "standby-at-rest", "empty"],
)
def test_what_counts_as_active(queue_sample, active):
    assert bool(QueueActivity().update([queue_sample], T0)) is active


def test_per_queue_data_is_the_published_set_and_totals_cover_every_queue():
    samples = [sample("a", queued=2, starting=1, desired=3), sample("b", busy=4, starting=2)]
    data = queue_metric_data(samples[0], T0)
    assert [d["MetricName"] for d in data] == list(QUEUE_METRICS)
    assert all(d["Dimensions"] == [{"Name": "Queue", "Value": "a"}] for d in data)
    totals = {
        d["MetricName"]: d["Value"]
        for d in stack_metric_data(
            samples, api_errors=0, invalid_configs=0, rate_limit_remaining=None, when=T0
        )
    }
    assert totals["StartingAgents"] == 3
    assert totals["QueuedJobs"] == 2


@pytest.mark.parametrize(
    ("action", "express", "expected"),
    [
        ("scale_out", "arn:express", "arn:standard"),
        ("scale_in", "arn:express", "arn:express"),
        ("reap", "arn:express", "arn:express"),
        ("scale_in", "", "arn:standard"),  # a stack without the Express machine
    ],
    ids=["scale-out-standard", "scale-in-express", "reap-express", "no-express"],
)
def test_scale_outs_run_on_standard_the_short_actions_on_express(action, express, expected):
    from adoscale.aws.executions import machine_for

    assert machine_for(action, "arn:standard", express) == expected
