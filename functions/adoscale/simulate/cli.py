"""``adoscale simulate``: replay a trace through adoscale's policy and its peers', or sweep.

The CLI's ``adoscale`` group adds this command; ``python -m adoscale.simulate`` runs it alone.
Bad input exits 2 with one line per problem; an Azure DevOps failure exits 1.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from adoscale.core.exceptions import AdoError, InputError
from adoscale.simulate.generate import KINDS, Shape, generate
from adoscale.simulate.params import (
    POLL_INTERVAL_S,
    POLL_QUIET_INTERVAL_S,
    STARTUP_BY_CAPACITY,
    AgentPrices,
    SimParams,
    StartupTime,
)
from adoscale.simulate.policies import POLICIES
from adoscale.simulate.report import (
    comparison_json,
    comparison_table,
    describe_params,
    dumps,
    recommendation,
    sweep_json,
    sweep_table,
)
from adoscale.simulate.reuse import (
    DEFAULT_MAX_JOBS_VALUES,
    DEFAULT_REUSE_IDLE_VALUES,
    reuse_json,
    reuse_sweep,
    reuse_table,
)
from adoscale.simulate.runner import DEFAULT_BUDGET, compare, sweep
from adoscale.simulate.trace import BUNDLED, Trace, load_trace, to_csv

PAT_ENVS = ("ADOSCALE_PAT", "AZURE_DEVOPS_EXT_PAT")
ORG_ENV = "ADOSCALE_ORG_URL"
DEFAULT_STANDBY_VALUES = "0,1,2,3,4"
DEFAULT_IDLE_VALUES = "5,10,30,60"


class SimulateInputError(click.ClickException):
    """Exit 2 with one line per problem, as every ``adoscale`` command does for bad input."""

    exit_code = 2

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)

    def show(self, file: Any = None) -> None:
        for line in self.problems:
            click.echo(f"error: {line}", err=True)


class SimulateFailedError(click.ClickException):
    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.message}", err=True)


def _whole_list(option: str, text: str, low: int, high: int) -> list[int]:
    values = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or not low <= int(part) <= high:
            raise SimulateInputError(
                [f"{option}: {part!r} is not a whole number {low}..{high} (comma-separated list)"]
            )
        values.append(int(part))
    return values


@click.command("simulate")
@click.argument("trace_source", metavar="[TRACE]", required=False)
@click.option(
    "--generate",
    "generate_kind",
    type=click.Choice(KINDS),
    help="Replay a generated trace instead of a file.",
)
@click.option("--jobs-per-day", type=click.FloatRange(min=1), default=500, show_default=True)
@click.option(
    "--days",
    type=click.FloatRange(min=0.01, max=365),
    default=1,
    show_default=True,
    help="Length of a generated trace, or how far back --from-ado looks.",
)
@click.option("--trace-seed", type=int, default=7, show_default=True, help="Generator seed.")
@click.option("--from-ado", "from_ado", metavar="POOL", help="Replay a pool's finished jobs.")
@click.option(
    "--org-url",
    envvar=ORG_ENV,
    show_envvar=True,
    help="Azure DevOps organisation URL for --from-ado (PAT from ADOSCALE_PAT).",
)
@click.option("--save-trace", type=click.Path(dir_okay=False), help="Write the trace as CSV.")
@click.option(
    "--capacity",
    type=click.Choice(tuple(STARTUP_BY_CAPACITY)),
    default="fargate",
    show_default=True,
    help="The agent profile's capacity: sets the start-up defaults (ec2 includes instance boot).",
)
@click.option(
    "--startup-median",
    type=click.FloatRange(min=1),
    help="Seconds from RunTask to a registered agent [default: 60 fargate, 210 ec2].",
)
@click.option(
    "--startup-sigma",
    type=click.FloatRange(min=0),
    help="Lognormal shape of the start-up time [default: 0.25 fargate, 0.3 ec2].",
)
@click.option(
    "--poll-interval", type=click.FloatRange(min=1), default=POLL_INTERVAL_S, show_default=True
)
@click.option(
    "--quiet-interval",
    type=click.FloatRange(min=1),
    default=POLL_QUIET_INTERVAL_S,
    show_default=True,
    help="Seconds between poll cycles while the queue is quiet (the stack's"
    " pollQuietIntervalSeconds).",
)
@click.option("--standby", type=click.IntRange(0, 1000), default=0, show_default=True)
@click.option(
    "--idle-timeout",
    type=click.IntRange(1, 1440),
    default=10,
    show_default=True,
    help="Minutes.",
)
@click.option("--max-agents", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option(
    "--max-jobs-per-agent",
    type=click.IntRange(1, 1000),
    default=1,
    show_default=True,
    help="Jobs one agent runs before it leaves (the queue's max_jobs_per_agent); above 1 an"
    " agent waits --idle-timeout minutes for its next job.",
)
@click.option(
    "--warm-speedup",
    type=click.FloatRange(0, 1, min_open=True),
    default=1.0,
    show_default=True,
    help="A job on a reused agent takes this share of its duration (warm caches).",
)
@click.option("--capabilities", help='The queue\'s capabilities as JSON, e.g. \'{"docker": ""}\'.')
@click.option("--launch-delay", type=click.FloatRange(min=0), default=2.0, show_default=True)
@click.option("--teardown", type=click.FloatRange(min=0), default=5.0, show_default=True)
@click.option(
    "--fast-path",
    type=click.FloatRange(min=0),
    help="The service hook: its webhook arrives this many seconds after each queued job"
    " (Azure DevOps' delivery, ~1 s); it polls at the end of its 2 s debounce window.",
)
@click.option(
    "--unique-executions",
    is_flag=True,
    help="What-if: name executions per poll, not per (queue, action, minute).",
)
@click.option("--spot-share", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--spot-discount", type=click.FloatRange(0, 1), default=0.70, show_default=True)
@click.option("--vcpu", type=click.FloatRange(min=0.25), default=2.0, show_default=True)
@click.option("--memory-gb", type=click.FloatRange(min=0.5), default=4.0, show_default=True)
@click.option("--vcpu-hour-price", type=click.FloatRange(min=0), default=0.04048, show_default=True)
@click.option("--gb-hour-price", type=click.FloatRange(min=0), default=0.004445, show_default=True)
@click.option(
    "--policies",
    default=",".join(POLICIES),
    show_default=True,
    help="Comma-separated policies to compare.",
)
@click.option("--sweep", "do_sweep", is_flag=True, help="Sweep standby x idle timeout instead.")
@click.option(
    "--sweep-reuse",
    "do_reuse_sweep",
    is_flag=True,
    help="Sweep jobs per agent x idle time instead, beside the peers.",
)
@click.option("--standby-values", default=DEFAULT_STANDBY_VALUES, show_default=True)
@click.option(
    "--idle-values",
    default=None,
    show_default=f"{DEFAULT_IDLE_VALUES}; with --sweep-reuse "
    + ",".join(map(str, DEFAULT_REUSE_IDLE_VALUES)),
)
@click.option(
    "--max-jobs-values",
    default=",".join(map(str, DEFAULT_MAX_JOBS_VALUES)),
    show_default=True,
    help="--sweep-reuse: jobs-per-agent values.",
)
@click.option(
    "--budget",
    type=click.FloatRange(min=0.01),
    default=DEFAULT_BUDGET,
    show_default=True,
    help="Sweep: agent-minutes allowed, as a multiple of the oracle's.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Start-up time seed.")
@click.option("--png", type=click.Path(dir_okay=False), help="Write a figure here.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write JSON here.")
def simulate(**options: Any) -> None:
    """Replay jobs through adoscale's policy and its peers'; print waits and agent-minutes.

    TRACE is a CSV/JSON file (queue_time, duration, demands) or a bundled trace: bursty,
    steady. Without TRACE, --generate or --from-ado, the bundled bursty trace is used.
    """
    trace = _trace(options)
    params = _params(options)
    if options["save_trace"]:
        Path(options["save_trace"]).write_text(to_csv(trace), encoding="utf-8")
    if options["do_sweep"] and options["do_reuse_sweep"]:
        raise SimulateInputError(["give one of --sweep and --sweep-reuse"])
    if options["do_sweep"]:
        _run_sweep(trace, params, options)
    elif options["do_reuse_sweep"]:
        _run_reuse_sweep(trace, params, options)
    else:
        _run_comparison(trace, params, options)


def _trace(options: dict[str, Any]) -> Trace:
    sources = [
        name for name in ("trace_source", "generate_kind", "from_ado") if options[name] is not None
    ]
    if len(sources) > 1:
        raise SimulateInputError(["give one of TRACE, --generate and --from-ado"])
    try:
        if options["generate_kind"]:
            shape = Shape(
                jobs_per_day=options["jobs_per_day"],
                days=options["days"],
                seed=options["trace_seed"],
            )
            return generate(options["generate_kind"], shape)
        if options["from_ado"]:
            return _history(options)
        return load_trace(options["trace_source"] or BUNDLED[0])
    except InputError as error:
        raise SimulateInputError(error.problems) from None


def _history(options: dict[str, Any]) -> Trace:
    from adoscale.ado.client import AdoClient
    from adoscale.simulate.history import history_trace, job_history

    org_url = options["org_url"]
    if not org_url:
        raise SimulateInputError([f"--org-url: required with --from-ado (or set {ORG_ENV})"])
    pat = next((os.environ[name] for name in PAT_ENVS if os.environ.get(name)), None)
    if not pat:
        raise SimulateInputError(
            [f"{PAT_ENVS[0]}: not set (the PAT --from-ado reads history with)"]
        )
    pool = options["from_ado"]
    try:
        client = AdoClient(org_url, pat)
        jobs = job_history(client, client.pool_id(pool))
    except AdoError as error:
        raise SimulateFailedError(f"{error.kind}: {error}") from None
    history = history_trace(jobs, datetime.now(UTC), options["days"], f"{pool}-history")
    if not history.trace.jobs:
        raise SimulateInputError(
            [f"--from-ado: pool {pool!r} has no finished jobs in the last {options['days']:g} days"]
        )
    if history.capped:
        click.echo(
            f"note: Azure DevOps returned {len(jobs)} job requests, covering the last"
            f" {history.covered_s / 3600:.1f} h of the {options['days']:g} days asked for",
            err=True,
        )
    if history.skipped:
        click.echo(
            f"note: {history.skipped} jobs never ran (cancelled or running): left out", err=True
        )
    return history.trace


def _startup(options: dict[str, Any]) -> StartupTime:
    """The capacity's start-up distribution, with what the options override."""
    base = STARTUP_BY_CAPACITY[options["capacity"]]
    median, sigma = options["startup_median"], options["startup_sigma"]
    return StartupTime(
        base.median_s if median is None else median, base.sigma if sigma is None else sigma
    )


