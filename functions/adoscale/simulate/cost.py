"""The control plane's monthly AWS bill at default settings, for any number of queues.

Every price is a parameter with its default's source: the us-east-1 list price of the AWS
pricing page named, as quoted by that page or by 2024-2026 pricing guides that cite it
(collected 2026-11; re-check before quoting a bill). Free tiers are left out, so the
figures are what an account that already uses up its free tier pays. Usage comes from how
the stack works:

- the scheduler invokes the poller every minute (its minimum); each invocation runs a cycle
  every 20 s while the stack is active (or was within the linger), and one every quiet
  interval otherwise (``adoscale.poller.cycles.Cadence``; shipped: also 20 s, so no job waits
  longer for a look after a quiet spell), sleeping in between (billed); ``active_share``
  is the share of active minutes; every cycle scans the queue table, lists ECS tasks,
  makes 2 Azure DevOps requests per queue (``workers`` at a time) and publishes the stack
  totals plus 3 metrics per queue that was active within the last hour, in batches of
  1,000;
- CloudWatch bills a metric for each hour it receives data (a metric-month is 730 such
  hours), so a queue's metrics cost ``metric_active_share`` of a metric-month: by default
  the active share plus the hour after (``adoscale.aws.metrics``);
- each scaling action is one execution: a scale-out runs on the Standard state machine
  (billed per state transition, counted by walking the real definition,
  ``adoscale.workflow.definition.build_definition``, along the action's happy path), a
  scale-in or reap on the Express one (billed per execution and per GB-second of its
  duration, waits included, at the 64 MB minimum); ``express_actions`` says which;
- 7 stack alarms and one dashboard (``components/monitoring.py``), none per queue;
- one PAT secret, read once per Lambda container (cold start) and cached.

The number of scaling executions per queue and day is the one figure that depends on the
load: the default is what adoscale started on the bundled bursty trace (79 for 459 jobs
in a day, a busy queue); ``make bench`` passes the simulated figure.

Agent compute (Fargate) is not the control plane: see ``params.AgentPrices``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from adoscale.core.actions import WORKFLOW_ACTIONS, Action
from adoscale.workflow.definition import build_definition, placeholder_arns

MINUTES_PER_MONTH = 30 * 24 * 60
SECONDS_PER_MONTH = MINUTES_PER_MONTH * 60
QUEUE_COUNTS = (1, 10, 100)


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str


DEFAULT_PRICES: Mapping[str, Price] = {
    "lambda_request": Price(
        0.20 / 1e6, "request", "aws.amazon.com/lambda/pricing: $0.20 per 1M requests"
    ),
    "lambda_gb_second": Price(
        0.0000133334,
        "GB-second (arm64)",
        "aws.amazon.com/lambda/pricing: Arm $0.0000133334 per GB-s (first 7.5B GB-s)",
    ),
    "scheduler_invocation": Price(
        1.00 / 1e6,
        "invocation",
        "aws.amazon.com/eventbridge/pricing: Scheduler $1.00 per 1M invocations (14M free)",
    ),
    "state_transition": Price(
        0.025 / 1000,
        "state transition",
        "aws.amazon.com/step-functions/pricing: Standard $0.025 per 1,000 transitions",
    ),
    "express_request": Price(
        1.00 / 1e6,
        "Express execution",
        "aws.amazon.com/step-functions/pricing: Express $1.00 per 1M requests",
    ),
    "express_gb_second": Price(
        0.00001667,
        "Express GB-second",
        "aws.amazon.com/step-functions/pricing: Express $0.00001667 per GB-s"
        " (first 1,000 GB-hours; billed in 100 ms, 64 MB minimum)",
    ),
    "custom_metric": Price(
        0.30,
        "metric-month",
        "aws.amazon.com/cloudwatch/pricing: $0.30 per metric-month (first 10,000)",
    ),
    "metric_request": Price(
        0.01 / 1000,
        "PutMetricData request",
        "aws.amazon.com/cloudwatch/pricing: API requests $0.01 per 1,000",
    ),
    "alarm": Price(
        0.10, "alarm-month", "aws.amazon.com/cloudwatch/pricing: $0.10 per standard alarm metric"
    ),
    "dashboard": Price(
        3.00, "dashboard-month", "aws.amazon.com/cloudwatch/pricing: $3.00 per dashboard-month"
    ),
    "log_gb": Price(
        0.50, "GB ingested", "aws.amazon.com/cloudwatch/pricing: Logs $0.50 per GB (Standard)"
    ),
    "dynamodb_read": Price(
        0.125 / 1e6,
        "read request unit",
        "aws.amazon.com/dynamodb/pricing/on-demand: $0.125 per 1M RRU (since 2024-11)",
    ),
    "dynamodb_write": Price(
        0.625 / 1e6,
        "write request unit",
        "aws.amazon.com/dynamodb/pricing/on-demand: $0.625 per 1M WRU (since 2024-11)",
    ),
    "sns_publish": Price(
        0.50 / 1e6, "publish", "aws.amazon.com/sns/pricing: $0.50 per 1M requests"
    ),
    "sns_email": Price(
        2.00 / 1e5, "email delivery", "aws.amazon.com/sns/pricing: email $2.00 per 100,000"
    ),
    "secret": Price(
        0.40, "secret-month", "aws.amazon.com/secrets-manager/pricing: $0.40 per secret-month"
    ),
    "secret_call": Price(
        0.05 / 1e4,
        "API call",
        "aws.amazon.com/secrets-manager/pricing: $0.05 per 10,000 API calls",
    ),
}


@dataclass(frozen=True)
class Usage:
    """How the stack uses each service; the defaults are the shipped configuration."""

    poll_interval_s: float = 20.0  # Settings.poll_interval_seconds
    quiet_interval_s: float = 20.0  # Settings.poll_quiet_interval_seconds
    invocation_period_s: float = 60.0  # the schedule's rate
    active_share: float = 0.45  # minutes active or lingering: about 11 busy hours a day
    poller_memory_mb: int = 256  # stack config pollerMemoryMb (components/config.py)
    poller_base_ms: float = 400.0  # scan + ListTasks/DescribeTasks + PutMetricData, warm
    ado_request_ms: float = 150.0  # one Azure DevOps round trip
    ado_requests_per_queue: int = 2  # jobrequests + agents, pool ids cached
    workers: int = 50  # pools fetched at a time: Settings.max_workers (100) / 2 requests each
    executions_per_queue_day: float = 79.0  # adoscale on the bundled bursty trace
    step_memory_mb: int = 256  # components/function.py
    step_duration_ms: float = 800.0
    express_actions: str = "scale_in,reap"  # the rest run on the Standard state machine
    express_memory_mb: int = 64  # Express bills at least 64 MB (a small state stays below)
    boot_wait_s: float = 90.0  # the definition's BootWait (one round on the happy path)
    confirm_wait_s: float = 15.0  # the definition's ConfirmWait
    metrics_per_queue: int = 3  # adoscale.aws.metrics.QUEUE_METRICS
    metric_active_share: float = -1.0  # of the hours a queue publishes; < 0: active_share + 1 h
    stack_metrics: int = 6  # the metrics without a dimension (adoscale.aws.metrics)
    metrics_per_request: int = 1000  # PutMetricData's limit (metrics.PUT_METRIC_DATA_LIMIT)
    alarms: int = 7  # components/monitoring.py: stack alarms only
    dashboards: int = 1
    queue_item_bytes: int = 400  # one queue item
    reads_per_execution: float = 1.0  # validate: GetItem on the queue
    writes_per_execution: float = 2.0  # lease acquire + release
    alerts_per_month: float = 30.0
    alert_emails_per_alert: float = 1.0
    secrets: int = 1
    cold_starts_per_day: float = 48.0  # poller containers recycled about every 30 min
    secret_reads_per_execution: float = 0.5  # steps that call ADO, cold half the time
    log_bytes_per_poll: float = 1500.0
    log_bytes_per_queue_poll: float = 150.0
    log_bytes_per_execution: float = 4000.0
    scale_out_share: float = 0.5  # of executions; the rest scale in or reap

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name in ("express_actions", "metric_active_share"):
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{item.name}: must be a number >= 0, got {value!r}")
        unknown = set(self.express_list) - set(WORKFLOW_ACTIONS)
        if unknown:
            raise ValueError(f"express_actions: unknown actions {', '.join(sorted(unknown))}")
        if self.metric_active_share > 1:
            raise ValueError("metric_active_share: must be at most 1 (or < 0 for the default)")
        if (
            self.poll_interval_s <= 0
            or self.quiet_interval_s <= 0
            or self.workers < 1
            or self.metrics_per_request < 1
        ):
            raise ValueError(
                "poll_interval_s, quiet_interval_s, workers and metrics_per_request: must be > 0"
            )
        if self.scale_out_share > 1 or self.active_share > 1:
            raise ValueError("scale_out_share and active_share: must be 0..1")
        if self.invocation_period_s < self.poll_interval_s:
            raise ValueError("invocation_period_s: must be >= poll_interval_s")

    @property
    def express_list(self) -> tuple[str, ...]:
        return tuple(a.strip() for a in self.express_actions.split(",") if a.strip())

    @property
    def queue_metric_share(self) -> float:
        """Share of the month a queue's metrics receive data: active, plus the hour after."""
        if self.metric_active_share >= 0:
            return self.metric_active_share
        return min(1.0, self.active_share + 1 / 24)


