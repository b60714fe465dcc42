"""Reusable agents in the simulator: hand-computed small traces, then the issue's target.

As in the engine tests: start-up a fixed 60 s, polls every 60 s from 0, RunTask at the
poll, no teardown; a reusable agent is offline ``rearm_s`` (0 here unless said) between
two jobs.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from adoscale.simulate.engine import Simulation
from adoscale.simulate.generate import KINDS, Shape, generate
from adoscale.simulate.metrics import percentile
from adoscale.simulate.params import SimParams, StartupTime
from adoscale.simulate.policies import ADOSCALE, AdoscalePolicy
from adoscale.simulate.runner import compare, run_policy
from adoscale.simulate.trace import Trace, TraceJob, load_trace

FIXED = SimParams(
    startup=StartupTime(60.0, 0.0),
    launch_delay_s=0.0,
    teardown_s=0.0,
    poll_interval_s=60.0,
    rearm_s=0.0,
)


def trace(*jobs: tuple[float, float], span: float | None = None) -> Trace:
    return Trace("t", tuple(TraceJob(q, d) for q, d in jobs), span)


def run(jobs: Trace, params: SimParams):
    sim = Simulation(list(jobs.jobs), params, AdoscalePolicy(params), span_s=jobs.span_s)
    return sim.run()


def test_a_reusable_agent_takes_the_next_waiting_job_when_its_job_ends():
    # GIVEN two jobs queued together and an agent that may run both
    params = replace(FIXED, max_jobs_per_agent=2, max_agents=1)

    outcome = run(trace((0.0, 100.0), (0.0, 100.0)), params)

    # THEN one agent (ready at 60) runs the first, then the second at 160
    assert sorted(outcome.waits) == [60.0, 160.0]
    assert outcome.agents_launched == 1
    # AND after its second (last) job it leaves: billed 60 + 100 + 100
    assert outcome.agent_seconds == pytest.approx(260.0)


def test_a_one_job_agent_leaves_after_its_job_and_a_new_one_starts():
    params = replace(FIXED, max_jobs_per_agent=1, max_agents=1)

    outcome = run(trace((0.0, 100.0), (0.0, 100.0)), params)

    # the second job waits for the next poll after the first agent left (180) + 60
    assert sorted(outcome.waits) == [60.0, 240.0]
    assert outcome.agents_launched == 2


def test_an_idle_reusable_agent_takes_a_later_job_at_once_and_retires_after_the_idle_time():
    # GIVEN an agent idle since its first job ended at 160 s, idle timeout 2 minutes
    # (160 + 120 = 280 > 200: it is still there for the second job)
    params = replace(FIXED, max_jobs_per_agent=5, idle_timeout_minutes=2)

    outcome = run(trace((0.0, 100.0), (200.0, 50.0), span=1000.0), params)

    # THEN the second job waits nothing
    assert outcome.waits == [60.0, 0.0]
    # AND the agent, idle from 250 s, is chosen at the first poll past 370 s (420 s) and
    # retired after the confirm window (15 s): billed 435 s from RunTask at 0
    assert outcome.agents_retired == 1
    assert outcome.agent_seconds == pytest.approx(435.0)


def test_the_warm_speed_up_shortens_only_jobs_on_reused_agents():
    params = replace(FIXED, max_jobs_per_agent=3, max_agents=1, warm_speedup=0.5)

    outcome = run(trace((0.0, 100.0), (0.0, 100.0), (0.0, 100.0)), params)

    # first job cold (100 s), the next two warm (50 s each)
    assert sorted(outcome.waits) == [60.0, 160.0, 210.0]
    assert outcome.busy_seconds == pytest.approx(200.0)


def test_between_two_jobs_the_agent_is_offline_for_the_rearm_time():
    params = replace(FIXED, max_jobs_per_agent=2, max_agents=1, rearm_s=7.0)

    outcome = run(trace((0.0, 100.0), (0.0, 100.0)), params)

    assert sorted(outcome.waits) == [60.0, 167.0]


@pytest.mark.parametrize("name", ["bursty", "steady"])
def test_one_job_per_agent_is_exactly_the_one_job_model(name):
    """max_jobs_per_agent 1 (and any warm speed-up, which then never applies) changes nothing."""
    jobs = load_trace(name)
    one = run_policy(ADOSCALE, jobs, SimParams())
    same = run_policy(ADOSCALE, jobs, SimParams(max_jobs_per_agent=1, warm_speedup=0.5))

    assert (one.waits, one.agent_minutes) == (same.waits, same.agent_minutes)


@pytest.mark.parametrize(
    "change",
    [
        {"max_jobs_per_agent": 0},
        {"max_jobs_per_agent": 1001},
        {"warm_speedup": 0.0},
        {"warm_speedup": 1.5},
        {"rearm_s": -1.0},
    ],
    ids=lambda change: next(iter(change)),
)
def test_bad_reuse_parameters_name_themselves(change):
    with pytest.raises(ValueError, match=next(iter(change))):
        SimParams(**change)


def test_short_jobs_trace_has_the_documented_shape():
    jobs = generate("short-jobs", Shape(jobs_per_day=1000, days=1, seed=3))

    durations = [job.duration for job in jobs.jobs]
    assert "short-jobs" in KINDS
    assert 900 <= len(durations) <= 1100
    assert 80 <= percentile(durations, 50) <= 100
    assert percentile(durations, 90) <= 240


@pytest.mark.parametrize("seed", [7, 11, 23, 42])
def test_reuse_target_on_a_short_jobs_day(seed):
    """N = 20, 5-minute idle time: p50 wait at most 10 s; and it beats one-job agents."""
    jobs = generate("short-jobs", Shape(jobs_per_day=1000, days=1, seed=seed))
    reuse = SimParams(max_jobs_per_agent=20, idle_timeout_minutes=5, seed=seed)

    reused = compare(jobs, reuse, [ADOSCALE]).result(ADOSCALE)
    one_job = compare(jobs, replace(reuse, max_jobs_per_agent=1), [ADOSCALE]).result(ADOSCALE)

    assert reused.p50_wait_s <= 10.0
    assert one_job.p50_wait_s > 30.0  # every one-job agent pays a start-up
    assert reused.agents_launched < one_job.agents_launched / 3
    assert reused.jobs == one_job.jobs == len(jobs.jobs)
