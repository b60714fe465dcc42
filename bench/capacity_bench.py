"""Benchmark: how long jobs wait on an ec2 agent profile beside a Fargate one.

The bundled traces (bursty, steady) replayed through adoscale's policy (the real counting
and policy code at every poll) at the stack defaults, once with Fargate's start-up
distribution and once with EC2's (instance boot + image pull on an empty instance; the
numbers and their sources are in ``adoscale.simulate.params`` and docs/ec2-capacity.md).
A standby agent is the usual answer to a slow start; its row shows what it buys on ec2.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from adoscale.simulate.params import STARTUP_BY_CAPACITY, SimParams
from adoscale.simulate.policies import ADOSCALE
from adoscale.simulate.runner import run_policy
from adoscale.simulate.trace import BUNDLED, load_trace

VARIANTS = (
    ("fargate", 0),
    ("ec2", 0),
    ("ec2", 1),
)


def run() -> dict[str, Any]:
    rows = []
    for trace_name in sorted(BUNDLED):
        trace = load_trace(trace_name)
        for capacity, standby in VARIANTS:
            params = replace(
                SimParams(), startup=STARTUP_BY_CAPACITY[capacity], standby_agents=standby
            )
            result = run_policy(ADOSCALE, trace, params)
            rows.append(
                {
                    "trace": trace_name,
                    "capacity": capacity,
                    "standby": standby,
                    "startup": params.startup.describe(),
                    "jobs": result.jobs,
                    "p50_wait_s": round(result.p50_wait_s, 1),
                    "p95_wait_s": round(result.p95_wait_s, 1),
                    "agent_hours": round(result.agent_minutes / 60, 1),
                }
            )
    return {"rows": rows, "table": table(rows)}


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| trace | capacity | standby | p50 wait (s) | p95 wait (s) | agent-hours |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r['trace']} | {r['capacity']} | {r['standby']} | {r['p50_wait_s']:g} "
        f"| {r['p95_wait_s']:g} | {r['agent_hours']:g} |"
        for r in rows
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run()["table"])
