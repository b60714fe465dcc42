"""Percentiles, the wait-vs-cost front, the sweep's recommendation and the target checks."""

from __future__ import annotations

from dataclasses import replace

import pytest

from adoscale.simulate.metrics import RunResult, percentile
from adoscale.simulate.params import AgentPrices, SimParams, StartupTime
from adoscale.simulate.policies import ADOSCALE, KEDA, ORACLE, SCALE_SET
from adoscale.simulate.report import comparison_table, recommendation, sweep_table
from adoscale.simulate.runner import Comparison, pareto_front, sweep
from adoscale.simulate.targets import check_targets
from adoscale.simulate.trace import Trace, TraceJob

FIXED = SimParams(
    startup=StartupTime(60.0, 0.0),
    launch_delay_s=0.0,
    teardown_s=0.0,
    poll_interval_s=60.0,
    poll_quiet_interval_s=60.0,
)
TINY = Trace("tiny", (TraceJob(30.0, 100.0), TraceJob(400.0, 100.0)), span_s=600.0)


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 95, 0.0),
        ([7.0], 95, 7.0),
        ([80.0, 90.0], 95, 89.5),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([4.0, 1.0, 3.0, 2.0], 100, 4.0),
        ([1.0, 2.0, 3.0, 4.0, 5.0], 0, 1.0),
    ],
    ids=["empty", "one", "two", "median-even", "max-unsorted", "min"],
)
def test_percentile_interpolates_between_ranks(values, q, expected):
    assert percentile(values, q) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("points", "front"),
    [
        ([(10, 10), (5, 20), (20, 5)], {0, 1, 2}),
        ([(10, 10), (11, 11)], {0}),
        ([(10, 10), (10, 10)], {0, 1}),
        ([(10, 10), (10, 12), (9, 12)], {0, 2}),
    ],
    ids=["all-trade-offs", "dominated", "ties-stay", "equal-wait-costlier"],
)
def test_pareto_front(points, front):
    assert pareto_front(points) == front


def test_sweep_of_a_tiny_trace_matches_the_hand_computation():
    # GIVEN jobs at 30 s and 400 s (100 s each) in a 600 s window, fixed 60 s start-up.
    # Standby 0: waits 90 and 80 (p95 89.5), agents billed 60..220 and 420..580: 320 s.
    # Standby 1: waits 30 and 0 (p95 28.5), agents billed 0..160, 60..500, 420..600: 780 s.
    # No agent is ever surplus, so the idle timeout changes nothing. Oracle: 2 x 160 s.
    result = sweep(TINY, FIXED, standby_values=[0, 1], idle_values=[10, 5])

    table = {
        (p.standby_agents, p.idle_timeout_minutes): (
            round(p.result.p95_wait_s, 3),
            round(p.result.agent_minutes * 60, 3),
            p.on_front,
        )
        for p in result.points
    }
    assert table == {
        (0, 5): (89.5, 320.0, True),
        (0, 10): (89.5, 320.0, True),
        (1, 5): (28.5, 780.0, True),
        (1, 10): (28.5, 780.0, True),
    }
    assert result.oracle.agent_minutes * 60 == pytest.approx(320.0)
    # THEN with the default budget (1.15 x 320 = 368 s) standby 1 is too dear
    assert (result.recommended.standby_agents, result.recommended.idle_timeout_minutes) == (0, 5)
    assert result.within_budget
    # AND idle timeouts that change nothing share a table row
    rows = sweep_table(result).splitlines()[2:]
    assert rows == [
        "| 0 | 5, 10 | 85 | 90 | 5 | 1.00 | **recommended** |",
        "| 1 | 5, 10 | 15 | 28 | 13 | 2.44 | yes |",
    ]


def test_a_larger_budget_buys_the_standby_agent():
    result = sweep(TINY, FIXED, standby_values=[0, 1], idle_values=[5], budget=3.0)

    assert result.recommended.standby_agents == 1
    assert "standby_agents=1" in recommendation(result)
    assert "**recommended**" in sweep_table(result)


