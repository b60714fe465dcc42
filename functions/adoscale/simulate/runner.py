"""Run policies over a trace: one policy, the side-by-side comparison, and the sweep.

Every policy sees the same jobs and draws start-up times from the same seeded stream, so
differences between rows come from the policies, not from luck.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from adoscale.core.demands import demands_met
from adoscale.simulate.engine import Policy, Simulation
from adoscale.simulate.metrics import RunResult, percentile, summarise
from adoscale.simulate.params import SimParams
from adoscale.simulate.policies import (
    ADOSCALE,
    KEDA,
    ORACLE,
    POLICIES,
    SCALE_SET,
    AdoscalePolicy,
    KedaLikePolicy,
    ScaleSetLikePolicy,
    run_oracle,
)
from adoscale.simulate.trace import Trace, TraceJob

DEFAULT_BUDGET = 1.15  # the sweep's default: agent-minutes at most 1.15x the oracle's


def make_policy(name: str, params: SimParams) -> Policy:
    if name == ADOSCALE:
        return AdoscalePolicy(params)
    if name == KEDA:
        return KedaLikePolicy(params)
    if name == SCALE_SET:
        return ScaleSetLikePolicy(params)
    raise ValueError(f"policy: one of {', '.join(POLICIES)}, got {name!r}")


def matching_jobs(trace: Trace, params: SimParams) -> tuple[list[TraceJob], int]:
    """The jobs this queue's agents can run (their demands), and how many it cannot."""
    if params.capabilities is None:
        return list(trace.jobs), 0
    jobs = [job for job in trace.jobs if demands_met(job.demands, params.capabilities)]
    return jobs, len(trace.jobs) - len(jobs)


def run_policy(
    name: str, trace: Trace, params: SimParams, *, record_timeline: bool = False
) -> RunResult:
    if params.clock_start is None and trace.start is not None:
        params = replace(params, clock_start=trace.start)
    jobs, _ = matching_jobs(trace, params)
    started = time.perf_counter()
    if name == ORACLE:
        outcome = run_oracle(jobs, params, trace.span_s)
    else:
        sim = Simulation(
            jobs,
            params,
            make_policy(name, params),
            span_s=trace.span_s,
            record_timeline=record_timeline,
        )
        outcome = sim.run()
    return summarise(name, outcome, params.prices, time.perf_counter() - started)


@dataclass(frozen=True)
class Observed:
    """The waits an organisation really saw (traces from Azure DevOps history)."""

    jobs: int
    p50_wait_s: float
    p95_wait_s: float
    max_wait_s: float


@dataclass(frozen=True)
class Comparison:
    trace: str
    jobs: int
    unmatched: int
    params: SimParams
    results: tuple[RunResult, ...]
    observed: Observed | None = None

    def result(self, policy: str) -> RunResult:
        for result in self.results:
            if result.policy == policy:
                return result
        raise KeyError(policy)


def compare(
    trace: Trace,
    params: SimParams,
    policies: Sequence[str] = POLICIES,
    *,
    record_timeline: bool = False,
) -> Comparison:
    jobs, unmatched = matching_jobs(trace, params)
    results = tuple(
        run_policy(name, trace, params, record_timeline=record_timeline) for name in policies
    )
    waits = trace.observed_waits()
    observed = (
        Observed(len(waits), percentile(waits, 50), percentile(waits, 95), max(waits))
        if waits
        else None
    )
    return Comparison(trace.name, len(jobs), unmatched, params, results, observed)


@dataclass(frozen=True)
class SweepPoint:
    standby_agents: int
    idle_timeout_minutes: int
    result: RunResult
    on_front: bool = False


@dataclass(frozen=True)
class Sweep:
    """adoscale over standby x idle timeout, its wait-vs-cost front and the recommendation.

    Recommendation rule: among the settings on the front (no other setting waits less at
    p95 *and* costs fewer agent-minutes), the one with the lowest p95 wait whose
    agent-minutes stay within ``budget`` times the reactive oracle's; ties go to fewer
    agent-minutes, then fewer standby agents, then the shorter idle timeout. When no setting
    fits the budget, the cheapest setting is recommended.
    """

    trace: str
    points: tuple[SweepPoint, ...]
    oracle: RunResult
    budget: float
    recommended: SweepPoint
    within_budget: bool


def sweep(
    trace: Trace,
    params: SimParams,
    standby_values: Iterable[int],
    idle_values: Iterable[int],
    *,
    budget: float = DEFAULT_BUDGET,
) -> Sweep:
    if not budget > 0:
        raise ValueError(f"budget: must be > 0, got {budget}")
    standby_values, idle_values = sorted(set(standby_values)), sorted(set(idle_values))
    if not standby_values or not idle_values:
        raise ValueError("sweep: needs at least one standby value and one idle timeout")
    raw = [
        SweepPoint(
            standby,
            idle,
            run_policy(
                ADOSCALE,
                trace,
                replace(params, standby_agents=standby, idle_timeout_minutes=idle),
            ),
        )
        for standby in standby_values
        for idle in idle_values
    ]
    front = pareto_front([(p.result.p95_wait_s, p.result.agent_minutes) for p in raw])
    points = tuple(replace(p, on_front=i in front) for i, p in enumerate(raw))
    oracle = run_policy(ORACLE, trace, params)
    limit = budget * oracle.agent_minutes
    affordable = [p for p in points if p.on_front and p.result.agent_minutes <= limit]
    if affordable:
        chosen = min(affordable, key=_preference)
    else:
        chosen = min(points, key=lambda p: (p.result.agent_minutes, *_preference(p)))
    return Sweep(trace.name, points, oracle, budget, chosen, bool(affordable))


def _preference(point: SweepPoint) -> tuple[float, float, int, int]:
    result = point.result
    return (
        round(result.p95_wait_s, 6),
        round(result.agent_minutes, 6),
        point.standby_agents,
        point.idle_timeout_minutes,
    )


def pareto_front(points: Sequence[tuple[float, float]]) -> set[int]:
    """Indexes of the points no other point dominates (both coordinates lower is better)."""
    front = set()
    for i, (wait, cost) in enumerate(points):
        dominated = any(
            (w <= wait and c <= cost) and (w < wait or c < cost)
            for j, (w, c) in enumerate(points)
            if j != i
        )
        if not dominated:
            front.add(i)
    return front
