"""The reaper against the fake Azure DevOps over HTTP and ECS in moto (in process)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adoscale.ado.client import AdoClient
from adoscale.aws.ecs import LaunchFailure
from adoscale.core.exceptions import AdoUnavailableError
from adoscale.core.naming import placeholder_name
from adoscale.core.schema import parse_queue
from adoscale.workflow.reaper import reap
from tests.support.workflow import RecordingAlerts, age_task

PAT = "reaper-pat-8e2b44f1"
QUEUE = "build"
POOL = "linux"
BOOT, LIFETIME = 300, 6 * 3600


def run_reap(org, ecs, alerts, *, enabled=True, launch=None):
    queue = parse_queue({"queue": QUEUE, "pool": POOL, "max_agents": 5, "enabled": enabled})
    client = AdoClient(org.base_url, PAT, max_retries=0)
    launcher = launch or (lambda name: ecs.tasks.run_agent(ecs.spec, QUEUE, name, placeholder=True))
    return reap(
        queue,
        org.pool_id(POOL),
        client,
        ecs.tasks,
        launcher,
        alerts,
        now=datetime.now(UTC),
        boot_timeout_seconds=BOOT,
        max_task_lifetime_seconds=LIFETIME,
    )


def task_for(ecs, name: str) -> str:
    return ecs.tasks.run_agent(ecs.spec, QUEUE, name).task_arn


def live(ecs) -> set[str]:
    return {task.task_arn for task in ecs.tasks.tasks_of(QUEUE) if not task.placeholder}


def name(serial: int) -> str:
    return f"adoscale-{QUEUE}-{serial:012x}"


def test_deletes_only_offline_idle_agents_of_the_queue_without_a_task(org, ecs):
    alerts = RecordingAlerts()
    org.register_agent(POOL, placeholder_name(QUEUE), online=False)
    dead = org.register_agent(POOL, name(1), online=False)
    offline_with_task = org.register_agent(POOL, name(2), online=False)
    task_for(ecs, name(2))
    offline_busy = org.register_agent(POOL, name(3), online=False)
    org.assign_job(org.queue_job(POOL), offline_busy)
    online = org.register_agent(POOL, name(4))
    foreign = org.register_agent(POOL, "adoscale-other-000000000001", online=False)

    result = run_reap(org, ecs, alerts)

    assert result["deleted_agents"] == [dead]
    for kept in (offline_with_task, offline_busy, online, foreign):
        assert org.agent(kept) is not None
    assert org.agent_by_name(POOL, placeholder_name(QUEUE)) is not None
    assert result["placeholder"] is None
    assert alerts.sent == []


@pytest.mark.parametrize(
    ("agent", "age_seconds", "stopped"),
    [
        (None, BOOT - 60, False),
        (None, BOOT + 60, True),
        ("online", LIFETIME + 60, False),
        ("online-as-task-id", BOOT + 60, False),
        ("offline", LIFETIME - 60, False),
        ("offline", LIFETIME + 60, True),
    ],
    ids=[
        "unregistered-still-booting",
        "unregistered-past-boot-timeout",
        "online-agent-never-stopped",
        "agent-registered-under-its-task-id",
        "offline-agent-within-lifetime",
        "offline-agent-past-lifetime",
    ],
)
def test_stops_tasks_that_will_never_run_a_job(org, ecs, agent, age_seconds, stopped):
    org.register_agent(POOL, placeholder_name(QUEUE), online=False)
    arn = task_for(ecs, name(1))
    if agent is not None:
        registered_as = arn.rsplit("/", 1)[-1] if agent.endswith("task-id") else name(1)
        org.register_agent(POOL, registered_as, online=agent.startswith("online"))
    age_task(arn, age_seconds)

    result = run_reap(org, ecs, RecordingAlerts())

    assert (arn not in live(ecs)) is stopped
    assert len(result["stopped_tasks"]) == int(stopped)


def test_re_enables_agents_a_failed_scale_in_left_disabled(org, ecs):
    org.register_agent(POOL, placeholder_name(QUEUE), online=False)
    left = org.register_agent(POOL, name(1), enabled=False)
    task_for(ecs, name(1))

    result = run_reap(org, ecs, RecordingAlerts())

    assert result["enabled_agents"] == [left]
    assert org.agent(left)["enabled"] is True


def test_launches_a_placeholder_task_when_the_queue_has_no_placeholder_agent(org, ecs):
    alerts = RecordingAlerts()
    org.register_agent(POOL, "adoscale-other-000000000009")  # another queue's agent

    first = run_reap(org, ecs, alerts)
    second = run_reap(org, ecs, alerts)  # its task is starting: not a second one

    assert first["placeholder"]["agent"] == placeholder_name(QUEUE)
    assert second["placeholder"] is None
    placeholders = [task for task in ecs.tasks.tasks_of(QUEUE) if task.placeholder]
    assert [task.agent_name for task in placeholders] == [placeholder_name(QUEUE)]
    assert alerts.sent == []


def test_a_disabled_queue_gets_no_placeholder(org, ecs):
    result = run_reap(org, ecs, RecordingAlerts(), enabled=False)

    assert result["placeholder"] is None
    assert ecs.tasks.tasks_of(QUEUE) == []


def test_a_placeholder_that_cannot_launch_is_alerted(org, ecs):
    alerts = RecordingAlerts()

    result = run_reap(
        org, ecs, alerts, launch=lambda agent: LaunchFailure(agent, "FARGATE: RESOURCE:CPU")
    )

    assert result["placeholder"]["failure"] == "FARGATE: RESOURCE:CPU"
    assert [(kind, queue) for kind, queue, *_ in alerts.sent] == [("launch_failed", QUEUE)]


def test_one_failing_call_does_not_stop_the_rest(org, ecs):
    org.register_agent(POOL, placeholder_name(QUEUE), online=False)
    failing = org.register_agent(POOL, name(1), online=False)
    dead = org.register_agent(POOL, name(2), online=False)
    stale = task_for(ecs, name(3))
    age_task(stale, BOOT + 60)
    org.inject(rf"agents/{failing}$", "status_503", method="DELETE")

    with pytest.raises(AdoUnavailableError):
        run_reap(org, ecs, RecordingAlerts())

    assert org.agent(failing) is not None
    assert org.agent(dead) is None
    assert stale not in live(ecs)


def test_a_placeholder_task_still_up_after_the_boot_timeout_is_stopped(org, ecs):
    placeholder = ecs.tasks.run_agent(ecs.spec, QUEUE, placeholder_name(QUEUE), True)
    age_task(placeholder.task_arn, BOOT + 60)

    result = run_reap(org, ecs, RecordingAlerts())

    assert placeholder.task_id in result["stopped_tasks"]
    # and, its agent never having registered, a new placeholder task is launched
    assert result["placeholder"]["agent"] == placeholder_name(QUEUE)