@dataclass(frozen=True)
class Path:
    """One action's states along its happy path in the state machine."""

    transitions: int
    lambda_invocations: int
    waits: tuple[str, ...] = ()  # the Wait states passed


def action_path(action: str, definition: Mapping[str, Any] | None = None) -> Path:
    """Walk the definition from StartAt, taking the action's branch and every Default."""
    document = definition or build_definition(placeholder_arns())
    states = document["States"]
    name: str | None = document["StartAt"]
    transitions = invocations = 0
    waits: list[str] = []
    seen: set[str] = set()
    while name is not None:
        if name in seen:
            raise ValueError(f"definition: the happy path of {action} loops at {name}")
        seen.add(name)
        state = states[name]
        transitions += 1
        if state["Type"] == "Task":
            invocations += 1
        if state["Type"] == "Wait":
            waits.append(name)
        if state["Type"] == "Choice":
            name = next(
                (
                    choice["Next"]
                    for choice in state["Choices"]
                    if choice.get("Variable") == "$.action" and choice.get("StringEquals") == action
                ),
                state.get("Default"),
            )
        elif state["Type"] in ("Succeed", "Fail") or state.get("End"):
            name = None
        else:
            name = state["Next"]
    return Path(transitions, invocations, tuple(waits))


@dataclass(frozen=True)
class LineItem:
    service: str
    quantity: float
    unit: str
    usd: float
    price: str = ""  # the price's name (``DEFAULT_PRICES``)
    source: str = ""  # where that price comes from


