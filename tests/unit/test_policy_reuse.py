"""Reusable agents in the pure policy, on generated fleets: idle time from the last job."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from adoscale.core.counting import QueueCounts
from adoscale.core.policy import decide
from adoscale.core.schema import Queue

from .builders import NOW, agent

MINUTES = st.floats(min_value=0, max_value=600, allow_nan=False)
FLEET = st.lists(st.tuples(MINUTES, st.none() | MINUTES), min_size=0, max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    fleet=FLEET,
    timeout=st.integers(1, 30),
    queued=st.integers(0, 5),
    standby=st.integers(0, 3),
)
def test_only_agents_idle_past_the_timeout_since_their_last_job_retire_longest_idle_first(
    fleet, timeout, queued, standby
):
    agents = tuple(
        agent(100 + i, age_minutes=registered, last_job_minutes=last)
        for i, (registered, last) in enumerate(fleet)
    )
    queue = Queue(
        queue="q",
        pool="p",
        max_agents=20,
        standby_agents=standby,
        idle_timeout_minutes=timeout,
        max_jobs_per_agent=20,
    )
    counts = QueueCounts(queued=queued, idle=len(agents), idle_agents=agents)

    decision = decide(queue, counts, NOW)

    by_id = {a.agent_id: a for a in agents}
    cutoff = NOW - timedelta(minutes=timeout)
    retired = [by_id[i] for i in decision.retire_agent_ids]
    # every retired agent has been idle past the timeout since its last job (or registration)
    assert all(a.idle_since <= cutoff for a in retired)
    assert all(a.last_job_finished is None or a.last_job_finished <= cutoff for a in retired)
    # never more than the surplus beyond waiting jobs and standby
    assert len(retired) <= max(0, len(agents) - queued - standby)
    # the longest idle go first: no kept agent idle past the timeout was idle longer
    kept_old = [a for a in agents if a not in retired and a.idle_since <= cutoff]
    if kept_old and retired:
        assert max(a.idle_since for a in retired) <= min(a.idle_since for a in kept_old)
    # and the surplus is taken whole when enough agents are old enough
    old = sum(1 for a in agents if a.idle_since <= cutoff)
    assert len(retired) == min(old, max(0, len(agents) - queued - standby))
