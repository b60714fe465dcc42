"""The control-plane cost model: line items computed by hand, the definition walk, prices."""

from __future__ import annotations

import pytest

from adoscale.core.settings import Settings
from adoscale.simulate.cost import (
    DEFAULT_PRICES,
    QUEUE_COUNTS,
    Usage,
    action_path,
    cost_table,
    monthly_cost,
    price_table,
    with_prices,
)
from adoscale.workflow.definition import build_definition, placeholder_arns

POLLER_GB = 256 / 1024  # the poller's memory, stack config pollerMemoryMb
POLLS_PER_MONTH = 30 * 24 * 60

TOY = {
    "StartAt": "Check",
    "States": {
        "Check": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.action", "StringEquals": "scale_out", "Next": "Launch"},
                {"Variable": "$.other", "StringEquals": "scale_in", "Next": "Fail"},
            ],
            "Default": "Drain",
        },
        "Launch": {"Type": "Task", "Next": "Wait"},
        "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
        "Drain": {"Type": "Task", "End": True},
        "Fail": {"Type": "Fail"},
        "Done": {"Type": "Succeed"},
    },
}


@pytest.mark.parametrize(
    ("action", "transitions", "invocations"),
    [("scale_out", 4, 1), ("scale_in", 2, 1)],
    ids=["branch", "default"],
)
def test_the_walk_follows_the_actions_branch_and_defaults(action, transitions, invocations):
    path = action_path(action, TOY)

    assert (path.transitions, path.lambda_invocations) == (transitions, invocations)


def test_the_real_definitions_paths_run_lambdas_and_end():
    definition = build_definition(placeholder_arns())

    for action in ("scale_out", "scale_in", "reap"):
        path = action_path(action, definition)
        assert path.lambda_invocations >= 2  # validate and at least the action's step
        assert path.transitions > path.lambda_invocations


def test_per_queue_and_fixed_items_by_hand():
    # GIVEN 10 queues and no scaling executions at all
    usage = Usage(executions_per_queue_day=0, active_share=0.0, quiet_interval_s=60.0)
    cost = monthly_cost(10, usage)
    items = {item.service: item for item in cost.items}

    # THEN 3 metrics per queue, billed for the hour after activity only (none here: 1/24
    # of the month), + 6 stack totals at $0.30; one PutMetricData, one schedule and one
    # poller invocation per minute; 7 alarms; one dashboard; one secret
    assert items["CloudWatch custom metrics"].usd == pytest.approx((3 * 10 / 24 + 6) * 0.30)
    assert items["CloudWatch PutMetricData"].usd == pytest.approx(POLLS_PER_MONTH * 0.01 / 1000)
    assert items["EventBridge Scheduler"].usd == pytest.approx(POLLS_PER_MONTH / 1e6)
    assert items["Lambda requests (poller + steps)"].quantity == POLLS_PER_MONTH
    assert items["CloudWatch alarms"].usd == pytest.approx(0.70)
    assert items["CloudWatch dashboard"].usd == pytest.approx(3.00)
    assert items["Step Functions Standard transitions"].usd == 0.0
    # poller: 400 ms + one round of 2 x 150 ms ADO requests (10 queues <= 50 workers), 256 MB
    gb_s = POLLS_PER_MONTH * 0.7 * POLLER_GB
    assert items["Lambda duration (arm64)"].quantity == pytest.approx(gb_s)
    assert cost.total_usd == pytest.approx(sum(item.usd for item in cost.items))


def test_executions_cost_transitions_invocations_and_lease_writes():
    usage = Usage(executions_per_queue_day=10, scale_out_share=1.0, active_share=0.0)
    out = action_path("scale_out")

    cost = monthly_cost(1, usage)
    items = {item.service: item for item in cost.items}

    executions = 10 * 30
    assert items["Step Functions Standard transitions"].quantity == pytest.approx(
        executions * out.transitions
    )
    assert items["DynamoDB writes (on-demand)"].quantity == pytest.approx(executions * 2)
    assert items["Lambda requests (poller + steps)"].quantity == pytest.approx(
        POLLS_PER_MONTH + executions * out.lambda_invocations
    )


def test_many_queues_poll_in_rounds_and_batch_metrics():
    usage = Usage(
        executions_per_queue_day=0,
        metrics_per_request=100,
        active_share=0.0,
        metric_active_share=1.0,
        quiet_interval_s=60.0,
    )

    items = {i.service: i for i in monthly_cost(100, usage).items}

    # 306 metrics in batches of 100 = 4 requests a poll; 100 queues = 2 rounds of 50
    assert items["CloudWatch PutMetricData"].quantity == POLLS_PER_MONTH * 4
    assert items["Lambda duration (arm64)"].quantity == pytest.approx(
        POLLS_PER_MONTH * (0.4 + 2 * 0.3) * POLLER_GB
    )


