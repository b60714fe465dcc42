"""The simulator against small traces whose waits and agent-minutes are computed by hand.

Unless a test says otherwise: start-up is a fixed 60 s, polls at 0, 60, 120 ... s, RunTask
happens at the poll (no launch delay), an agent's task stops the moment its job ends (no
teardown), so an agent's billed time is start-up + job (or until it is retired).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from adoscale.core.naming import is_agent_of
from adoscale.simulate.engine import SimAgent, Simulation
from adoscale.simulate.params import SimParams, StartupTime
from adoscale.simulate.policies import (
    ADOSCALE,
    KEDA,
    ORACLE,
    SCALE_SET,
    AdoscalePolicy,
)
from adoscale.simulate.runner import compare, matching_jobs, run_policy
from adoscale.simulate.trace import Trace, TraceJob, load_trace

# Hand-computed cases poll once a minute, quiet or not (the deployment's default is every
# 20 s, quiet or not).
FIXED = SimParams(
    startup=StartupTime(60.0, 0.0),
    launch_delay_s=0.0,
    teardown_s=0.0,
    poll_interval_s=60.0,
    poll_quiet_interval_s=60.0,
)


def trace(*jobs: tuple[float, float], span: float | None = None, demands=()) -> Trace:
    return Trace("t", tuple(TraceJob(q, d, tuple(demands)) for q, d in jobs), span)


@pytest.mark.parametrize(
    ("policy", "queued_at", "params", "wait", "agent_seconds"),
    [
        # next poll at 60 s, RunTask then, registered 60 s later: 50 + 60
        (ADOSCALE, 10.0, FIXED, 110.0, 60 + 300),
        # a poll at the very instant the job is queued sees it
        (ADOSCALE, 0.0, FIXED, 60.0, 60 + 300),
        # StartExecution -> launch Lambda -> RunTask takes 2 s; the 5 s teardown is billed
        (ADOSCALE, 10.0, replace(FIXED, launch_delay_s=2.0, teardown_s=5.0), 112.0, 60 + 300 + 5),
        # 30 s cycles, a quiet queue: the next invocation (60 s) launches: 50 + 60
        (ADOSCALE, 10.0, replace(FIXED, poll_interval_s=30.0), 110.0, 60 + 300),
        # 30 s cycles on every invocation (period = interval): 20 + 60
        (
            ADOSCALE,
            10.0,
            replace(FIXED, poll_interval_s=30.0, invocation_period_s=30.0),
            80.0,
            60 + 300,
        ),
        # KEDA polls every 30 s whatever the queue's poll interval says
        (KEDA, 10.0, FIXED, 80.0, 60 + 300),
        # the scale-set samples every 5 minutes; its standby agent (launched at 0, ready at
        # 60) takes the job at once; the sample at 300 s launches the next standby agent,
        # alive until the job's end (400 s) closes the trace: 400 + (400 - 300)
        (SCALE_SET, 100.0, FIXED, 0.0, 400 + 100),
        # exactly one start-up time, billed start-up + job
        (ORACLE, 10.0, FIXED, 60.0, 60 + 300),
    ],
    ids=[
        "adoscale-next-poll",
        "adoscale-same-instant",
        "adoscale-launch-delay-teardown",
        "adoscale-30s-cycles-quiet",
        "adoscale-30s-poll",
        "keda-30s-poll",
        "scale-set-standby",
        "oracle",
    ],
)
def test_one_job_waits_and_bills_as_computed_by_hand(
    policy, queued_at, params, wait, agent_seconds
):
    result = run_policy(policy, trace((queued_at, 300.0)), params)

    assert result.waits == pytest.approx((wait,))
    assert result.agent_minutes == pytest.approx(agent_seconds / 60)
    assert result.busy_minutes == pytest.approx(5.0)


def test_waiting_jobs_go_to_agents_oldest_first_as_they_register():
    # GIVEN three jobs queued at 5, 10 and 70 s; polls at 60 and 120 launch 2 then 1 agent
    jobs = trace((5.0, 100.0), (10.0, 100.0), (70.0, 100.0))

    # WHEN adoscale serves them
    result = run_policy(ADOSCALE, jobs, FIXED)

    # THEN the first two are taken at 120 s, the third at 180 s
    assert result.waits == pytest.approx((115.0, 110.0, 110.0))
    assert result.agents_launched == 3
    assert result.agent_minutes == pytest.approx(3 * (60 + 100) / 60)


def test_an_agent_that_misses_the_boot_timeout_is_replaced_then_retired_when_surplus():
    # GIVEN start-up takes 400 s, longer than the poller's 5-minute boot timeout
    params = replace(FIXED, startup=StartupTime(400.0, 0.0))
    jobs = trace((0.0, 100.0), span=3600.0)

    # WHEN adoscale runs it
    result = run_policy(ADOSCALE, jobs, params)

    # THEN the first task counts as stale at the 360 s poll (360 > 300) and a second is
    # launched; the first registers at 400 and takes the job (wait 400, billed 0..500);
    # the second registers at 760, idles, is surplus once 10 minutes old (1360) and is
    # drained at the 1380 s poll, gone after the 15 s confirm window (billed 360..1395)
    assert result.waits == pytest.approx((400.0,))
    assert result.agents_launched == 2
    assert result.agents_retired == 1
    assert result.agent_minutes == pytest.approx((500 + (1395 - 360)) / 60)


def test_a_job_taken_between_the_poll_and_the_drain_keeps_its_agent():
    # GIVEN the surplus agent of the test above is chosen at the 1380 s poll, and the drain
    # happens 5 s later (launch delay); a job is queued at 1382 s, in between
    params = replace(FIXED, startup=StartupTime(400.0, 0.0), launch_delay_s=5.0)
    jobs = trace((0.0, 100.0), (1382.0, 100.0), span=3600.0)

    # WHEN adoscale runs it
    result = run_policy(ADOSCALE, jobs, params)

    # THEN the idle agent takes that job at once and the drain leaves it alone
    assert result.waits[1] == pytest.approx(0.0)
    assert result.agents_retired == 0
    assert result.agents_launched == 2


@pytest.mark.parametrize(
    ("unique", "dropped"), [(False, 0), (True, 0)], ids=["named-by-window", "unique-names"]
)
def test_hook_polls_of_consecutive_windows_both_launch(unique, dropped):
    # GIVEN the service hook as built (2 s windows, webhook at once here); jobs at 5 s and
    # 7.5 s, whose hook polls run at 6 s and 8 s; scheduled polls once a minute
    params = replace(FIXED, fast_path_delay_s=0.0, unique_executions=unique)
    jobs = trace((5.0, 100.0), (7.5, 100.0))

    # WHEN adoscale runs it
    policy = AdoscalePolicy(params)
    outcome = Simulation(list(jobs.jobs), params, policy).run()

    # THEN each hook poll names its execution by its own window: both launch at once
    # (a name per 60 s slot would have refused the second until the 60 s poll)
    assert outcome.waits == pytest.approx([61.0, 60.5])
    assert policy.dropped_executions == dropped


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_fan_out_of_webhooks_polls_at_most_twice(seed):
    # GIVEN the service hook as built (webhook 1 s after the job, 2 s debounce windows) and
    # a fan-out of 50 jobs queued within one second, at a random offset
    import random

    offset = random.Random(seed).uniform(100.0, 200.0)
    params = replace(FIXED, fast_path_delay_s=1.0, startup=StartupTime(30.0, 0.0))
    jobs = [TraceJob(offset + i / 50.0, 100.0) for i in range(50)]
    policy = AdoscalePolicy(params)

    # WHEN adoscale runs it
    outcome = Simulation(jobs, params, policy).run()

    # THEN at most two hook polls ran before the next scheduled one, and the first hook
    # poll (at most 1 s delivery + 2 s window after the first job) launched agents
    scheduled = len(range(0, int(outcome.end_s) + 1, 60))
    assert outcome.polls - scheduled <= 2
    assert max(outcome.waits) <= 1.0 + 2.0 + 1.0 + 30.0
    assert outcome.agents_launched == 50


def test_an_execution_that_finds_the_queues_lease_held_is_skipped():
    # GIVEN the fast path with executions named per poll, RunTask 2 s after the poll (the
    # scale-out holds the queue's lease until then), and jobs 1 s apart
    params = replace(
        FIXED, fast_path_delay_s=0.0, hook_window_s=0.0, unique_executions=True, launch_delay_s=2.0
    )
    policy = AdoscalePolicy(params)

    # WHEN adoscale runs it
    outcome = Simulation([TraceJob(5.0, 100.0), TraceJob(6.0, 100.0)], params, policy).run()

    # THEN the 6 s execution is skipped; the 60 s poll launches the second agent (RunTask
    # at 62, registered at 122): waits 62 (RunTask at 7, + 60) and 116 (122 - 6)
    assert policy.skipped_executions == 1
    assert outcome.waits == pytest.approx([62.0, 116.0])


def test_standby_agents_take_jobs_at_once_and_are_replaced():
    # GIVEN one standby agent, launched by the first poll and ready at 60 s
    params = replace(FIXED, standby_agents=1)
    jobs = trace((30.0, 100.0), (400.0, 100.0), span=600.0)

    # WHEN adoscale runs it
    result = run_policy(ADOSCALE, jobs, params)

    # THEN job 1 waits for it (30 s); the 60 s poll launches a replacement, ready at 120,
    # which takes job 2 at once; the 420 s poll launches the next, alive until 600:
    # billed 0..160, 60..500 and 420..600
    assert result.waits == pytest.approx((30.0, 0.0))
    assert result.agent_minutes == pytest.approx((160 + 440 + 180) / 60)


def test_jobs_whose_demands_the_queue_cannot_meet_are_left_out():
    params = replace(FIXED, capabilities={"docker": ""})
    jobs = Trace(
        "t",
        (TraceJob(10.0, 100.0, ("docker",)), TraceJob(20.0, 100.0, ("gpu",))),
    )

    comparison = compare(jobs, params, (ADOSCALE, ORACLE))

    assert (comparison.jobs, comparison.unmatched) == (1, 1)
    assert comparison.result(ADOSCALE).waits == pytest.approx((110.0,))


def test_simulated_agents_are_named_as_the_poller_recognises_them():
    assert is_agent_of(SimAgent(0x1F, 0.0).name, "sim")


def test_every_policy_sees_the_same_start_up_times():
    # GIVEN a random start-up time and one job
    params = replace(FIXED, startup=StartupTime(60.0, 0.4), seed=3)
    jobs = trace((0.0, 100.0))

    # WHEN adoscale (poll at the job's instant) and the oracle run it
    ours = run_policy(ADOSCALE, jobs, params)
    oracle = run_policy(ORACLE, jobs, params)

    # THEN both drew the same start-up time
    assert ours.waits == pytest.approx(oracle.waits)
    assert ours.waits[0] != pytest.approx(60.0)


def test_billing_has_fargates_one_minute_minimum():
    params = replace(FIXED, startup=StartupTime(10.0, 0.0))

    result = run_policy(ORACLE, trace((0.0, 5.0), (1.0, 5.0)), params)

    assert result.agent_minutes == pytest.approx(2.0)


def test_between_scheduled_invocations_adoscale_polls_only_while_active():
    # GIVEN the deployment's 20 s cycles inside a once-a-minute invocation, and jobs at 5 s
    # and 70 s on a quiet queue (fixed 60 s start-up, no launch delay)
    params = replace(FIXED, poll_interval_s=20.0, invocation_period_s=60.0, poll_linger_s=0.0)
    policy = AdoscalePolicy(params)

    # WHEN adoscale runs it
    outcome = Simulation([TraceJob(5.0, 100.0), TraceJob(70.0, 100.0)], params, policy).run()

    # THEN the quiet 0 s poll waits for the 60 s invocation, which launches for the first
    # job (registered at 120: waited 115); the queue is then active, so the 80 s cycle sees
    # the second job and launches for it (registered at 140: waited 70)
    assert outcome.waits == pytest.approx([115.0, 70.0])


def test_polling_lingers_after_activity():
    # GIVEN one job at 5 s, and cycles that linger 100 s after the last activity
    params = replace(FIXED, poll_interval_s=20.0, poll_linger_s=100.0)
    policy = AdoscalePolicy(params)

    # WHEN adoscale runs it (launch at the 60 s invocation, agent at 120, job done at 220)
    outcome = Simulation([TraceJob(5.0, 100.0)], params, policy).run()

    # THEN the last busy poll is at 220 (job running until 220.0, finished at that instant
    # before the poll runs: the 200 s poll is the last one that sees it busy) and polling
    # every 20 s lingers until 100 s after it; then once a minute
    assert outcome.waits == pytest.approx([115.0])
    assert policy._last_active == 200.0
    assert policy.next_poll_at(300.0) == 320.0
    assert policy.next_poll_at(301.0) == 360.0


@pytest.mark.parametrize(
    ("now", "expected"),
    [(0.0, 60.0), (20.0, 60.0), (59.0, 60.0), (60.0, 120.0), (100.0, 120.0)],
)
def test_a_quiet_queue_waits_for_the_next_invocation(now, expected):
    policy = AdoscalePolicy(replace(FIXED, poll_interval_s=20.0))  # never active yet

    assert policy.next_poll_at(now) == expected


@pytest.mark.parametrize("name", ["bursty", "steady"])
def test_reusing_quiet_polls_changes_nothing(name):
    # GIVEN a bundled trace, run with and without reusing the answers of quiet polls
    trace = load_trace(name)
    jobs, _ = matching_jobs(trace, SimParams())
    outcomes, reused = [], []
    for reuse in (True, False):
        policy = AdoscalePolicy(SimParams())
        policy.reuse_quiet_polls = reuse
        outcomes.append(Simulation(list(jobs), SimParams(), policy, span_s=trace.span_s).run())
        reused.append(policy.reused_polls)

    # THEN every wait, agent-second and action is the same, and the shortcut was taken
    fast, slow = outcomes
    assert fast.waits == slow.waits
    assert fast.agent_seconds == pytest.approx(slow.agent_seconds)
    assert (fast.polls, fast.actions, fast.agents_launched, fast.agents_retired) == (
        slow.polls,
        slow.actions,
        slow.agents_launched,
        slow.agents_retired,
    )
    assert reused[0] > 0
    assert reused[1] == 0
