"""The scaling policy, as tables."""

from __future__ import annotations

import pytest

from adoscale.core.counting import QueueCounts
from adoscale.core.policy import (
    NONE,
    SCALE_IN,
    SCALE_OUT,
    allocate_headroom,
    decide,
    needs_reap,
)
from adoscale.core.schema import Queue

from .builders import NOW, agent


def queue(**overrides) -> Queue:
    return Queue(**{"queue": "q", "pool": "p", "max_agents": 10, **overrides})


def idle(*ages: float) -> dict:
    agents = tuple(agent(100 + i, age_minutes=age) for i, age in enumerate(ages))
    return {"idle": len(agents), "idle_agents": agents}


@pytest.mark.parametrize(
    ("settings", "counts", "allowance", "expected"),
    [
        ({}, {}, None, (0, NONE, 0)),
        ({}, {"queued": 3}, None, (3, SCALE_OUT, 3)),
        ({}, {"queued": 3, "starting": 2}, None, (3, SCALE_OUT, 1)),
        ({}, {"queued": 3, "starting": 3}, None, (3, NONE, 0)),
        ({}, {"queued": 2, "busy": 4}, None, (6, SCALE_OUT, 2)),
        ({"max_agents": 5}, {"queued": 9}, None, (5, SCALE_OUT, 5)),
        ({"max_agents": 5}, {"queued": 9, "busy": 5}, None, (5, NONE, 0)),
        ({"standby_agents": 2}, {}, None, (2, SCALE_OUT, 2)),
        ({"standby_agents": 2}, idle(1, 1), None, (2, NONE, 0)),
        ({"standby_agents": 2}, {"queued": 1, **idle(1, 1)}, None, (3, SCALE_OUT, 1)),
        ({}, {"queued": 5}, 2, (2, SCALE_OUT, 2)),
        ({}, {"queued": 5, "busy": 1}, 0, (1, NONE, 0)),
        ({"enabled": False}, {"queued": 5, "busy": 2}, None, (2, NONE, 0)),
        ({"enabled": False, "standby_agents": 2}, {}, None, (0, NONE, 0)),
    ],
    ids=[
        "nothing",
        "waiting-jobs",
        "starting-count",
        "starting-covers",
        "busy-plus-waiting",
        "capped-by-max",
        "at-max",
        "standby-from-zero",
        "standby-met",
        "standby-plus-job",
        "licence-cap",
        "no-licence",
        "disabled-no-launch",
        "disabled-no-standby",
    ],
)
def test_scale_out_decisions(settings, counts, allowance, expected):
    decision = decide(queue(**settings), QueueCounts(**counts), NOW, allowance)

    assert (decision.desired, decision.action, decision.count) == expected


@pytest.mark.parametrize(
    ("settings", "counts", "retired"),
    [
        ({}, idle(30, 20), (100, 101)),
        ({}, idle(5, 20), (101,)),
        ({}, idle(5, 9.9), ()),
        ({"idle_timeout_minutes": 60}, idle(30, 20), ()),
        ({"standby_agents": 1}, idle(30, 20), (100,)),
        ({"standby_agents": 2}, idle(30, 20), ()),
        ({}, {"queued": 1, **idle(30, 20)}, (100,)),
        ({}, {"queued": 2, **idle(30, 20)}, ()),
        ({"enabled": False, "standby_agents": 2}, idle(30, 20), (100, 101)),
        ({}, {"busy": 3, **idle(40)}, (100,)),
    ],
    ids=[
        "all-old-idle",
        "young-kept",
        "none-old-enough",
        "longer-timeout",
        "standby-kept-oldest-goes",
        "standby-keeps-all",
        "waiting-job-keeps-one",
        "waiting-jobs-keep-all",
        "disabled-ignores-standby",
        "busy-never-retired",
    ],
)
def test_scale_in_retires_only_surplus_idle_agents_past_the_timeout(settings, counts, retired):
    decision = decide(queue(**settings), QueueCounts(**counts), NOW)

    assert decision.retire_agent_ids == retired
    assert decision.action == (SCALE_IN if retired else NONE)
    assert decision.count == len(retired)


