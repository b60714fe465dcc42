"""Benchmark: adoscale's cadence and its service-hook fast path against the peers, on every
trace shape.

Traces: the bundled ones (bursty, steady) and generated days of every kind
(``steady``, ``bursty``, ``working-hours``, ``sparse``) at 50, 500 and 2,000 jobs a day.
Each runs through the four policies at the shipped defaults (no service hook), and
adoscale once more with the service hook as built (webhook ``DELIVERY_SECONDS`` after the
job, one poll at the end of its 2 s debounce window).

Targets, checked on every trace (a missed one is reported, never tuned away):
- without the hook: adoscale's p95 wait <= the KEDA-like baseline's, and <= oracle + 20 s;
- with the hook: adoscale's p95 wait <= oracle + 5 s.

It also prices the quiet cadence: the control plane's monthly bill with a quiet stack
cycling every 20 s (shipped) against once a minute (before) and every 30 s.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from adoscale.core.hook import DELIVERY_SECONDS
from adoscale.simulate import cost
from adoscale.simulate.generate import KINDS, Shape, generate
from adoscale.simulate.params import SimParams
from adoscale.simulate.policies import ADOSCALE, KEDA, ORACLE, SCALE_SET
from adoscale.simulate.runner import compare, run_policy
from adoscale.simulate.trace import BUNDLED, Trace, load_trace

RATES = (50, 500, 2000)
NO_HOOK_OVER_ORACLE_S = 20.0
HOOK_OVER_ORACLE_S = 5.0
QUIET_INTERVALS = (60.0, 30.0, 20.0)


def traces() -> list[Trace]:
    found = [load_trace(name) for name in BUNDLED]
    found += [generate(kind, Shape(jobs_per_day=rate)) for kind in KINDS for rate in RATES]
    return found


def row(trace: Trace, params: SimParams) -> dict[str, Any]:
    peers = compare(trace, params)
    hooked = run_policy(ADOSCALE, trace, replace(params, fast_path_delay_s=DELIVERY_SECONDS))
    p95 = {name: peers.result(name).p95_wait_s for name in (ADOSCALE, KEDA, SCALE_SET, ORACLE)}
    oracle = p95[ORACLE]
    return {
        "trace": trace.name,
        "jobs": peers.jobs,
        "p95_wait_s": {name: round(value, 1) for name, value in p95.items()}
        | {"adoscale+hook": round(hooked.p95_wait_s, 1)},
        "agent_minutes": {
            ADOSCALE: round(peers.result(ADOSCALE).agent_minutes, 1),
            "adoscale+hook": round(hooked.agent_minutes, 1),
            KEDA: round(peers.result(KEDA).agent_minutes, 1),
            ORACLE: round(peers.result(ORACLE).agent_minutes, 1),
        },
        "no_hook_le_keda": p95[ADOSCALE] <= p95[KEDA],
        "no_hook_le_oracle_plus_20": p95[ADOSCALE] <= oracle + NO_HOOK_OVER_ORACLE_S,
        "hook_le_oracle_plus_5": hooked.p95_wait_s <= oracle + HOOK_OVER_ORACLE_S,
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| trace | jobs | adoscale | adoscale + hook | KEDA-like | scale-set-like | oracle"
        " | targets |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        p = r["p95_wait_s"]
        missed = [
            label
            for key, label in (
                ("no_hook_le_keda", "> KEDA"),
                ("no_hook_le_oracle_plus_20", "> oracle+20"),
                ("hook_le_oracle_plus_5", "hook > oracle+5"),
            )
            if not r[key]
        ]
        lines.append(
            f"| {r['trace']} | {r['jobs']} | {p[ADOSCALE]:.1f} | {p['adoscale+hook']:.1f}"
            f" | {p[KEDA]:.1f} | {p[SCALE_SET]:.1f} | {p[ORACLE]:.1f}"
            f" | {'met' if not missed else 'MISSED: ' + ', '.join(missed)} |"
        )
    return "\n".join(lines)


def quiet_cadence_cost() -> dict[str, dict[str, float]]:
    return {
        f"{quiet:g}": {
            str(n): round(cost.monthly_cost(n, cost.Usage(quiet_interval_s=quiet)).total_usd, 2)
            for n in cost.QUEUE_COUNTS
        }
        for quiet in QUIET_INTERVALS
    }


def run() -> dict[str, Any]:
    started = time.perf_counter()
    params = SimParams()
    rows = [row(trace, params) for trace in traces()]
    prices = quiet_cadence_cost()
    checks = ("no_hook_le_keda", "no_hook_le_oracle_plus_20", "hook_le_oracle_plus_5")
    met = {check: sum(r[check] for r in rows) for check in checks}
    return {
        "summary": {
            "traces": len(rows),
            **{f"{check}_met": f"{met[check]}/{len(rows)}" for check in checks},
            "all_met": all(met[check] == len(rows) for check in checks),
            "quiet_20s_extra_usd_month_1_queue": round(prices["20"]["1"] - prices["60"]["1"], 2),
            "seconds": round(time.perf_counter() - started, 1),
        },
        "rows": rows,
        "monthly_usd_by_quiet_interval": prices,
        "tables": {"p95": table(rows)},
    }


if __name__ == "__main__":
    import json

    result = run()
    print(result["tables"]["p95"])
    print(json.dumps(result["summary"], indent=2))