@dataclass(frozen=True)
class ExecutionCost:
    """One execution of an action on either state machine type, in USD."""

    action: str
    transitions: int
    duration_s: float
    standard_usd: float
    express_usd: float

    @property
    def cheaper(self) -> str:
        return "express" if self.express_usd < self.standard_usd else "standard"


def execution_costs(
    usage: Usage | None = None,
    prices: Mapping[str, Price] | None = None,
    definition: Mapping[str, Any] | None = None,
) -> list[ExecutionCost]:
    """Standard against Express for each action's happy path: Standard bills transitions
    (waits are free), Express bills its whole duration, waits included."""
    u = usage or Usage()
    p = {**DEFAULT_PRICES, **(prices or {})}
    wait_seconds = {"BootWait": u.boot_wait_s, "ConfirmWait": u.confirm_wait_s}
    costs = []
    for action in WORKFLOW_ACTIONS:
        path = action_path(action, definition)
        duration = path.lambda_invocations * u.step_duration_ms / 1000 + sum(
            wait_seconds.get(name, 0.0) for name in path.waits
        )
        express = p["express_request"].usd + duration * u.express_memory_mb / 1024 * (
            p["express_gb_second"].usd
        )
        costs.append(
            ExecutionCost(
                action,
                path.transitions,
                duration,
                path.transitions * p["state_transition"].usd,
                express,
            )
        )
    return costs


@dataclass(frozen=True)
class MonthlyCost:
    queues: int
    items: tuple[LineItem, ...]

    @property
    def total_usd(self) -> float:
        return sum(item.usd for item in self.items)


def _cycles(period_s: float, interval_s: float) -> int:
    """Cycles one invocation runs at this interval: at 0, interval, ... below the period."""
    return max(1, math.ceil(period_s / interval_s - 1e-9))