def test_active_minutes_cycle_every_20_s_and_pay_for_the_sleep_between():
    # GIVEN a stack active all month (every invocation runs 3 cycles, 20 s apart), and one
    # quiet all month with a once-a-minute quiet cycle
    quiet = {
        i.service: i for i in monthly_cost(10, Usage(active_share=0.0, quiet_interval_s=60.0)).items
    }
    busy = {i.service: i for i in monthly_cost(10, Usage(active_share=1.0)).items}

    # THEN one invocation a minute either way, three times the metric requests, and
    # 40 s of sleep a minute billed at 256 MB
    assert busy["EventBridge Scheduler"].quantity == quiet["EventBridge Scheduler"].quantity
    assert (
        busy["CloudWatch PutMetricData"].quantity == 3 * quiet["CloudWatch PutMetricData"].quantity
    )
    poller_quiet_gb_s = POLLS_PER_MONTH * 0.7 * POLLER_GB
    steps = quiet["Lambda duration (arm64)"].quantity - poller_quiet_gb_s
    assert busy["Lambda duration (arm64)"].quantity - steps == pytest.approx(
        POLLS_PER_MONTH * (3 * 0.7 + 40) * POLLER_GB
    )


@pytest.mark.parametrize(
    ("quiet_interval", "cycles", "sleep_s"),
    [(60.0, 1, 0.0), (30.0, 2, 30.0), (20.0, 3, 40.0), (15.0, 4, 45.0)],
    ids=["once-a-minute", "every-30-s", "every-20-s-shipped", "every-15-s"],
)
def test_quiet_minutes_cycle_every_quiet_interval(quiet_interval, cycles, sleep_s):
    # GIVEN a stack quiet all month, no executions
    usage = Usage(executions_per_queue_day=0, active_share=0.0, quiet_interval_s=quiet_interval)

    items = {i.service: i for i in monthly_cost(10, usage).items}

    # THEN each quiet minute runs its cycles (one PutMetricData each) and sleeps between
    assert items["CloudWatch PutMetricData"].quantity == POLLS_PER_MONTH * cycles
    assert items["Lambda duration (arm64)"].quantity == pytest.approx(
        POLLS_PER_MONTH * (cycles * 0.7 + sleep_s) * POLLER_GB
    )


def test_the_shipped_quiet_cadence_is_the_pollers():
    assert Usage().quiet_interval_s == Settings().poll_quiet_interval_seconds
    assert Usage().poll_interval_s == Settings().poll_interval_seconds


def test_every_default_price_names_its_source_and_overrides_are_checked():
    assert all(price.source.startswith("aws.amazon.com/") for price in DEFAULT_PRICES.values())
    cheaper = with_prices({"custom_metric": 0.1})
    metrics = {i.price: i for i in monthly_cost(1, prices=cheaper).items}["custom_metric"]
    assert metrics.usd == pytest.approx((3 * (0.45 + 1 / 24) + 6) * 0.1)
    with pytest.raises(ValueError, match="unknown metric_price"):
        with_prices({"metric_price": 1})


def test_express_bills_duration_waits_included_and_standard_bills_transitions():
    # GIVEN only scale-ins, on the Express state machine or on the Standard one
    express = Usage(executions_per_queue_day=10, scale_out_share=0.0, active_share=0.0)
    standard = Usage(
        executions_per_queue_day=10, scale_out_share=0.0, active_share=0.0, express_actions=""
    )
    into = action_path("scale_in")
    on_express = {i.service: i for i in monthly_cost(1, express).items}
    on_standard = {i.service: i for i in monthly_cost(1, standard).items}

    # THEN Express: one request each and (4 steps x 0.8 s + the 15 s confirm wait) at 64 MB
    assert on_express["Step Functions Express executions"].quantity == 300
    assert on_express["Step Functions Express duration"].quantity == pytest.approx(
        300 * (into.lambda_invocations * 0.8 + 15) / 16
    )
    assert on_express["Step Functions Standard transitions"].quantity == 0
    # AND Standard: every transition, no Express line
    assert on_standard["Step Functions Standard transitions"].quantity == 300 * into.transitions
    assert on_standard["Step Functions Express duration"].quantity == 0
    assert (
        on_express["Step Functions Express duration"].usd
        + on_express["Step Functions Express executions"].usd
        < on_standard["Step Functions Standard transitions"].usd
    )


def test_tables_have_a_column_per_queue_count_and_a_total():
    table = cost_table().splitlines()

    assert table[0] == "| service | 1 queue | 10 queues | 100 queues |"
    assert table[-1].startswith("| **total per month** |")
    assert len(table) == 2 + len(monthly_cost(1).items) + 1
    assert len(price_table().splitlines()) == 2 + len(DEFAULT_PRICES)
    assert QUEUE_COUNTS == (1, 10, 100)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"alarms": -1}, "alarms"), ({"workers": 0}, "workers"), ({"scale_out_share": 2}, "share")],
    ids=["negative", "zero-workers", "share"],
)
def test_usage_is_validated_by_name(kwargs, field):
    with pytest.raises(ValueError, match=field):
        Usage(**kwargs)