def reused(*minutes: tuple[float, float | None]) -> dict:
    """Idle agents as (registered minutes ago, last job ended minutes ago or None)."""
    agents = tuple(
        agent(100 + i, age_minutes=age, last_job_minutes=last)
        for i, (age, last) in enumerate(minutes)
    )
    return {"idle": len(agents), "idle_agents": agents}


@pytest.mark.parametrize(
    ("settings", "counts", "retired"),
    [
        ({"idle_timeout_minutes": 5}, reused((60, 1), (60, 2)), ()),
        ({"idle_timeout_minutes": 5}, reused((60, 1), (60, 6)), (101,)),
        ({"idle_timeout_minutes": 5}, reused((60, 1), (6, None)), (101,)),
        ({"idle_timeout_minutes": 5}, reused((60, 9), (60, 6), (60, 30)), (102, 100, 101)),
        ({"idle_timeout_minutes": 5}, {"queued": 1, **reused((60, 9), (60, 30))}, (101,)),
        ({"idle_timeout_minutes": 5}, reused((4, 30)), ()),
    ],
    ids=[
        "just-finished-kept",
        "idle-since-last-job",
        "never-ran-counts-from-registration",
        "longest-idle-first",
        "waiting-job-keeps-most-recent",
        "clock-skew-never-before-registration",
    ],
)
def test_reusable_agents_idle_from_the_end_of_their_last_job(settings, counts, retired):
    decision = decide(queue(max_jobs_per_agent=20, **settings), QueueCounts(**counts), NOW)

    assert decision.retire_agent_ids == retired


def test_scale_out_wins_over_scale_in():
    counts = QueueCounts(queued=3, **idle(60))

    decision = decide(queue(capabilities={"docker": ""}), counts, NOW)

    assert (decision.action, decision.count) == (SCALE_OUT, 2)


@pytest.mark.parametrize(
    ("wanted", "oldest", "free", "starting", "shares"),
    [
        ({"a": 3, "b": 2}, {}, None, 0, {"a": None, "b": None}),
        ({"a": 3, "b": 2}, {}, 10, 0, {"a": 3, "b": 2}),
        ({"a": 3, "b": 2}, {}, 4, 0, {"a": 3, "b": 1}),
        ({"a": 3, "b": 2}, {"b": 60.0, "a": 5.0}, 4, 0, {"b": 2, "a": 2}),
        ({"a": 3, "b": 2}, {}, 4, 3, {"a": 1, "b": 0}),
        ({"a": 3}, {}, 2, 5, {"a": 0}),
    ],
    ids=["unknown", "plenty", "short", "longest-wait-first", "starting-counted", "overcommitted"],
)
def test_licence_headroom_is_shared_across_queues(wanted, oldest, free, starting, shares):
    assert allocate_headroom(wanted, oldest, free, starting) == shares


@pytest.mark.parametrize(
    ("settings", "counts", "needed"),
    [
        ({}, {"placeholder_present": True}, False),
        ({}, {}, True),
        ({}, {"placeholder_starting": True}, False),
        ({}, {"placeholder_present": True, "offline": 1}, True),
        ({}, {"placeholder_present": True, "stale": 1}, True),
        ({}, {"placeholder_present": True, "draining": 1}, True),
        ({"enabled": False}, {}, False),
        ({"enabled": False}, {"offline": 2}, True),
    ],
    ids=[
        "healthy",
        "no-placeholder",
        "placeholder-starting",
        "offline",
        "stale",
        "left-disabled",
        "disabled",
        "disabled-offline",
    ],
)
def test_reap_is_needed_for_offline_stale_or_missing_placeholder(settings, counts, needed):
    assert needs_reap(queue(**settings), QueueCounts(**counts)) is needed
