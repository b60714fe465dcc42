"""``adoscale status``: what each queue has and did, from CloudWatch and Step Functions.

The poller already publishes every number (its metrics) and names each execution after its queue
and action, so status reads those instead of calling Azure DevOps; ``--live`` runs one
poll without acting, for when the metrics are not there yet or are in doubt.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from adoscale.cli.context import CliContext, CommandFailedError
from adoscale.cli.render import console, echo_json, rows_table
from adoscale.cli.terminal import printable
from adoscale.core.actions import Action
from adoscale.core.exceptions import ConfigError
from adoscale.core.naming import parse_execution_name

NAMESPACE_ENV = "ADOSCALE_METRIC_NAMESPACE"
STATE_MACHINE_ENV = "ADOSCALE_STATE_MACHINE_ARN"
METRICS = {
    "queued": "QueuedJobs",
    "running": "RunningJobs",
    "idle": "IdleAgents",
    "busy": "BusyAgents",
    "offline": "OfflineAgents",
    "starting": "StartingAgents",
    "desired": "DesiredAgents",
}
COLUMNS = ("queue", "waiting", "running", "idle", "busy", "starting", "desired", "last action")
QUERIES_PER_CALL = 500  # GetMetricData's limit
EXECUTION_PAGES = 5

pass_context = click.make_pass_decorator(CliContext)


@dataclass(frozen=True)
class LastAction:
    action: str
    status: str
    started: datetime | None
    execution: str

    def describe(self, now: datetime) -> str:
        age = f", {_age(now - self.started)} ago" if self.started else ""
        return f"{self.action} ({self.status.lower()}{age})"


@click.command()
@click.option("--live", is_flag=True, help="Poll Azure DevOps and ECS now (no action taken).")
@click.option(
    "--namespace",
    envvar=NAMESPACE_ENV,
    default="AdoAgentScaling",
    show_default=True,
    help=f"CloudWatch namespace of the poller's metrics (env {NAMESPACE_ENV}).",
)
@click.option(
    "--state-machine",
    envvar=STATE_MACHINE_ENV,
    default=None,
    help=f"Scaling state machine ARN (env {STATE_MACHINE_ENV}); "
    "found by name when the account has exactly one adoscale state machine.",
)
@click.option(
    "--minutes",
    type=click.IntRange(1, 1440),
    default=15,
    show_default=True,
    help="How far back to look for metrics.",
)
@pass_context
def status(
    context: CliContext, live: bool, namespace: str, state_machine: str | None, minutes: int
) -> None:
    """Per queue: waiting and running jobs, idle, busy, starting and desired agents, last action."""
    now = datetime.now(UTC)
    result = (
        _live(context) if live else _from_metrics(context, namespace, state_machine, minutes, now)
    )
    if context.json:
        echo_json(result)
        return
    rows = [
        (
            name,
            row.get("queued"),
            row.get("running"),
            row.get("idle"),
            row.get("busy"),
            row.get("starting"),
            row.get("desired"),
            row.get("last_action_text", "-"),
        )
        for name, row in sorted(result["queues"].items())
    ]
    source = "live poll (no action taken)" if live else f"CloudWatch, last {minutes} min"
    console().print(rows_table(f"status ({source})", COLUMNS, rows))
    for error in result.get("errors", []):
        click.echo(
            printable(f"{error.get('queue', '-')}: {error.get('kind')}: {error.get('message')}"),
            err=True,
        )
    for note in result.get("notes", []):
        click.echo(printable(note), err=True)


def _from_metrics(
    context: CliContext, namespace: str, state_machine: str | None, minutes: int, now: datetime
) -> dict[str, Any]:
    scan = context.store().scan()
    names = sorted({q.queue for q in scan.queues} | {e.queue for e in scan.errors if e.queue})
    values = latest_metrics(context.client("cloudwatch"), namespace, names, minutes, now)
    notes: list[str] = []
    actions: dict[str, LastAction] = {}
    sfn = context.client("stepfunctions")
    arn = state_machine or _find_state_machine(sfn, notes)
    if arn:
        actions = last_actions(sfn, arn, names)
    queues: dict[str, dict[str, Any]] = {}
    for name in names:
        row: dict[str, Any] = dict(values.get(name, {}))
        last = actions.get(name)
        row["last_action"] = dataclasses.asdict(last) if last else None
        row["last_action_text"] = last.describe(now) if last else "-"
        queues[name] = row
    if names and not any(values.values()):
        notes.append(
            f"no metrics in {namespace} for the last {minutes} min: "
            "is the poller running? (try --live)"
        )
    invalid = [e.queue or "<unnamed>" for e in scan.errors]
    if invalid:
        notes.append(f"invalid queue items (skipped by the poller): {', '.join(invalid)}")
    return {"source": "cloudwatch", "queues": queues, "notes": notes}


def latest_metrics(
    cloudwatch: Any, namespace: str, queues: Sequence[str], minutes: int, now: datetime
) -> dict[str, dict[str, int]]:
    """The newest value of each per-queue metric, batched 500 queries per call."""
    queries: list[dict[str, Any]] = []
    keys: dict[str, tuple[str, str]] = {}
    for q_index, queue in enumerate(queues):
        for field_name, metric in METRICS.items():
            query_id = f"q{q_index}_{field_name}"
            keys[query_id] = (queue, field_name)
            queries.append(
                {
                    "Id": query_id,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": namespace,
                            "MetricName": metric,
                            "Dimensions": [{"Name": "Queue", "Value": queue}],
                        },
                        "Period": 60,
                        "Stat": "Maximum",
                    },
                    "ReturnData": True,
                }
            )
    found: dict[str, dict[str, int]] = {queue: {} for queue in queues}
    for start in range(0, len(queries), QUERIES_PER_CALL):
        batch = queries[start : start + QUERIES_PER_CALL]
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "MetricDataQueries": batch,
                "StartTime": now - timedelta(minutes=minutes),
                "EndTime": now + timedelta(minutes=1),
                "ScanBy": "TimestampDescending",
            }
            if token:
                kwargs["NextToken"] = token
            response = cloudwatch.get_metric_data(**kwargs)
            for result in response.get("MetricDataResults", []):
                queue, field_name = keys[result["Id"]]
                points = sorted(
                    zip(result.get("Timestamps", []), result.get("Values", []), strict=False),
                    reverse=True,
                )
                if points and field_name not in found[queue]:
                    found[queue][field_name] = round(points[0][1])
            token = response.get("NextToken")
            if not token:
                break
    return found


def last_actions(sfn: Any, state_machine_arn: str, queues: Iterable[str]) -> dict[str, LastAction]:
    """The newest execution of each queue, from execution names ``<queue>-<action>-...``."""
    wanted = set(queues)
    executions: list[Mapping[str, Any]] = []
    paginator = sfn.get_paginator("list_executions")
    pages = paginator.paginate(
        stateMachineArn=state_machine_arn, PaginationConfig={"PageSize": 1000}
    )
    for number, page in enumerate(pages):
        executions.extend(page.get("executions", []))
        if number + 1 >= EXECUTION_PAGES:
            break
    newest: dict[str, LastAction] = {}
    executions.sort(
        key=lambda e: e.get("startDate") or datetime.min.replace(tzinfo=UTC), reverse=True
    )
    for execution in executions:
        parsed = parse_execution_name(execution.get("name", ""))
        if parsed is None or parsed[0] not in wanted or parsed[0] in newest:
            continue
        queue, action = parsed
        newest[queue] = LastAction(
            action=action,
            status=execution.get("status", "UNKNOWN"),
            started=execution.get("startDate"),
            execution=execution.get("name", ""),
        )
    return newest


def _find_state_machine(sfn: Any, notes: list[str]) -> str | None:
    machines = [
        machine
        for page in sfn.get_paginator("list_state_machines").paginate()
        for machine in page.get("stateMachines", [])
        # the Express machine (scale-ins, reaps) cannot list its executions
        if "adoscale" in machine.get("name", "").lower() and machine.get("type") != "EXPRESS"
    ]
    if len(machines) == 1:
        return machines[0]["stateMachineArn"]
    problem = "none" if not machines else f"{len(machines)}"
    notes.append(
        f"last action unknown: {problem} adoscale state machines found; "
        f"pass --state-machine ARN or set {STATE_MACHINE_ENV}"
    )
    return None


def _live(context: CliContext) -> dict[str, Any]:
    """One poll with ``act=False``: the poller result's numbers and what the poller would do now."""
    try:
        from adoscale.core.settings import POLLER_REQUIRED, load_settings
        from adoscale.poller.wiring import build_poller
    except ImportError as error:
        raise CommandFailedError(f"--live is not available in this build: {error}") from None
    environ = dict(os.environ)
    if context.table:
        environ["ADOSCALE_TABLE"] = context.table
    if context.endpoint_url:
        environ["AWS_ENDPOINT_URL"] = context.endpoint_url
    try:
        settings = load_settings(environ, required=POLLER_REQUIRED)
    except ConfigError as error:
        raise CommandFailedError(f"--live needs the poller's settings: {error}") from None
    with _environment("AWS_ENDPOINT_URL", context.endpoint_url):
        runtime = build_poller(settings, session=context.session())
        result = runtime.poller.poll(act=False).to_result()
    queues: dict[str, dict[str, Any]] = {}
    for name, row in result.get("queues", {}).items():
        entry = dict(row)
        action, count = row.get("action", Action.NONE), row.get("count", 0)
        entry["last_action_text"] = "none" if action == Action.NONE else f"would {action} {count}"
        queues[name] = entry
    return {"source": "live", "queues": queues, "errors": result.get("errors", [])}


@contextlib.contextmanager
def _environment(name: str, value: str | None) -> Iterator[None]:
    """``--endpoint-url`` for code that reads the standard variable (build_poller)."""
    if value is None:
        yield
        return
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _age(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
