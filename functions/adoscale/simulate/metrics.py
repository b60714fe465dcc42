"""From a run's raw outcome to the figures a team decides on: waits, agent-minutes, cost."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from adoscale.simulate.engine import Outcome
from adoscale.simulate.params import AgentPrices


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); 0 for no values."""
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"q: must be 0..100, got {q}")
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class RunResult:
    """One policy on one trace: the row of the comparison table."""

    policy: str
    jobs: int
    p50_wait_s: float
    p95_wait_s: float
    max_wait_s: float
    mean_wait_s: float
    agent_minutes: float
    busy_minutes: float
    cost_usd: float
    agents_launched: int
    agents_retired: int
    executions: int
    wall_s: float = 0.0
    waits: tuple[float, ...] = field(default=(), repr=False, compare=False)
    timeline: tuple[tuple[float, int, int], ...] = field(default=(), repr=False, compare=False)

    @property
    def idle_minutes(self) -> float:
        """Billed minutes not spent running a job: start-up, idling, draining, teardown."""
        return max(0.0, self.agent_minutes - self.busy_minutes)

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "jobs": self.jobs,
            "p50_wait_s": round(self.p50_wait_s, 1),
            "p95_wait_s": round(self.p95_wait_s, 1),
            "max_wait_s": round(self.max_wait_s, 1),
            "mean_wait_s": round(self.mean_wait_s, 1),
            "agent_minutes": round(self.agent_minutes, 1),
            "busy_minutes": round(self.busy_minutes, 1),
            "cost_usd": round(self.cost_usd, 2),
            "agents_launched": self.agents_launched,
            "agents_retired": self.agents_retired,
            "executions": self.executions,
            "wall_s": round(self.wall_s, 3),
        }


def summarise(policy: str, outcome: Outcome, prices: AgentPrices, wall_s: float = 0.0) -> RunResult:
    waits = outcome.waits
    return RunResult(
        policy=policy,
        jobs=len(waits),
        p50_wait_s=percentile(waits, 50),
        p95_wait_s=percentile(waits, 95),
        max_wait_s=max(waits, default=0.0),
        mean_wait_s=sum(waits) / len(waits) if waits else 0.0,
        agent_minutes=outcome.agent_seconds / 60.0,
        busy_minutes=outcome.busy_seconds / 60.0,
        cost_usd=prices.cost(outcome.agent_seconds),
        agents_launched=outcome.agents_launched,
        agents_retired=outcome.agents_retired,
        executions=outcome.actions,
        wall_s=wall_s,
        waits=tuple(waits),
        timeline=tuple(outcome.timeline),
    )
