"""The standby recommender: its fast evaluator equals the poller's code, its pieces, and its
promises on several seeded working-hours traces (fit on week 1, judged on held-out week 2)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adoscale.core.standby import parse_schedule
from adoscale.simulate.engine import Simulation
from adoscale.simulate.generate import Shape, working_hours
from adoscale.simulate.params import SimParams, StartupTime
from adoscale.simulate.policies import AdoscalePolicy
from adoscale.simulate.recommend import (
    CONSTANT,
    HOURS,
    NO_STANDBY,
    ORACLE,
    SCHEDULE,
    EngineCountsPolicy,
    fit_pattern,
    levels_for,
    levels_of,
    recommend,
    schedule_from_levels,
    split,
)
from adoscale.simulate.trace import Trace, TraceJob, load_trace, to_csv

BERLIN_MONDAY = datetime(2026, 3, 23, tzinfo=ZoneInfo("Europe/Berlin"))  # DST starts on the 29th
SCHEDULE_ITEMS = [
    {"days": "mon-fri", "from": "07:55", "to": "18:00", "timezone": "Europe/Berlin", "agents": 2},
    {
        "days": "tue,thu",
        "from": "10:00",
        "to": "12:30",
        "timezone": "America/New_York",
        "agents": 3,
    },
    {"days": "sat", "from": "00:00", "to": "24:00", "timezone": "UTC", "agents": 1},
]


def weekday_trace(seed: int, days: float = 14, per_day: float = 373) -> Trace:
    trace = working_hours(Shape(jobs_per_day=per_day, days=days, seed=seed))
    return Trace(trace.name, trace.jobs, trace.span_s, BERLIN_MONDAY)


# ---- the fast evaluator is the poller's code ----------------------------------------------------


@pytest.mark.parametrize(("seed", "jobs_per_agent"), [(1, 1), (2, 1), (3, 1), (4, 3)])
def test_engine_counts_policy_runs_exactly_like_the_pollers_counting(
    seed: int, jobs_per_agent: int
) -> None:
    # GIVEN a seeded week across a daylight-saving change and a schedule in three zones
    trace = weekday_trace(seed, days=7, per_day=200)
    windows, errors = parse_schedule(SCHEDULE_ITEMS)
    assert not errors
    params = SimParams(
        standby_schedule=windows,
        standby_agents=seed % 2,
        clock_start=trace.start,
        seed=seed,
        idle_timeout_minutes=5,
        startup=StartupTime(60.0, 0.8),  # a long tail: some tasks pass the boot timeout
        max_jobs_per_agent=jobs_per_agent,
    )
    # WHEN both policies replay it, and the full one also without reusing quiet polls
    outcomes = []
    for policy in (AdoscalePolicy(params), EngineCountsPolicy(params), AdoscalePolicy(params)):
        if len(outcomes) == 2:
            policy.reuse_quiet_polls = False
        outcomes.append(Simulation(trace.jobs, params, policy, span_s=trace.span_s).run())
    # THEN every wait and every billed second agree
    full, fast, unreused = outcomes
    for other in (fast, unreused):
        assert other.waits == full.waits
        assert other.agent_seconds == pytest.approx(full.agent_seconds, abs=1e-6)
        assert (other.agents_launched, other.agents_retired) == (
            full.agents_launched,
            full.agents_retired,
        )
    assert full.agents_retired > 0  # the schedule's windows ended and agents were retired


def test_the_schedule_changes_standby_in_the_simulator() -> None:
    trace = weekday_trace(4, days=7, per_day=200)
    windows, _ = parse_schedule(SCHEDULE_ITEMS[:1])
    base = SimParams(clock_start=trace.start)
    plain = Simulation(trace.jobs, base, AdoscalePolicy(base), span_s=trace.span_s).run()
    scheduled = replace(base, standby_schedule=windows)
    warm = Simulation(trace.jobs, scheduled, AdoscalePolicy(scheduled), span_s=trace.span_s).run()
    assert sum(warm.waits) < 0.5 * sum(plain.waits)
    # two agents for ~50 working hours, not for 168 hours
    extra_hours = (warm.agent_seconds - plain.agent_seconds) / 3600
    assert 40 < extra_hours < 2 * 60


# ---- pieces --------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 4), min_size=HOURS, max_size=HOURS),
    st.sampled_from(["UTC", "Europe/Berlin", "Asia/Kolkata"]),
)
def test_windows_reproduce_the_hourly_levels(levels: list[int], timezone: str) -> None:
    base, windows = schedule_from_levels(levels, timezone, lead_minutes=2)
    monday = datetime(2026, 1, 5, tzinfo=ZoneInfo(timezone))  # no DST change this week
    assert levels_of(base, windows, monday) == levels
    # the lead: a rising level is in force two minutes before its hour
    for hour in range(1, HOURS):
        if levels[hour] > max(levels[hour - 1], base) and hour % 24:
            from adoscale.core.standby import standby_at

            early = monday + timedelta(hours=hour, minutes=-1)
            assert standby_at(base, windows, early) == levels[hour]


def test_levels_fall_as_theta_rises_and_follow_the_rate() -> None:
    trace = weekday_trace(8)
    pattern = fit_pattern(trace.jobs, trace.start, trace.span_s, "Europe/Berlin")
    previous = None
    for theta in (0.05, 0.3, 1.0, 3.0, 10.0):
        levels = levels_for(pattern, theta, 82.0, 100)
        if previous is not None:
            assert all(a <= b for a, b in zip(levels, previous, strict=True))
        previous = levels
    levels = levels_for(pattern, 0.3, 82.0, 100)
    busiest = max(range(HOURS), key=lambda h: pattern.rates[h])
    quietest = min(range(HOURS), key=lambda h: pattern.rates[h])
    assert levels[busiest] > levels[quietest]
    assert levels_for(pattern, 0.3, 82.0, 1) == tuple(min(1, level) for level in levels)


def test_fit_finds_office_hours_on_the_zones_wall_clock() -> None:
    # GIVEN jobs at 09:30 Berlin time every weekday for four weeks across the DST change
    start = BERLIN_MONDAY
    jobs = []
    for day in range(28):
        local = (start + timedelta(days=day)).replace(hour=9, minute=30)
        if local.weekday() < 5:
            jobs.append(TraceJob((local - start).total_seconds(), 60.0))
    pattern = fit_pattern(jobs, start, 28 * 86_400.0, "Europe/Berlin")
    # THEN every weekday's 09:00 hour has one job an hour, and nothing else does (in Berlin)
    assert [h for h in range(HOURS) if pattern.rates[h] > 0.99] == [d * 24 + 9 for d in range(5)]
    in_utc = fit_pattern(jobs, start, 28 * 86_400.0, "UTC")
    assert max(in_utc.rates) < 0.99  # in UTC the hour moved with summer time


def test_split_holds_out_the_last_week_and_fits_before_it() -> None:
    trace = weekday_trace(9, days=21)
    fits, held = split(trace, 7)
    assert held is not None
    assert held.start == trace.start + timedelta(days=14)
    assert [f.start for f in fits] == [trace.start, trace.start + timedelta(days=7)]
    assert sum(len(f.jobs) for f in fits) + len(held.jobs) == len(trace.jobs)
    assert all(0 <= job.queue_time < 7 * 86_400 for job in held.jobs)
    short, none = split(weekday_trace(9, days=10), 7)
    assert none is None
    assert len(short) == 1


def test_trace_start_round_trips_through_csv(tmp_path) -> None:
    trace = weekday_trace(3, days=1)
    path = tmp_path / "t.csv"
    path.write_text(to_csv(trace))
    assert load_trace(str(path)).start == trace.start


def test_bundled_week_is_the_seeded_generators() -> None:
    bundled = load_trace("working-hours")
    made = working_hours(Shape(jobs_per_day=373, days=7, seed=14))
    assert [j.queue_time for j in bundled.jobs] == [j.queue_time for j in made.jobs]
    assert bundled.start == datetime(2026, 1, 5, tzinfo=ZoneInfo("Europe/Berlin"))
    weekend = [j for j in bundled.jobs if j.queue_time >= 5 * 86_400]
    assert 0 < len(weekend) < 0.1 * len(bundled.jobs)


# ---- the promises, on several seeded traces ----------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 23, 42])
def test_recommendation_holds_on_the_held_out_week(seed: int) -> None:
    # GIVEN two weeks of ~500 jobs per weekday (Berlin office hours)
    trace = weekday_trace(seed)
    # WHEN the schedule is fitted on week 1 within 1.2 x the oracle's agent-minutes
    result = recommend(trace, SimParams(), timezone="Europe/Berlin", budget=1.2, peers=False)
    held = result.held_out
    assert held is not None
    oracle, schedule = held.row(ORACLE).result, held.row(SCHEDULE).result
    # THEN on week 2: p50 <= 15 s, p95 <= the one-job oracle's, <= 1.25 x its agent-minutes
    assert schedule.p50_wait_s <= 15.0
    assert schedule.p95_wait_s <= oracle.p95_wait_s
    assert schedule.agent_minutes <= 1.25 * oracle.agent_minutes
    # and it beats no standby, and the best constant standby allowed by the same budget
    assert schedule.p95_wait_s < held.row(NO_STANDBY).result.p95_wait_s
    assert schedule.p50_wait_s <= held.row(CONSTANT).result.p50_wait_s
    assert result.schedule
    assert all(w.timezone == "Europe/Berlin" for w in result.schedule)


@pytest.mark.slow
def test_target_p95_gives_the_cheapest_schedule_that_meets_it() -> None:
    trace = weekday_trace(5, days=7, per_day=300)
    loose = recommend(trace, SimParams(), target_p95_s=95.0, peers=False)
    tight = recommend(trace, SimParams(), target_p95_s=75.0, peers=False)
    assert loose.met
    assert loose.fit.row(SCHEDULE).result.p95_wait_s <= 95.0
    assert tight.fit.row(SCHEDULE).result.p95_wait_s <= 75.0 or not tight.met
    loose_cost = loose.fit.row(SCHEDULE).result.agent_minutes
    assert loose_cost <= tight.fit.row(SCHEDULE).result.agent_minutes
    assert loose.held_out is None
    assert loose.notes


def test_exactly_one_goal() -> None:
    trace = weekday_trace(1, days=1, per_day=50)
    with pytest.raises(ValueError, match="one of"):
        recommend(trace, SimParams(), target_p95_s=10.0, budget=1.2)
    with pytest.raises(ValueError, match="one of"):
        recommend(trace, SimParams())


def test_utc_default_epoch_is_a_monday() -> None:
    trace = working_hours(Shape(jobs_per_day=100, days=7, seed=2))
    assert trace.start is None
    result = recommend(trace, SimParams(), budget=1.3, peers=False)
    assert result.fit.period.start == datetime(2026, 1, 5, tzinfo=UTC)
    weekday_hours = [h for h in range(HOURS) if result.levels[h] > 0]
    assert weekday_hours
    assert all(h < 5 * 24 for h in weekday_hours)