def _params(options: dict[str, Any]) -> SimParams:
    capabilities = None
    if options["capabilities"] is not None:
        try:
            capabilities = json.loads(options["capabilities"])
        except json.JSONDecodeError as error:
            raise SimulateInputError([f"--capabilities: not JSON: {error.msg}"]) from None
        if not isinstance(capabilities, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in capabilities.items()
        ):
            raise SimulateInputError(["--capabilities: expected an object of strings"])
    try:
        return SimParams(
            startup=_startup(options),
            poll_interval_s=options["poll_interval"],
            poll_quiet_interval_s=options["quiet_interval"],
            standby_agents=options["standby"],
            idle_timeout_minutes=options["idle_timeout"],
            max_agents=options["max_agents"],
            capabilities=capabilities,
            launch_delay_s=options["launch_delay"],
            teardown_s=options["teardown"],
            fast_path_delay_s=options["fast_path"],
            unique_executions=options["unique_executions"],
            max_jobs_per_agent=options["max_jobs_per_agent"],
            warm_speedup=options["warm_speedup"],
            seed=options["seed"],
            prices=AgentPrices(
                vcpu=options["vcpu"],
                memory_gb=options["memory_gb"],
                vcpu_hour_usd=options["vcpu_hour_price"],
                gb_hour_usd=options["gb_hour_price"],
                spot_share=options["spot_share"],
                spot_discount=options["spot_discount"],
            ),
        )
    except ValueError as error:
        raise SimulateInputError([str(error)]) from None


