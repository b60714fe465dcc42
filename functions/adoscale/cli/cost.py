"""``adoscale cost``: the control plane's monthly AWS bill, line by line, every price sourced.

A thin command over the cost model (``adoscale.simulate.cost``): the prices and the usage
figures are its parameters, each overridable here, so a platform team can put its own
discounts, region or load in and see what changes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from adoscale.cli.context import BadInputError, CliContext
from adoscale.cli.render import echo_json
from adoscale.simulate.cost import (
    DEFAULT_PRICES,
    MonthlyCost,
    Usage,
    execution_costs,
    monthly_cost,
    with_prices,
)

pass_context = click.make_pass_decorator(CliContext, ensure=True)


def _pairs(values: tuple[str, ...], option: str) -> tuple[dict[str, str], list[str]]:
    pairs: dict[str, str] = {}
    problems: list[str] = []
    for value in values:
        name, sep, number = value.partition("=")
        if not sep or not name.strip():
            problems.append(f"{option}: expected NAME=VALUE, got {value!r}")
            continue
        pairs[name.strip()] = number.strip()
    return pairs, problems


def _usage(queues_share: float | None, settings: dict[str, str]) -> tuple[Usage, list[str]]:
    known = {f.name: f for f in dataclasses.fields(Usage)}
    values: dict[str, Any] = {}
    problems = [f"--set: unknown usage figure {name!r}" for name in settings if name not in known]
    for name, raw in settings.items():
        if name not in known:
            continue
        if name == "express_actions":
            values[name] = raw
            continue
        try:
            values[name] = float(raw)
        except ValueError:
            problems.append(f"--set {name}: not a number: {raw!r}")
    if queues_share is not None:
        values["active_share"] = queues_share
    if problems:
        return Usage(), problems
    try:
        return Usage(**values), []
    except ValueError as error:  # names the field
        return Usage(), [f"--set {error}"]


def cost_document(cost: MonthlyCost, usage: Usage) -> dict[str, Any]:
    """What ``--json`` prints: totals, line items with their prices and sources, inputs."""
    return {
        "queues": cost.queues,
        "total_usd": round(cost.total_usd, 2),
        "per_queue_usd": round(cost.total_usd / cost.queues, 2),
        "items": [
            {
                "service": item.service,
                "quantity": item.quantity,
                "unit": item.unit,
                "usd": round(item.usd, 4),
                "price": item.price,
                "source": item.source,
            }
            for item in cost.items
        ],
        "executions": [
            {
                "action": c.action,
                "transitions": c.transitions,
                "duration_seconds": round(c.duration_s, 1),
                "standard_usd": c.standard_usd,
                "express_usd": c.express_usd,
                "runs_on": "express" if c.action in usage.express_list else "standard",
            }
            for c in execution_costs(usage)
        ],
        "usage": dataclasses.asdict(usage),
    }


@click.command()
@click.option(
    "--queues",
    type=click.IntRange(min=1, max=100_000),
    required=True,
    help="Number of queues in the stack.",
)
@click.option(
    "--active-share",
    type=click.FloatRange(min=0.0, max=1.0),
    default=None,
    help="Share of minutes the stack is active (default 0.45: about 11 busy hours a day).",
)
@click.option(
    "--price",
    "prices",
    multiple=True,
    metavar="NAME=USD",
    help="Override a price (repeat); names as listed by --json under items[].price.",
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Override a usage figure (repeat), e.g. executions_per_queue_day=20.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document (also --output json).")
@pass_context
def cost(
    ctx: CliContext,
    queues: int,
    active_share: float | None,
    prices: tuple[str, ...],
    settings: tuple[str, ...],
    as_json: bool,
) -> None:
    """The control plane's monthly AWS bill: line items, each price with its source."""
    price_pairs, problems = _pairs(prices, "--price")
    setting_pairs, more = _pairs(settings, "--set")
    problems += more
    overrides: dict[str, float] = {}
    for name, raw in price_pairs.items():
        if name not in DEFAULT_PRICES:
            problems.append(f"--price: unknown price {name!r} (known: {', '.join(DEFAULT_PRICES)})")
            continue
        try:
            overrides[name] = float(raw)
        except ValueError:
            problems.append(f"--price {name}: not a number: {raw!r}")
            continue
        if overrides[name] < 0:
            problems.append(f"--price {name}: must be >= 0")
    usage, more = _usage(active_share, setting_pairs)
    problems += more
    if problems:
        raise BadInputError(problems, "nothing estimated")
    result = monthly_cost(queues, usage, with_prices(overrides))
    if as_json or ctx.output == "json":
        echo_json(cost_document(result, usage))
        return
    width = max(len(item.service) for item in result.items)
    for item in result.items:
        click.echo(f"{item.service:<{width}}  ${item.usd:>10,.2f}  {item.source}")
    click.echo(f"{'total per month':<{width}}  ${result.total_usd:>10,.2f}")
    click.echo(f"{'per queue':<{width}}  ${result.total_usd / queues:>10,.2f}")
