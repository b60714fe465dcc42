"""Verify against the fake Azure DevOps over HTTP and ECS in moto (in process)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adoscale.ado.client import AdoClient
from adoscale.core.schema import parse_queue
from adoscale.workflow.scale_out import MAX_VERIFY_ROUNDS, verify
from tests.support.workflow import (
    RecordingAlerts,
    age_task,
    end_task,
    moto_task,
)

PAT = "verify-pat-0a9f3c"
QUEUE = "build"
POOL = "linux"


def check(org, ecs, pending, alerts, *, round_number=1, launched_at=None):
    return verify(
        parse_queue({"queue": QUEUE, "pool": POOL, "max_agents": 5}),
        org.pool_id(POOL),
        pending,
        AdoClient(org.base_url, PAT, max_retries=0),
        ecs.tasks,
        alerts,
        now=datetime.now(UTC),
        boot_timeout_seconds=300,
        launched_at=launched_at,
        round_number=round_number,
    )


def launch(ecs, serial: int) -> tuple[str, str]:
    name = f"adoscale-{QUEUE}-{serial:012x}"
    launched = ecs.tasks.run_agent(ecs.spec, QUEUE, name)
    return name, launched.task_id


@pytest.mark.parametrize(
    ("situation", "outcome"),
    [
        ("registered", "registered"),
        ("registered-as-task-id", "registered"),
        ("booting", "pending"),
        ("exited-0", "completed"),
        ("exited-1", "failed"),
        ("past-boot-timeout", "failed"),
        ("stopping", "pending"),
        ("unknown-task", "failed"),
    ],
    ids=lambda value: value,
)
def test_each_launched_agent_is_judged_once(org, ecs, situation, outcome):
    alerts = RecordingAlerts()
    name, task_id = launch(ecs, 1)
    arn = ecs.tasks.tasks_of(QUEUE)[0].task_arn
    if situation == "registered":
        org.register_agent(POOL, name)
    elif situation == "registered-as-task-id":  # the image's default name, when none was given
        org.register_agent(POOL, task_id)
    elif situation.startswith("exited"):
        end_task(arn, exit_code=int(situation[-1]), reason="Essential container in task exited")
    elif situation == "past-boot-timeout":
        age_task(arn, 301)
    elif situation == "stopping":
        moto_task(arn).desired_status = "STOPPED"
    elif situation == "unknown-task":
        task_id = "00000000000000000000000000000000"

    result = check(org, ecs, {name: task_id}, alerts)

    counts = {
        "registered": result["registered"],
        "completed": result["completed"],
        "pending": result["pending_count"],
        "failed": result["not_registering_count"],
    }
    assert counts == {key: int(key == outcome) for key in counts}
    assert [kind for kind, *_ in alerts.sent] == (
        ["agents_not_registering"] if outcome == "failed" else []
    )
    if situation == "past-boot-timeout":
        assert ecs.tasks.tasks_of(QUEUE) == []
    if situation == "exited-1":
        assert "exit code 1" in result["not_registering"][0]["reason"]


def test_launch_time_stands_in_when_ecs_gives_no_creation_time(org, ecs):
    name, task_id = launch(ecs, 1)  # moto's tasks carry no createdAt

    result = check(
        org,
        ecs,
        {name: task_id},
        RecordingAlerts(),
        launched_at=datetime.now(UTC) - timedelta(hours=1),
    )

    assert len(result["not_registering"]) == 1
    assert ecs.tasks.tasks_of(QUEUE) == []


@pytest.mark.parametrize("stopping", [False, True], ids=["running", "stuck-stopping"])
def test_the_loop_is_bounded_whatever_the_clocks_say(org, ecs, stopping):
    name, task_id = launch(ecs, 1)
    if stopping:
        moto_task(ecs.tasks.tasks_of(QUEUE)[0].task_arn).desired_status = "STOPPED"

    result = check(org, ecs, {name: task_id}, RecordingAlerts(), round_number=MAX_VERIFY_ROUNDS)

    assert result["pending_count"] == 0
    assert result["not_registering_count"] == 1
