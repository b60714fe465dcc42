"""``adoscale recommend``: a standby schedule from a trace, fitted on one week, judged on the next.

Reads a trace as ``adoscale simulate`` does (a file, a bundled name, ``--generate`` or
``--from-ado POOL --days N``), prints what no standby, the best constant standby, the
recommended schedule and the peers do on the fit week and on the held-out week, and with
``--apply QUEUE`` writes the schedule into that queue item through the same validated,
all-or-nothing path as ``adoscale queues put``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from adoscale.cli.context import BadInputError, CliContext, CommandFailedError
from adoscale.core.exceptions import InputError, QueueConfigError
from adoscale.core.schema import Queue
from adoscale.core.standby import parse_timezone
from adoscale.documents import apply_queue_document
from adoscale.simulate.cli import ORG_ENV, SimulateInputError, _trace
from adoscale.simulate.generate import KINDS
from adoscale.simulate.params import POLL_INTERVAL_S, SimParams, StartupTime
from adoscale.simulate.recommend import (
    DEFAULT_BUDGET,
    Recommendation,
    evaluation_table,
    plot_week,
    recommend,
    summary,
)
from adoscale.simulate.report import dumps

pass_context = click.make_pass_decorator(CliContext, ensure=True)
BUNDLED_WEEK = "working-hours"  # one week of Berlin office hours with a weekend


@click.command("recommend")
@click.argument("trace_source", metavar="[TRACE]", required=False)
@click.option("--generate", "generate_kind", type=click.Choice(KINDS), help="A generated trace.")
@click.option("--jobs-per-day", type=click.FloatRange(min=1), default=500, show_default=True)
@click.option(
    "--days",
    type=click.FloatRange(min=0.01, max=365),
    default=14,
    show_default=True,
    help="Length of a generated trace, or how far back --from-ado looks.",
)
@click.option("--trace-seed", type=int, default=7, show_default=True, help="Generator seed.")
@click.option("--from-ado", "from_ado", metavar="POOL", help="A pool's finished jobs.")
@click.option("--org-url", envvar=ORG_ENV, show_envvar=True, help="Organisation for --from-ado.")
@click.option(
    "--timezone",
    default="UTC",
    show_default=True,
    help="IANA zone whose wall clock the hours of the week and the windows use.",
)
@click.option("--target-p95", type=click.FloatRange(min=0), help="Goal: p95 wait (seconds).")
@click.option(
    "--budget",
    type=click.FloatRange(min=0.01),
    help=f"Goal: agent-minutes at most this x the oracle's (default {DEFAULT_BUDGET:g}).",
)
@click.option(
    "--holdout-days",
    type=click.FloatRange(min=1, max=60),
    default=7,
    show_default=True,
    help="The last days held out for the honest evaluation.",
)
@click.option("--max-agents", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--idle-timeout", type=click.IntRange(1, 1440), default=10, show_default=True)
@click.option("--startup-median", type=click.FloatRange(min=1), default=60.0, show_default=True)
@click.option("--startup-sigma", type=click.FloatRange(min=0), default=0.25, show_default=True)
@click.option(
    "--poll-interval", type=click.FloatRange(min=1), default=POLL_INTERVAL_S, show_default=True
)
@click.option("--seed", type=int, default=1, show_default=True, help="Start-up time seed.")
@click.option("--no-peers", is_flag=True, help="Leave out the keda-like and scale-set-like rows.")
@click.option("--apply", "apply_queue", metavar="QUEUE", help="Write the schedule into QUEUE.")
@click.option("--png", type=click.Path(dir_okay=False), help="Draw the week here.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write JSON here.")
@pass_context
def recommend_command(context: CliContext, **options: Any) -> None:
    """Recommend a standby schedule from a trace: fit on one week, evaluate on the next.

    TRACE is a CSV/JSON file or a bundled trace (working-hours, the default; bursty,
    steady). The goal is
    --target-p95 SECONDS (cheapest schedule that meets it) or --budget X (best p95 within X
    times the oracle's agent-minutes; the default).
    """
    if options["target_p95"] is not None and options["budget"] is not None:
        raise SimulateInputError(["give one of --target-p95 and --budget"])
    try:
        timezone = parse_timezone(options["timezone"])
    except ValueError as error:
        raise SimulateInputError([f"--timezone: {error}"]) from None
    queue = _queue(context, options["apply_queue"]) if options["apply_queue"] else None
    if not (options["trace_source"] or options["generate_kind"] or options["from_ado"]):
        options["trace_source"] = BUNDLED_WEEK
    trace = _trace(options)
    params = _params(options, queue)
    budget = options["budget"]
    if options["target_p95"] is None and budget is None:
        budget = DEFAULT_BUDGET
    try:
        result = recommend(
            trace,
            params,
            timezone=timezone,
            target_p95_s=options["target_p95"],
            budget=budget,
            holdout_days=options["holdout_days"],
            peers=not options["no_peers"],
        )
    except ValueError as error:
        raise SimulateInputError([str(error)]) from None
    click.echo(summary(result))
    click.echo("")
    click.echo(evaluation_table(result.fit))
    if result.held_out is not None:
        click.echo("")
        click.echo(evaluation_table(result.held_out))
    if options["json_path"]:
        Path(options["json_path"]).write_text(dumps(result.to_json()), encoding="utf-8")
    if options["png"]:
        plot_week(result, Path(options["png"]))
        click.echo(f"\nfigure: {options['png']}")
    if queue is not None:
        _apply(context, queue, result)


def _params(options: dict[str, Any], queue: Queue | None) -> SimParams:
    """The simulated queue; with --apply, that queue's own limits and capabilities."""
    try:
        return SimParams(
            startup=StartupTime(options["startup_median"], options["startup_sigma"]),
            poll_interval_s=options["poll_interval"],
            max_agents=queue.max_agents if queue else options["max_agents"],
            idle_timeout_minutes=queue.idle_timeout_minutes if queue else options["idle_timeout"],
            capabilities=queue.capabilities if queue else None,
            max_jobs_per_agent=queue.max_jobs_per_agent if queue else 1,
            seed=options["seed"],
        )
    except ValueError as error:
        raise SimulateInputError([str(error)]) from None


def _queue(context: CliContext, name: str) -> Queue:
    try:
        queue = context.store().get(name)
    except QueueConfigError as error:
        raise BadInputError(
            [f"{name}: {line}" for line in error.lines()],
            f"nothing written: queue {name!r} is stored but invalid; fix it first",
        ) from None
    if queue is None:
        raise CommandFailedError(f"queue {name!r} not found in table {context.table}")
    return queue


def _apply(context: CliContext, queue: Queue, result: Recommendation) -> None:
    """The queue item with the recommended standby, written as `queues put` writes it."""
    item = queue.to_item()
    item["standby_agents"] = result.standby_agents
    item["standby_schedule"] = [window.to_item() for window in result.schedule]
    source = f"recommendation for {queue.queue}.json"
    try:
        apply_queue_document(context.store(), json.dumps(item), source)
    except InputError as error:
        raise BadInputError(error.problems, f"nothing written to {queue.queue}") from None
    windows = len(result.schedule)
    click.echo(
        f"\nwrote standby_agents={result.standby_agents} and {windows} standby window(s)"
        f" to queue {queue.queue} in {context.table}"
    )