def test_when_nothing_fits_the_budget_the_cheapest_setting_is_recommended():
    result = sweep(TINY, FIXED, standby_values=[1, 2], idle_values=[5], budget=1.0)

    assert not result.within_budget
    assert result.recommended.standby_agents == 1
    assert "the cheapest" in recommendation(result)


def test_sweep_rejects_empty_axes_and_a_zero_budget():
    with pytest.raises(ValueError, match="at least one"):
        sweep(TINY, FIXED, standby_values=[], idle_values=[5])
    with pytest.raises(ValueError, match="budget"):
        sweep(TINY, FIXED, standby_values=[0], idle_values=[5], budget=0)


def row(policy: str, p95: float, minutes: float) -> RunResult:
    return RunResult(
        policy, 10, p95 / 2, p95, p95 * 2, p95 / 2, minutes, minutes / 2, minutes / 60, 10, 0, 3
    )


@pytest.mark.parametrize(
    ("ours", "met"),
    [
        ((100.0, 1000.0), [True, True, True, True, True, True]),
        ((125.0, 1000.0), [False, True, False, True, True, True]),
        ((100.0, 1200.0), [True, False, True, False, True, True]),
        ((100.0, 1000.0 + 1e-9), [True, True, True, True, True, True]),
    ],
    ids=["all-met", "slow", "dear", "float-noise-is-equal"],
)
def test_target_checks_and_their_margins(ours, met):
    comparison = Comparison(
        "t",
        10,
        0,
        FIXED,
        (
            row(ADOSCALE, *ours),
            row(KEDA, 110.0, 1000.0),
            row(SCALE_SET, 300.0, 1500.0),
            row(ORACLE, 90.0, 1000.0),
        ),
    )

    checks = check_targets(comparison)

    assert [check.passed for check in checks] == met
    assert checks[0].limit == pytest.approx(110.0)
    assert checks[0].margin == pytest.approx(ours[0] - 110.0)
    assert ("MISSED" in checks[0].line()) is (not met[0])


def test_comparison_table_has_one_row_per_policy_and_the_oracle_ratio():
    comparison = Comparison(
        "t", 10, 0, FIXED, (row(ADOSCALE, 100.0, 1150.0), row(ORACLE, 90.0, 1000.0))
    )

    table = comparison_table(comparison).splitlines()

    assert len(table) == 4
    assert table[2].startswith("| adoscale | 50 | 100 | 200 | 1,150 | 1.15 |")


def test_agent_prices_and_spot_share():
    prices = AgentPrices(vcpu=1, memory_gb=2, vcpu_hour_usd=0.04, gb_hour_usd=0.005)
    spot = replace(prices, spot_share=0.5, spot_discount=0.7)

    assert prices.cost(3600) == pytest.approx(0.05)
    assert spot.cost(3600) == pytest.approx(0.05 * (1 - 0.35))
    with pytest.raises(ValueError, match="spot_share"):
        AgentPrices(spot_share=1.5)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"standby_agents": 5, "max_agents": 2}, "standby_agents"),
        ({"idle_timeout_minutes": 0}, "idle_timeout_minutes"),
        ({"poll_interval_s": 0}, "poll_interval_s"),
        ({"launch_delay_s": -1}, "launch_delay_s"),
        ({"fast_path_delay_s": -1}, "fast_path_delay_s"),
        ({"poll_quiet_interval_s": 0}, "poll_quiet_interval_s"),
    ],
    ids=[
        "standby-above-max",
        "idle-zero",
        "poll-zero",
        "negative-delay",
        "negative-hook",
        "quiet-zero",
    ],
)
def test_params_are_validated_by_name(changes, field):
    with pytest.raises(ValueError, match=field):
        SimParams(**changes)


def test_startup_quantiles_match_the_documented_default():
    startup = StartupTime()

    assert startup.quantile(0.5) == pytest.approx(60.0)
    assert 38 < startup.quantile(0.05) < 42
    assert 88 < startup.quantile(0.95) < 92