def monthly_cost(
    queues: int,
    usage: Usage | None = None,
    prices: Mapping[str, Price] | None = None,
    definition: Mapping[str, Any] | None = None,
) -> MonthlyCost:
    if queues < 1:
        raise ValueError(f"queues: must be >= 1, got {queues}")
    u = usage or Usage()
    p = {**DEFAULT_PRICES, **(prices or {})}
    out, into = action_path(Action.SCALE_OUT, definition), action_path(Action.SCALE_IN, definition)
    per_action = {c.action: c for c in execution_costs(u, p, definition)}
    invocations = SECONDS_PER_MONTH / u.invocation_period_s
    cycles_active = _cycles(u.invocation_period_s, u.poll_interval_s)
    cycles_quiet = _cycles(u.invocation_period_s, u.quiet_interval_s)
    polls = invocations * (u.active_share * cycles_active + (1 - u.active_share) * cycles_quiet)
    sleep_s = invocations * (
        u.active_share * (cycles_active - 1) * u.poll_interval_s
        + (1 - u.active_share) * (cycles_quiet - 1) * u.quiet_interval_s
    )
    executions = u.executions_per_queue_day * 30 * queues
    # Executions by action: scale-outs, and the rest split as scale-ins (reaps cost alike).
    shares = {Action.SCALE_OUT: u.scale_out_share, Action.SCALE_IN: 1 - u.scale_out_share}
    standard = {a: executions * s for a, s in shares.items() if a not in u.express_list}
    express = {a: executions * s for a, s in shares.items() if a in u.express_list}
    transitions = sum(n * per_action[a].transitions for a, n in standard.items())
    express_gb_s = sum(
        n * per_action[a].duration_s * u.express_memory_mb / 1024 for a, n in express.items()
    )
    invocations_each = u.scale_out_share * out.lambda_invocations + (1 - u.scale_out_share) * (
        into.lambda_invocations
    )
    rounds = math.ceil(queues / u.workers)
    poller_s = (u.poller_base_ms + rounds * u.ado_request_ms * u.ado_requests_per_queue) / 1000
    poller_gb_s = (polls * poller_s + sleep_s) * u.poller_memory_mb / 1024
    step_invocations = executions * invocations_each
    step_gb_s = step_invocations * u.step_duration_ms / 1000 * u.step_memory_mb / 1024
    metrics = u.metrics_per_queue * queues * u.queue_metric_share + u.stack_metrics
    put_requests = polls * math.ceil(metrics / u.metrics_per_request)
    scan_units = max(0.5, math.ceil(queues * u.queue_item_bytes / 4096) * 0.5)
    reads = polls * scan_units + executions * u.reads_per_execution
    writes = executions * u.writes_per_execution
    secret_calls = u.cold_starts_per_day * 30 + executions * u.secret_reads_per_execution
    log_gb = (
        polls * (u.log_bytes_per_poll + queues * u.log_bytes_per_queue_poll)
        + executions * u.log_bytes_per_execution
    ) / 1e9

    def item(service: str, quantity: float, price: str) -> LineItem:
        chosen = p[price]
        return LineItem(service, quantity, chosen.unit, quantity * chosen.usd, price, chosen.source)

    items = (
        item("Lambda requests (poller + steps)", invocations + step_invocations, "lambda_request"),
        item("Lambda duration (arm64)", poller_gb_s + step_gb_s, "lambda_gb_second"),
        item("EventBridge Scheduler", invocations, "scheduler_invocation"),
        item("Step Functions Standard transitions", transitions, "state_transition"),
        item("Step Functions Express executions", sum(express.values()), "express_request"),
        item("Step Functions Express duration", express_gb_s, "express_gb_second"),
        item("CloudWatch custom metrics", metrics, "custom_metric"),
        item("CloudWatch PutMetricData", put_requests, "metric_request"),
        item("CloudWatch alarms", u.alarms, "alarm"),
        item("CloudWatch dashboard", u.dashboards, "dashboard"),
        item("CloudWatch Logs ingestion", log_gb, "log_gb"),
        item("DynamoDB reads (on-demand)", reads, "dynamodb_read"),
        item("DynamoDB writes (on-demand)", writes, "dynamodb_write"),
        item("SNS publishes", u.alerts_per_month, "sns_publish"),
        item("SNS email deliveries", u.alerts_per_month * u.alert_emails_per_alert, "sns_email"),
        item("Secrets Manager secret", u.secrets, "secret"),
        item("Secrets Manager API calls", secret_calls, "secret_call"),
    )
    return MonthlyCost(queues, items)


def cost_table(
    queue_counts: Sequence[int] = QUEUE_COUNTS,
    usage: Usage | None = None,
    prices: Mapping[str, Price] | None = None,
) -> str:
    """Markdown: one row per line item, one column per queue count, totals last."""
    costs = [monthly_cost(n, usage, prices) for n in queue_counts]
    header = "| service | " + " | ".join(f"{n} queue{'s' if n > 1 else ''}" for n in queue_counts)
    lines = [header + " |", "| --- |" + " ---: |" * len(queue_counts)]
    for index, first in enumerate(costs[0].items):
        cells = " | ".join(f"${cost.items[index].usd:,.2f}" for cost in costs)
        lines.append(f"| {first.service} | {cells} |")
    totals = " | ".join(f"**${cost.total_usd:,.2f}**" for cost in costs)
    lines.append(f"| **total per month** | {totals} |")
    return "\n".join(lines)


def price_table(prices: Mapping[str, Price] | None = None) -> str:
    merged = {**DEFAULT_PRICES, **(prices or {})}
    lines = ["| price | USD | per | source |", "| --- | ---: | --- | --- |"]
    lines += [
        f"| `{name}` | {price.usd:.10g} | {price.unit} | {price.source} |"
        for name, price in merged.items()
    ]
    return "\n".join(lines)


def with_prices(overrides: Mapping[str, float]) -> dict[str, Price]:
    """Price overrides by name (``{"alarm": 0.1}``); unknown names are an error naming them."""
    unknown = sorted(set(overrides) - set(DEFAULT_PRICES))
    if unknown:
        raise ValueError(f"prices: unknown {', '.join(unknown)}")
    return {
        name: replace(DEFAULT_PRICES[name], usd=float(value), source="overridden")
        for name, value in overrides.items()
    }


if __name__ == "__main__":
    print(cost_table())
    print()
    print(price_table())
