"""The ECS adapter's launch and stop calls against moto (in process), through the real client.

Failures moto never produces (no Spot capacity, a refused RunTask) are injected with a
botocore ``before-call`` hook on the same client, so the request and response paths run.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from adoscale.aws.ecs import ON_DEMAND, SPOT, Launched, LaunchFailure, parse_task
from adoscale.core.naming import AGENT_TAG, PLACEHOLDER_TAG, QUEUE_TAG
from adoscale.core.schema import parse_queue
from adoscale.workflow.scale_out import agent_environment
from tests.support.workflow import ecs_world, environment_of, tags_of


class _Http:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict = {}


def record_run_task(ecs, answer=None):
    """Every RunTask request body; ``answer(body)`` may return a canned parsed response."""
    calls: list[dict] = []

    def hook(params, **kwargs):
        body = json.loads(params["body"])
        calls.append(body)
        return answer(body) if answer else None

    ecs.meta.events.register("before-call.ecs.RunTask", hook)
    return calls


def test_one_call_per_agent_with_its_own_name_tags_and_overrides():
    with ecs_world(environment={"AZP_POOL": "linux", "AZP_CAPABILITIES": '{"docker":""}'}) as w:
        calls = record_run_task(w.ecs)
        names = [f"adoscale-build-{n:012x}" for n in range(12)]

        launched, failed = w.tasks.run_agents(w.spec, "build", names)

        assert failed == []
        assert sorted(item.agent_name for item in launched) == sorted(names)
        assert len(calls) == 12
        for body in calls:
            assert body["count"] == 1
            assert body["launchType"] == "FARGATE"
            assert body["startedBy"] == "adoscale"
            assert body["enableECSManagedTags"] is True
            assert body["propagateTags"] == "TASK_DEFINITION"
            assert len(body["clientToken"]) <= 64
            network = body["networkConfiguration"]["awsvpcConfiguration"]
            assert network["assignPublicIp"] == "DISABLED"
            assert network["securityGroups"] == list(w.spec.security_groups)
        assert len({body["clientToken"] for body in calls}) == 12
        described = w.ecs.describe_tasks(
            cluster="agents", tasks=[item.task_arn for item in launched], include=["TAGS"]
        )["tasks"]
        for task in described:
            tags, env = tags_of(task), environment_of(task)
            assert tags[QUEUE_TAG] == "build"
            assert tags[AGENT_TAG] == env["AZP_AGENT_NAME"]
            assert PLACEHOLDER_TAG not in tags
            assert env["AZP_POOL"] == "linux"
            assert env["AZP_CAPABILITIES"] == '{"docker":""}'
            assert not any("TOKEN" in key or "PAT" in key for key in env)


def test_a_reusable_queue_passes_its_job_count_in_each_run_task_override():
    queue = parse_queue(
        {"queue": "lint", "pool": "linux", "max_agents": 5, "max_jobs_per_agent": 7}
    )
    with ecs_world(environment=agent_environment(queue)) as w:
        calls = record_run_task(w.ecs)

        launched, failed = w.tasks.run_agents(w.spec, "lint", ["adoscale-lint-00000000000a"])

        assert failed == []
        override = calls[0]["overrides"]["containerOverrides"][0]["environment"]
        assert {"name": "AZP_MAX_JOBS", "value": "7"} in override
        (task,) = w.ecs.describe_tasks(cluster="agents", tasks=[launched[0].task_arn])["tasks"]
        assert environment_of(task)["AZP_MAX_JOBS"] == "7"


def test_at_most_ten_run_task_calls_are_in_flight():
    with ecs_world() as w:
        lock, state = threading.Lock(), {"now": 0, "peak": 0}

        def slow(body):
            with lock:
                state["now"] += 1
                state["peak"] = max(state["peak"], state["now"])
            time.sleep(0.02)
            with lock:
                state["now"] -= 1

        record_run_task(w.ecs, slow)
        launched, _ = w.tasks.run_agents(w.spec, "build", [f"a{n}" for n in range(25)])

        assert len(launched) == 25
        assert 1 < state["peak"] <= 10


@pytest.mark.parametrize(
    ("spot_answer", "expected_provider", "calls_expected"),
    [
        (
            {"reason": "Capacity is unavailable at this time. Please try again later"},
            ON_DEMAND,
            [SPOT, ON_DEMAND],
        ),
        ({"reason": "RESOURCE:MEMORY"}, ON_DEMAND, [SPOT, ON_DEMAND]),
        (None, SPOT, [SPOT]),
    ],
    ids=["spot-capacity-unavailable", "spot-resource-shortage", "spot-available"],
)
def test_spot_first_then_on_demand_on_capacity_failures(
    spot_answer, expected_provider, calls_expected
):
    with ecs_world(spot=True) as w:

        def answer(body):
            if body.get("capacityProviderStrategy") and spot_answer is not None:
                return _Http(200), {"tasks": [], "failures": [spot_answer]}
            return None

        calls = record_run_task(w.ecs, answer)

        outcome = w.tasks.run_agent(w.spec, "build", "adoscale-build-000000000001")

        assert isinstance(outcome, Launched)
        assert outcome.capacity_provider == expected_provider
        providers = [
            (body.get("capacityProviderStrategy") or [{"capacityProvider": ON_DEMAND}])[0][
                "capacityProvider"
            ]
            for body in calls
        ]
        assert providers == calls_expected


def test_a_failure_that_is_not_about_capacity_does_not_fall_back():
    with ecs_world(spot=True) as w:
        calls = record_run_task(
            w.ecs,
            lambda body: (
                _Http(400),
                {"Error": {"Code": "AccessDeniedException", "Message": "no PassRole"}},
            ),
        )

        outcome = w.tasks.run_agent(w.spec, "build", "adoscale-build-000000000001")

        assert isinstance(outcome, LaunchFailure)
        assert "AccessDeniedException: no PassRole" in outcome.reason
        assert len(calls) == 1


def test_every_provider_refusing_gives_failures_with_the_reasons():
    with ecs_world(spot=True) as w:
        record_run_task(
            w.ecs,
            lambda body: (
                _Http(200),
                {"tasks": [], "failures": [{"reason": "Capacity is unavailable", "detail": "az"}]},
            ),
        )

        launched, failed = w.tasks.run_agents(w.spec, "build", ["a1", "a2"])

        assert launched == []
        assert [f.agent_name for f in sorted(failed, key=lambda f: f.agent_name)] == ["a1", "a2"]
        assert "FARGATE_SPOT: Capacity is unavailable az" in failed[0].reason
        assert "FARGATE: Capacity is unavailable az" in failed[0].reason


def test_a_placeholder_task_is_tagged_as_one():
    with ecs_world(environment={"AZP_POOL": "linux", "AZP_PLACEHOLDER": "1"}) as w:
        outcome = w.tasks.run_agent(w.spec, "build", "adoscale-placeholder-build", True)

        task = w.ecs.describe_tasks(cluster="agents", tasks=[outcome.task_arn], include=["TAGS"])[
            "tasks"
        ][0]
        assert tags_of(task)[PLACEHOLDER_TAG] == "true"
        assert parse_task(task).placeholder is True
        assert w.tasks.tasks_of("build")[0].agent_name == "adoscale-placeholder-build"


def test_stop_task_stops_and_tells_when_ecs_no_longer_knows_the_task():
    with ecs_world() as w:
        launched, _ = w.tasks.run_agents(w.spec, "build", ["a1"])

        assert w.tasks.stop_task(launched[0].task_arn, "adoscale: test " + "x" * 300) is True
        stopped = w.tasks.describe([launched[0].task_arn])[0]
        assert stopped.desired_status == "STOPPED"
        assert len(stopped.stopped_reason) == 255
        assert w.tasks.tasks_of("build") == []

        record = []

        def unknown(params, **kwargs):
            record.append(params)
            error = {"Code": "InvalidParameterException", "Message": "task was not found"}
            return _Http(400), {"Error": error}

        w.ecs.meta.events.register("before-call.ecs.StopTask", unknown)
        assert (
            w.tasks.stop_task("arn:aws:ecs:eu-west-1:123456789012:task/agents/gone", "x") is False
        )
        assert len(record) == 1


@pytest.mark.parametrize(
    ("containers", "stop_code", "exit_code"),
    [
        ([{"name": "agent", "exitCode": 3}], "EssentialContainerExited", 3),
        ([{"name": "agent"}], "TaskFailedToStart", None),
        ([], None, None),
    ],
    ids=["exited-3", "never-started", "no-containers"],
)
def test_parse_task_reads_the_exit_code_and_stop_code(containers, stop_code, exit_code):
    raw = {
        "taskArn": "arn:aws:ecs:eu-west-1:123456789012:task/agents/abc",
        "lastStatus": "STOPPED",
        "desiredStatus": "STOPPED",
        "containers": containers,
        "tags": [{"key": QUEUE_TAG, "value": "build"}],
    }
    if stop_code:
        raw["stopCode"] = stop_code

    task = parse_task(raw)

    assert task is not None
    assert task.exit_code == exit_code
    assert task.stop_code == stop_code
