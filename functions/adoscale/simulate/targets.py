"""The issue's targets for adoscale's defaults on a trace, each with its margin.

Checked by the benchmark, never by a timed test. A failed target is reported with how far
off it is; the simulator is never tuned to pass one.
"""

from __future__ import annotations

from dataclasses import dataclass

from adoscale.simulate.policies import ADOSCALE, KEDA, ORACLE, SCALE_SET
from adoscale.simulate.runner import Comparison

ORACLE_WAIT_SLACK_S = 20.0
ORACLE_COST_FACTOR = 1.15
TOLERANCE = 1e-6  # agent-minutes equal up to float summation order count as equal


@dataclass(frozen=True)
class TargetCheck:
    target: str
    measured: float
    limit: float
    passed: bool
    unit: str

    @property
    def margin(self) -> float:
        """Positive: by how much the target is missed; zero or negative: met."""
        return self.measured - self.limit

    def line(self) -> str:
        verdict = "met" if self.passed else f"MISSED by {self.margin:,.1f} {self.unit}"
        return (
            f"{self.target}: {self.measured:,.1f} {self.unit} vs limit"
            f" {self.limit:,.1f} {self.unit}: {verdict}"
        )


def check_targets(comparison: Comparison) -> list[TargetCheck]:
    ours = comparison.result(ADOSCALE)
    oracle = comparison.result(ORACLE)
    keda = comparison.result(KEDA)
    scale_set = comparison.result(SCALE_SET)

    def at_most(target: str, measured: float, limit: float, unit: str) -> TargetCheck:
        ok = measured <= limit + TOLERANCE * max(1.0, abs(limit))
        return TargetCheck(target, measured, limit, ok, unit)

    def below(target: str, measured: float, limit: float, unit: str) -> TargetCheck:
        return TargetCheck(target, measured, limit, measured < limit, unit)

    return [
        at_most(
            f"p95 wait <= oracle p95 + {ORACLE_WAIT_SLACK_S:g} s",
            ours.p95_wait_s,
            oracle.p95_wait_s + ORACLE_WAIT_SLACK_S,
            "s",
        ),
        at_most(
            f"agent-minutes <= {ORACLE_COST_FACTOR:g} x oracle",
            ours.agent_minutes,
            ORACLE_COST_FACTOR * oracle.agent_minutes,
            "agent-min",
        ),
        below("p95 wait < keda-like p95", ours.p95_wait_s, keda.p95_wait_s, "s"),
        at_most("agent-minutes <= keda-like", ours.agent_minutes, keda.agent_minutes, "agent-min"),
        below("p95 wait < scale-set-like p95", ours.p95_wait_s, scale_set.p95_wait_s, "s"),
        below(
            "agent-minutes < scale-set-like",
            ours.agent_minutes,
            scale_set.agent_minutes,
            "agent-min",
        ),
    ]