def _run_comparison(trace: Trace, params: SimParams, options: dict[str, Any]) -> None:
    names = [name.strip() for name in options["policies"].split(",") if name.strip()]
    unknown = [name for name in names if name not in POLICIES]
    if unknown or not names:
        given = ", ".join(unknown) or "(none given)"
        raise SimulateInputError([f"--policies: unknown {given}; use {', '.join(POLICIES)}"])
    result = compare(trace, params, names, record_timeline=bool(options["png"]))
    if not result.jobs:
        raise SimulateInputError(["trace: no job's demands are met by --capabilities"])
    click.echo(describe_params(result))
    click.echo("")
    click.echo(comparison_table(result))
    _write_outputs(options, comparison_json(result), lambda path: _plot("comparison", result, path))


def _run_sweep(trace: Trace, params: SimParams, options: dict[str, Any]) -> None:
    standby = _whole_list("--standby-values", options["standby_values"], 0, params.max_agents)
    idle = _whole_list("--idle-values", options["idle_values"] or DEFAULT_IDLE_VALUES, 1, 1440)
    result = sweep(trace, params, standby, idle, budget=options["budget"])
    click.echo(f"sweep of adoscale on `{trace.name}` ({len(result.points)} settings)")
    click.echo("")
    click.echo(sweep_table(result))
    click.echo("")
    click.echo(recommendation(result))
    _write_outputs(options, sweep_json(result), lambda path: _plot("sweep", result, path))


