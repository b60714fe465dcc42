"""The reuse sweep: adoscale with reusable agents over jobs-per-agent x idle time, and peers.

Each point runs the poller's own counting and policy with the queue's
``max_jobs_per_agent`` and ``idle_timeout_minutes`` (how long a reusable agent waits for its
next job); the peers and the oracle run once, as the comparison runs them, for reference.
With N = 1 the idle time only touches agents that never ran a job (standby agents, launches
that came too late), so those rows barely differ: they are each idle time's baseline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from adoscale.simulate.metrics import RunResult
from adoscale.simulate.params import SimParams
from adoscale.simulate.policies import ADOSCALE, KEDA, ORACLE, SCALE_SET
from adoscale.simulate.runner import run_policy
from adoscale.simulate.trace import Trace

DEFAULT_MAX_JOBS_VALUES = (1, 5, 20)
DEFAULT_REUSE_IDLE_VALUES = (1, 2, 5)
PEERS = (KEDA, SCALE_SET, ORACLE)


@dataclass(frozen=True)
class ReusePoint:
    max_jobs_per_agent: int
    idle_minutes: int
    result: RunResult


@dataclass(frozen=True)
class ReuseSweep:
    trace: str
    jobs: int
    warm_speedup: float
    points: tuple[ReusePoint, ...]
    peers: tuple[RunResult, ...]

    def point(self, max_jobs: int, idle_minutes: int) -> ReusePoint:
        for point in self.points:
            if (point.max_jobs_per_agent, point.idle_minutes) == (max_jobs, idle_minutes):
                return point
        raise KeyError((max_jobs, idle_minutes))


def reuse_sweep(
    trace: Trace,
    params: SimParams,
    max_jobs_values: Iterable[int] = DEFAULT_MAX_JOBS_VALUES,
    idle_values: Iterable[int] = DEFAULT_REUSE_IDLE_VALUES,
    peers: Iterable[str] = PEERS,
) -> ReuseSweep:
    """adoscale at each (N, idle) on the same trace and start-up times; peers once."""
    max_jobs_values, idle_values = sorted(set(max_jobs_values)), sorted(set(idle_values))
    if not max_jobs_values or not idle_values:
        raise ValueError("reuse sweep: needs at least one jobs-per-agent value and one idle time")
    points = tuple(
        ReusePoint(
            jobs,
            idle,
            run_policy(
                ADOSCALE,
                trace,
                replace(params, max_jobs_per_agent=jobs, idle_timeout_minutes=idle),
            ),
        )
        for jobs in max_jobs_values
        for idle in idle_values
    )
    one_job = replace(params, max_jobs_per_agent=1)
    results = tuple(run_policy(name, trace, one_job) for name in peers)
    count = points[0].result.jobs
    return ReuseSweep(trace.name, count, params.warm_speedup, points, results)


def reuse_table(result: ReuseSweep) -> str:
    """Markdown: one row per (N, idle), then the peers; agent-minutes also relative to N = 1."""
    baseline = {
        p.idle_minutes: p.result.agent_minutes for p in result.points if p.max_jobs_per_agent == 1
    }
    lines = [
        "| agent runs up to | idle time (min) | p50 wait (s) | p95 wait (s) | agent-minutes"
        " | x one-job |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for point in result.points:
        r = point.result
        base = baseline.get(point.idle_minutes)
        ratio = f"{r.agent_minutes / base:.2f}" if base else "-"
        label = (
            "1 job (default)"
            if point.max_jobs_per_agent == 1
            else f"{point.max_jobs_per_agent} jobs"
        )
        lines.append(
            f"| {label} | {point.idle_minutes} | {r.p50_wait_s:.0f} | {r.p95_wait_s:.0f}"
            f" | {r.agent_minutes:,.0f} | {ratio} |"
        )
    for r in result.peers:
        lines.append(
            f"| {r.policy} (one-job) | - | {r.p50_wait_s:.0f} | {r.p95_wait_s:.0f}"
            f" | {r.agent_minutes:,.0f} | - |"
        )
    return "\n".join(lines)


def reuse_json(result: ReuseSweep) -> dict[str, Any]:
    return {
        "trace": result.trace,
        "jobs": result.jobs,
        "warm_speedup": result.warm_speedup,
        "points": [
            {
                "max_jobs_per_agent": p.max_jobs_per_agent,
                "idle_minutes": p.idle_minutes,
                **p.result.to_json(),
            }
            for p in result.points
        ],
        "peers": [r.to_json() for r in result.peers],
    }
