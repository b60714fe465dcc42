"""Benchmark: the simulator's speed, and the policies compared on the bundled traces.

1. Speed: 30 days of a bursty 2,000-jobs-a-day trace through adoscale's policy (the real
   counting and policy code at every poll). Target: at most 10 s.
2. The bundled traces (bursty, steady) under the four policies at adoscale's defaults:
   the tables and PNGs docs/simulator.md shows (``docs/img/simulator-*.png``).
3. The issue's targets on the bursty trace, each with its margin. A missed target is
   reported, never tuned away.
4. What-ifs on the bursty trace: the policy changes that would move adoscale (standby
   agents, a faster poll, the service-hook fast path, execution names per poll).
5. The sweep over standby x idle timeout on the bursty trace, with its recommendation.
6. The control-plane cost model at default settings for 1, 10 and 100 queues, using the
   number of executions adoscale started on the bursty trace.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from adoscale.simulate import cost
from adoscale.simulate.generate import Shape, generate
from adoscale.simulate.params import SimParams
from adoscale.simulate.plot import plot_comparison, plot_sweep
from adoscale.simulate.policies import ADOSCALE, KEDA, ORACLE, POLICIES, SCALE_SET
from adoscale.simulate.report import (
    comparison_json,
    comparison_table,
    describe_params,
    recommendation,
    sweep_json,
    sweep_table,
)
from adoscale.simulate.runner import compare, run_policy, sweep
from adoscale.simulate.targets import check_targets
from adoscale.simulate.trace import BUNDLED, load_trace

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "img"
SPEED_SHAPE = Shape(jobs_per_day=2000, days=30, seed=11)
SPEED_TARGET_S = 10.0
STANDBY_VALUES = (0, 1, 2, 3, 4)
IDLE_VALUES = (5, 10, 30, 60)
FAST_PATH_S = 5.0


def speed() -> dict[str, Any]:
    trace = generate("bursty", SPEED_SHAPE)
    params = SimParams()
    timings = {}
    for policy in POLICIES:
        wall, cpu = time.perf_counter(), time.process_time()
        result = run_policy(policy, trace, params)
        timings[policy] = {
            "wall_s": round(time.perf_counter() - wall, 2),
            "cpu_s": round(time.process_time() - cpu, 2),
            "p95_wait_s": round(result.p95_wait_s, 1),
            "polls_per_day": round(86_400 / params.poll_interval_s) if policy == ADOSCALE else None,
        }
    ours = timings[ADOSCALE]
    return {
        "trace": trace.name,
        "jobs": len(trace.jobs),
        "days": SPEED_SHAPE.days,
        "policies": timings,
        "adoscale_wall_s": ours["wall_s"],
        "adoscale_cpu_s": ours["cpu_s"],
        "target_s": SPEED_TARGET_S,
        "met": ours["wall_s"] <= SPEED_TARGET_S,
    }


def what_ifs(trace_name: str) -> list[dict[str, Any]]:
    trace = load_trace(trace_name)
    base = SimParams()
    variants = [
        ("defaults (poll 60 s, standby 0, executions per minute)", base),
        ("standby 1", replace(base, standby_agents=1)),
        ("standby 2", replace(base, standby_agents=2)),
        ("poll 30 s, executions per minute", replace(base, poll_interval_s=30.0)),
        (
            "poll 30 s, executions per poll",
            replace(base, poll_interval_s=30.0, unique_executions=True),
        ),
        (
            f"fast path (hook +{FAST_PATH_S:g} s), executions per minute",
            replace(base, fast_path_delay_s=FAST_PATH_S),
        ),
        (
            f"fast path (hook +{FAST_PATH_S:g} s), executions per poll",
            replace(base, fast_path_delay_s=FAST_PATH_S, unique_executions=True),
        ),
    ]
    peers = compare(trace, base, (KEDA, SCALE_SET, ORACLE))
    rows = []
    for label, params in variants:
        ours = run_policy(ADOSCALE, trace, params)
        checks = check_targets(replace(peers, results=(ours, *peers.results)))
        rows.append(
            {
                "variant": label,
                "p50_wait_s": round(ours.p50_wait_s, 1),
                "p95_wait_s": round(ours.p95_wait_s, 1),
                "agent_minutes": round(ours.agent_minutes, 1),
                "x_oracle": round(ours.agent_minutes / peers.result(ORACLE).agent_minutes, 3),
                "executions": ours.executions,
                "targets_met": sum(check.passed for check in checks),
                "targets_missed": [check.target for check in checks if not check.passed],
            }
        )
    return rows


def what_if_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| adoscale variant | p50 wait (s) | p95 wait (s) | agent-minutes | x oracle"
        " | targets met |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['variant']} | {row['p50_wait_s']:.0f} | {row['p95_wait_s']:.0f}"
            f" | {row['agent_minutes']:,.0f} | {row['x_oracle']:.2f} | {row['targets_met']}/6 |"
        )
    return "\n".join(lines)


def run() -> dict[str, Any]:
    params = SimParams()
    comparisons: dict[str, Any] = {}
    tables: dict[str, str] = {}
    bursty = None
    for name in BUNDLED:
        comparison = compare(load_trace(name), params, record_timeline=True)
        image = plot_comparison(
            comparison,
            IMAGES / f"simulator-{name}.png",
            f"bundled trace '{name}': {comparison.jobs} jobs",
        )
        comparisons[name] = comparison_json(comparison) | {"png": str(image.relative_to(ROOT))}
        tables[f"{name}_params"] = describe_params(comparison)
        tables[name] = comparison_table(comparison)
        if name == "bursty":
            bursty = comparison
    assert bursty is not None, "the bundled bursty trace is missing"
    checks = check_targets(bursty)
    rows = what_ifs("bursty")
    swept = sweep(load_trace("bursty"), params, STANDBY_VALUES, IDLE_VALUES)
    sweep_image = plot_sweep(swept, IMAGES / "simulator-sweep.png")
    executions_per_day = bursty.result(ADOSCALE).executions  # the bundled trace is one day
    usage = cost.Usage(executions_per_queue_day=executions_per_day)
    tables["targets"] = "\n".join(f"- {check.line()}" for check in checks)
    tables["what_ifs"] = what_if_table(rows)
    tables["sweep"] = sweep_table(swept)
    tables["recommendation"] = recommendation(swept)
    tables["cost"] = cost.cost_table(usage=usage)
    tables["prices"] = cost.price_table()
    fast = speed()
    return {
        "summary": {
            "30d_2000_per_day_adoscale_s": fast["adoscale_wall_s"],
            "speed_target_met": fast["met"],
            "bursty_targets_met": f"{sum(c.passed for c in checks)}/{len(checks)}",
            "bursty_adoscale_p95_s": round(bursty.result(ADOSCALE).p95_wait_s, 1),
            "bursty_oracle_p95_s": round(bursty.result(ORACLE).p95_wait_s, 1),
        },
        "speed": fast,
        "comparisons": comparisons,
        "targets": [
            {
                "target": c.target,
                "measured": round(c.measured, 2),
                "limit": round(c.limit, 2),
                "passed": c.passed,
                "margin": round(c.margin, 2),
                "unit": c.unit,
            }
            for c in checks
        ],
        "what_ifs": rows,
        "sweep": sweep_json(swept) | {"png": str(sweep_image.relative_to(ROOT))},
        "cost": {
            "executions_per_queue_day": executions_per_day,
            "monthly_usd": {
                str(n): round(cost.monthly_cost(n, usage).total_usd, 2) for n in cost.QUEUE_COUNTS
            },
        },
        "tables": tables,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run()["summary"], indent=2))
