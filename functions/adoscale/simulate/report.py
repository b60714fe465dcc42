"""Markdown tables of a comparison or a sweep: what the CLI prints and the docs carry."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from adoscale.simulate.policies import ORACLE
from adoscale.simulate.runner import Comparison, Sweep, SweepPoint


def describe_params(comparison: Comparison) -> str:
    p = comparison.params
    hook = (
        f", fast path {p.fast_path_delay_s:g} s after each job"
        if p.fast_path_delay_s is not None
        else ""
    )
    unique = ", executions named per poll" if p.unique_executions else ""
    reuse = (
        f", adoscale's agents run up to {p.max_jobs_per_agent} jobs"
        f" (warm speed-up {p.warm_speedup:g})"
        if p.max_jobs_per_agent > 1
        else ""
    )
    return (
        f"trace `{comparison.trace}`: {comparison.jobs} jobs"
        + (f" ({comparison.unmatched} left out: demands not met)" if comparison.unmatched else "")
        + f"; start-up {p.startup.describe()}; poll every {p.poll_interval_s:g} s{hook}{unique}"
        f"{reuse};"
        f" standby {p.standby_agents}, idle timeout {p.idle_timeout_minutes} min,"
        f" max {p.max_agents} agents; {p.prices.vcpu:g} vCPU / {p.prices.memory_gb:g} GB at"
        f" ${p.prices.agent_hour_usd:.4f} per agent-hour (Spot share {p.prices.spot_share:g})"
    )


def comparison_table(comparison: Comparison) -> str:
    try:
        oracle_minutes = comparison.result(ORACLE).agent_minutes
    except KeyError:
        oracle_minutes = None
    lines = [
        "| policy | p50 wait (s) | p95 wait (s) | max wait (s) | agent-minutes | x oracle"
        " | cost (USD) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in comparison.results:
        ratio = f"{r.agent_minutes / oracle_minutes:.2f}" if oracle_minutes else "-"
        lines.append(
            f"| {r.policy} | {r.p50_wait_s:.0f} | {r.p95_wait_s:.0f} | {r.max_wait_s:.0f}"
            f" | {r.agent_minutes:,.0f} | {ratio} | {r.cost_usd:,.2f} |"
        )
    observed = comparison.observed
    if observed is not None:
        lines.append(
            f"| observed (history, {observed.jobs} jobs) | {observed.p50_wait_s:.0f}"
            f" | {observed.p95_wait_s:.0f} | {observed.max_wait_s:.0f} | - | - | - |"
        )
    return "\n".join(lines)


def sweep_table(result: Sweep) -> str:
    """One row per standby count and outcome: idle timeouts that change nothing share a row."""
    oracle = result.oracle.agent_minutes
    lines = [
        "| standby | idle timeout (min) | p50 wait (s) | p95 wait (s) | agent-minutes"
        " | x oracle | on front |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | :---: |",
    ]
    groups: list[list[SweepPoint]] = []
    for point in result.points:
        last = groups[-1][-1] if groups else None
        if last is not None and _same_outcome(last, point):
            groups[-1].append(point)
        else:
            groups.append([point])
    for group in groups:
        r = group[0].result
        if result.recommended in group:
            mark = "**recommended**"
        else:
            mark = "yes" if any(p.on_front for p in group) else ""
        idle = ", ".join(str(p.idle_timeout_minutes) for p in group)
        lines.append(
            f"| {group[0].standby_agents} | {idle} | {r.p50_wait_s:.0f} | {r.p95_wait_s:.0f}"
            f" | {r.agent_minutes:,.0f} | {r.agent_minutes / oracle:.2f} | {mark} |"
        )
    return "\n".join(lines)


def _same_outcome(a: SweepPoint, b: SweepPoint) -> bool:
    return a.standby_agents == b.standby_agents and _figures(a) == _figures(b)


def _figures(point: SweepPoint) -> tuple[float, float, float]:
    r = point.result
    return (round(r.p50_wait_s, 3), round(r.p95_wait_s, 3), round(r.agent_minutes, 3))


def recommendation(result: Sweep) -> str:
    point = result.recommended
    r = point.result
    ratio = r.agent_minutes / result.oracle.agent_minutes
    why = (
        f"the lowest p95 wait on the front within {result.budget:g}x the oracle's agent-minutes"
        if result.within_budget
        else f"no setting stays within {result.budget:g}x the oracle's agent-minutes: the cheapest"
    )
    return (
        f"recommended: standby_agents={point.standby_agents},"
        f" idle_timeout_minutes={point.idle_timeout_minutes} (p95 wait {r.p95_wait_s:.0f} s,"
        f" {r.agent_minutes:,.0f} agent-minutes = {ratio:.2f}x"
        f" the oracle's): {why}"
    )


def comparison_json(comparison: Comparison) -> dict[str, Any]:
    params = asdict(comparison.params)
    params["capabilities"] = (
        dict(comparison.params.capabilities) if comparison.params.capabilities else None
    )
    return {
        "trace": comparison.trace,
        "jobs": comparison.jobs,
        "unmatched": comparison.unmatched,
        "params": params,
        "results": [r.to_json() for r in comparison.results],
        "observed": asdict(comparison.observed) if comparison.observed else None,
    }


def sweep_json(result: Sweep) -> dict[str, Any]:
    return {
        "trace": result.trace,
        "budget": result.budget,
        "oracle": result.oracle.to_json(),
        "within_budget": result.within_budget,
        "recommended": {
            "standby_agents": result.recommended.standby_agents,
            "idle_timeout_minutes": result.recommended.idle_timeout_minutes,
        },
        "points": [
            {
                "standby_agents": p.standby_agents,
                "idle_timeout_minutes": p.idle_timeout_minutes,
                "on_front": p.on_front,
                **p.result.to_json(),
            }
            for p in result.points
        ],
    }


def dumps(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=False)