def _run_reuse_sweep(trace: Trace, params: SimParams, options: dict[str, Any]) -> None:
    if options["png"]:
        raise SimulateInputError(["--png: not available with --sweep-reuse (use --json)"])
    jobs = _whole_list("--max-jobs-values", options["max_jobs_values"], 1, 1000)
    default_idle = ",".join(map(str, DEFAULT_REUSE_IDLE_VALUES))
    idle = _whole_list("--idle-values", options["idle_values"] or default_idle, 1, 1440)
    result = reuse_sweep(trace, params, jobs, idle)
    if not result.jobs:
        raise SimulateInputError(["trace: no job's demands are met by --capabilities"])
    click.echo(
        f"reuse sweep of adoscale on `{trace.name}` ({result.jobs} jobs, warm speed-up"
        f" {params.warm_speedup:g}, start-up {params.startup.describe()})"
    )
    click.echo("")
    click.echo(reuse_table(result))
    _write_outputs(options, reuse_json(result), lambda path: None)


def _write_outputs(options: dict[str, Any], document: Any, plot: Callable[[Path], None]) -> None:
    """``--json`` and ``--png``, the same way for a comparison and a sweep."""
    if options["json_path"]:
        Path(options["json_path"]).write_text(dumps(document), encoding="utf-8")
    if options["png"]:
        plot(Path(options["png"]))
        click.echo(f"\nfigure: {options['png']}")


def _plot(kind: str, result: Any, path: Path) -> None:
    from adoscale.simulate import plot  # matplotlib loads only when a figure is asked for

    (plot.plot_comparison if kind == "comparison" else plot.plot_sweep)(result, path)
