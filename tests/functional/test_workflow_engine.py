"""The scaling state machine executed by moto's Step Functions engine, every branch.

moto runs over HTTP (one server per xdist worker); its Lambda invocations are routed to
the real handlers in process; Azure DevOps is the fake server over HTTP.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from adoscale.aws.ecs import LaunchSpec
from adoscale.core.naming import AGENT_TAG, PLACEHOLDER_TAG, QUEUE_TAG, placeholder_name
from adoscale.core.request import ScalingRequest
from tests.support.workflow import (
    PAT,
    Workflow,
    age_task,
    end_task,
    environment_of,
    tags_of,
    wait_for,
    workflow_fixture,  # noqa: F401 - fixture "wf"
    workflow_world_fixture,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.timeout(60)


def request(wf: Workflow, action: str, count: int = 0, agent_ids: tuple[int, ...] = ()):
    return ScalingRequest(
        queue=wf.queue,
        action=action,
        count=count,
        pool_id=wf.pool_id,
        requested_at=datetime.now(UTC).isoformat(),
        agent_ids=agent_ids,
    )


def put_queue(wf: Workflow, **extra) -> None:
    wf.stack.put_queue({"queue": wf.queue, "pool": wf.pool, "max_agents": 20, **extra})


def start(wf: Workflow, req: ScalingRequest) -> str:
    return wf.stack.start(req, name=f"{req.queue}-{req.action}-{time.time_ns()}")


def idle_agent(wf: Workflow, serial: int) -> tuple[int, str, str]:
    """An online idle adoscale agent of the queue and its running task: (id, name, arn)."""
    name = f"adoscale-{wf.queue}-{serial:012x}"
    spec = LaunchSpec(
        task_definition=wf.stack.task_definition_arn,
        container_name="agent",
        subnets=(wf.stack.env["ADOSCALE_SUBNETS"],),
        security_groups=(wf.stack.env["ADOSCALE_SECURITY_GROUPS"],),
        environment={"AZP_POOL": wf.pool},
    )
    launched = wf.tasks.run_agent(spec, wf.queue, name)
    agent_id = wf.ado.register_agent(wf.pool, name)
    return agent_id, name, launched.task_arn


def finished(wf: Workflow, execution: str) -> bool:
    sfn = wf.stack.client("stepfunctions")
    return sfn.describe_execution(executionArn=execution)["status"] != "RUNNING"


def running_arns(wf: Workflow) -> set[str]:
    return {task.task_arn for task in wf.live_tasks()}


def no_pat_in(wf: Workflow, *texts: str) -> None:
    for text in texts:
        assert PAT not in text


def test_scale_out_launches_tagged_agents_then_verifies_they_registered(wf):
    # GIVEN a queue with capabilities that names the stack's organisation by its short name
    capabilities = {"docker": "", "Agent.OS": "Linux"}
    put_queue(wf, capabilities=capabilities, organization_url=wf.ado.org)

    # WHEN a scale_out of 3 runs, and each launched container registers its agent
    execution = start(wf, request(wf, "scale_out", 3))
    launched = wait_for(lambda: len(wf.all_tasks()) == 3 and wf.all_tasks(), what="3 tasks")
    for task in launched:
        wf.ado.register_agent(wf.pool, environment_of(task)["AZP_AGENT_NAME"])
    result = wf.stack.wait(execution)
    assert result["stateMachineArn"] == wf.stack.state_machine_arn  # Standard: boot waits

    # THEN the execution succeeded and saw all three agents register
    assert result["status"] == "SUCCEEDED", result
    output = result["output"]
    assert output["launch"]["launched"] == 3
    assert output["verify"]["pending_count"] == 0
    assert output["verify"]["not_registering"] == []
    # AND each task carries its own agent name in its tag and its override, never the PAT
    names = set()
    for task in launched:
        tags, env = tags_of(task), environment_of(task)
        assert tags[QUEUE_TAG] == wf.queue
        assert tags[AGENT_TAG] == env["AZP_AGENT_NAME"]
        assert env["AZP_AGENT_NAME"].startswith(f"adoscale-{wf.queue}-")
        assert env["AZP_POOL"] == wf.pool
        assert json.loads(env["AZP_CAPABILITIES"]) == capabilities
        assert env["AZP_URL"] == wf.ado.base_url
        overrides = {o["name"]: o for o in task["overrides"]["containerOverrides"]}
        assert overrides["pat-handover"]["environment"] == [
            {"name": "AZP_ORGANIZATION", "value": wf.ado.org}
        ]
        assert PLACEHOLDER_TAG not in tags
        assert task["startedBy"] == "adoscale"
        assert task["launchType"] == "FARGATE"
        no_pat_in(wf, json.dumps(task, default=str))
        names.add(env["AZP_AGENT_NAME"])
    assert len(names) == 3
    assert set(output["launch"]["tasks"]) == names
    # AND the lease was given back before the boot wait, recording when the launch ended
    lease = wf.lease_item()
    assert "owner" not in lease
    assert "expires_at" in lease
    launch_end = datetime.fromtimestamp(float(lease["last_launch_end"]["N"]), UTC)
    assert launch_end >= datetime.fromisoformat(output["launch"]["launched_at"])
    # AND nothing was alerted
    assert wf.alerts() == []


def test_scale_out_reports_and_stops_agents_that_do_not_register(wf):
    put_queue(wf)

    # WHEN of 3 launched agents one registers, one's container dies before registering,
    # and one is still unregistered after the boot timeout
    execution = start(wf, request(wf, "scale_out", 3))
    tasks = wait_for(lambda: len(wf.all_tasks()) == 3 and wf.all_tasks(), what="3 tasks")
    registers, dies, hangs = sorted(tasks, key=lambda t: t["taskArn"])
    wf.ado.register_agent(wf.pool, environment_of(registers)["AZP_AGENT_NAME"])
    end_task(dies["taskArn"], exit_code=1, reason="Essential container in task exited")
    age_task(hangs["taskArn"], 600)
    result = wf.stack.wait(execution)

    # THEN the execution succeeded, the hung task was stopped, and one alert names both
    assert result["status"] == "SUCCEEDED", result
    assert running_arns(wf) == {registers["taskArn"]}
    alerts = wf.alerts()
    assert [a["body"]["kind"] for a in alerts] == ["agents_not_registering"]
    reasons = {a["agent"]: a["reason"] for a in alerts[0]["body"]["detail"]["agents"]}
    assert "exit code 1" in reasons[environment_of(dies)["AZP_AGENT_NAME"]]
    assert "Essential container" in reasons[environment_of(dies)["AZP_AGENT_NAME"]]
    assert "task stopped" in reasons[environment_of(hangs)["AZP_AGENT_NAME"]]
    assert alerts[0]["attributes"] == {"kind": "agents_not_registering", "queue": wf.queue}


def test_spot_queue_falls_back_to_on_demand_on_capacity_errors(wf):
    put_queue(wf, spot=True)
    # GIVEN FARGATE_SPOT has no capacity (a botocore hook on the launch step's real client)
    seen: list[str] = []

    def no_spot(params, **kwargs):
        strategy = json.loads(params["body"]).get("capacityProviderStrategy") or []
        seen.append(strategy[0]["capacityProvider"] if strategy else "FARGATE")
        if strategy:
            failure = {"reason": "Capacity is unavailable at this time. Please try again later"}
            return _http(200), {"tasks": [], "failures": [failure]}
        return None

    wf.hook("launch", "before-call.ecs.RunTask", no_spot)

    # WHEN two agents are launched
    execution = start(wf, request(wf, "scale_out", 2))
    for task in wait_for(lambda: len(wf.all_tasks()) == 2 and wf.all_tasks(), what="tasks"):
        wf.ado.register_agent(wf.pool, environment_of(task)["AZP_AGENT_NAME"])
    result = wf.stack.wait(execution)

    # THEN each was tried on Spot first and started on-demand
    assert result["status"] == "SUCCEEDED", result
    assert sorted(seen) == ["FARGATE", "FARGATE", "FARGATE_SPOT", "FARGATE_SPOT"]
    assert result["output"]["launch"]["on_demand_fallbacks"] == 2
    assert all(task["launchType"] == "FARGATE" for task in wf.all_tasks())
    assert wf.alerts() == []


def test_launch_failing_everywhere_alerts_launch_failed_and_fails(wf):
    put_queue(wf)

    def refuse(params, **kwargs):
        failure = {"arn": "", "reason": "RESOURCE:MEMORY", "detail": "no room"}
        return _http(200), {"tasks": [], "failures": [failure]}

    wf.hook("launch", "before-call.ecs.RunTask", refuse)

    result = wf.stack.run(request(wf, "scale_out", 2))

    assert result["status"] == "FAILED"
    assert result["error"] == "LaunchFailed"
    assert wf.all_tasks() == []
    alerts = wf.alerts()
    assert [a["body"]["kind"] for a in alerts] == ["launch_failed"]
    assert "RESOURCE:MEMORY" in alerts[0]["body"]["detail"]["reasons"][0]
    assert "owner" not in wf.lease_item()


def test_a_scale_out_decided_before_the_last_launch_finished_is_skipped(wf):
    put_queue(wf)
    # GIVEN two poll cycles that both counted the queue before any agent was launched
    first = request(wf, "scale_out", 2)
    overlapping = replace(first, count=2)

    # WHEN the first one's execution launches and gives the lease back
    execution = start(wf, first)
    launched = wait_for(lambda: len(wf.all_tasks()) == 2 and wf.all_tasks(), what="2 tasks")
    wait_for(lambda: "owner" not in (wf.lease_item() or {}), what="the lease given back")
    # AND only then the overlapping cycle's execution passes Validate
    overlap = start(wf, overlapping)
    wait_for(lambda: finished(wf, overlap) or len(wf.all_tasks()) > 2, what="the overlap")
    for task in launched:
        wf.ado.register_agent(wf.pool, environment_of(task)["AZP_AGENT_NAME"])
    assert wf.stack.wait(execution)["status"] == "SUCCEEDED"

    # THEN the overlapping one was skipped: nothing launched twice
    assert len(wf.all_tasks()) == 2
    stale = wf.stack.wait(overlap)
    assert stale["status"] == "SUCCEEDED", stale
    context = stale["output"]["context"]
    assert context["proceed"] is False
    assert context["reason"] == "stale: decided before the last launch finished"
    ended = datetime.fromisoformat(context["last_launch_end"])
    assert ended > datetime.fromisoformat(first.requested_at)
    assert "launch" not in stale["output"]
    # AND a scale_out decided after that launch finished proceeds
    fresh = start(wf, request(wf, "scale_out", 1))
    third = wait_for(
        lambda: [t for t in wf.all_tasks() if t["taskArn"] not in {x["taskArn"] for x in launched}],
        what="a third task",
    )
    wf.ado.register_agent(wf.pool, environment_of(third[0])["AZP_AGENT_NAME"])
    result = wf.stack.wait(fresh)
    assert result["status"] == "SUCCEEDED", result
    assert result["output"]["launch"]["launched"] == 1
    assert len(wf.all_tasks()) == 3


def test_scale_in_retires_idle_agents_agent_first_then_task(wf):
    put_queue(wf)
    first, second = idle_agent(wf, 1), idle_agent(wf, 2)
    keep = idle_agent(wf, 3)  # not chosen: must be untouched

    result = wf.stack.run(request(wf, "scale_in", 2, (first[0], second[0])))

    assert result["status"] == "SUCCEEDED", result
    # scale-ins run the same definition on the Express state machine
    assert result["stateMachineArn"] == wf.stack.express_state_machine_arn
    sfn = wf.stack.client("stepfunctions")
    assert sfn.describe_state_machine(stateMachineArn=result["stateMachineArn"])["type"] == (
        "EXPRESS"
    )
    assert sorted(result["output"]["retire"]["retired"]) == sorted([first[0], second[0]])
    assert wf.ado.agent(first[0]) is None
    assert wf.ado.agent(second[0]) is None
    assert running_arns(wf) == {keep[2]}
    assert wf.ado.agent(keep[0])["enabled"] is True
    assert wf.lease_item() is None
    assert wf.alerts() == []


def test_scale_in_keeps_an_agent_that_took_a_job_during_the_confirm_window(wf):
    put_queue(wf)
    busy_soon, idle = idle_agent(wf, 1), idle_agent(wf, 2)
    job = wf.ado.queue_job(wf.pool)

    # WHEN both are drained and, in the confirm window, a job lands on one of them
    execution = start(wf, request(wf, "scale_in", 2, (busy_soon[0], idle[0])))
    wait_for(lambda: wf.ado.agent(busy_soon[0])["enabled"] is False, what="drain")
    wf.ado.assign_job(job, busy_soon[0])
    wf.ado.start_job(job)
    result = wf.stack.wait(execution)

    # THEN the busy agent and its task survive, enabled again; the idle one is retired
    assert result["status"] == "SUCCEEDED", result
    agent = wf.ado.agent(busy_soon[0])
    assert agent is not None
    assert agent["enabled"] is True
    assert agent["assignedRequest"]["requestId"] == job
    assert busy_soon[2] in running_arns(wf)
    assert wf.ado.agent(idle[0]) is None
    assert idle[2] not in running_arns(wf)
    assert result["output"]["retire"]["kept"] == [busy_soon[0]]
    assert result["output"]["retire"]["retired"] == [idle[0]]


def test_reap_cleans_up_and_launches_the_missing_placeholder(wf):
    put_queue(wf, capabilities={"docker": ""})
    # GIVEN an offline agent whose task is gone, an online agent with its task, a task that
    # never registered (past the boot timeout), and another queue's offline agent
    dead = wf.ado.register_agent(wf.pool, f"adoscale-{wf.queue}-{0xDEAD:012x}", online=False)
    online = idle_agent(wf, 7)
    stale = idle_agent(wf, 8)
    wf.ado.remove_agent(stale[0])
    age_task(stale[2], 600)
    foreign = wf.ado.register_agent(wf.pool, f"adoscale-other-{0xBEEF:012x}", online=False)

    result = wf.stack.run(request(wf, "reap"))

    # THEN the dead agent is deleted, the stale task stopped, the rest untouched, and a
    # placeholder-mode task was launched for the queue
    assert result["status"] == "SUCCEEDED", result
    assert wf.ado.agent(dead) is None
    assert wf.ado.agent(online[0]) is not None
    assert wf.ado.agent(foreign) is not None
    live = {task.task_arn: task for task in wf.live_tasks()}
    assert online[2] in live
    assert stale[2] not in live
    placeholders = [t for t in wf.all_tasks() if tags_of(t).get(PLACEHOLDER_TAG) == "true"]
    assert len(placeholders) == 1
    env = environment_of(placeholders[0])
    assert env["AZP_PLACEHOLDER"] == "1"
    assert env["AZP_AGENT_NAME"] == placeholder_name(wf.queue)
    assert json.loads(env["AZP_CAPABILITIES"]) == {"docker": ""}
    assert tags_of(placeholders[0])[AGENT_TAG] == placeholder_name(wf.queue)
    assert result["output"]["reap"]["deleted_agents"] == [dead]


def test_reap_never_deletes_the_placeholder_agent(wf):
    put_queue(wf)
    placeholder = wf.ado.register_agent(wf.pool, placeholder_name(wf.queue), online=False)

    result = wf.stack.run(request(wf, "reap"))

    assert result["status"] == "SUCCEEDED", result
    assert wf.ado.agent(placeholder) is not None
    assert wf.all_tasks() == []  # present, so no new placeholder task either


def test_an_execution_skips_when_another_holds_the_queue_lease(wf):
    put_queue(wf)
    wf.stack.client("dynamodb").put_item(
        TableName=wf.stack.env["ADOSCALE_STATE_TABLE"],
        Item={
            "pk": {"S": f"lease#{wf.queue}"},
            "owner": {"S": "arn:aws:states:eu-west-1:123456789012:execution:x:other"},
            "expires_at": {"N": str(int(time.time()) + 300)},
        },
    )

    result = wf.stack.run(request(wf, "scale_out", 2))

    assert result["status"] == "SUCCEEDED"
    assert result["output"]["context"]["proceed"] is False
    assert "lease" in result["output"]["context"]["reason"]
    assert "launch" not in result["output"]
    assert wf.all_tasks() == []
    assert wf.lease_item()["owner"]["S"].endswith(":other")  # still theirs


@pytest.mark.parametrize(
    ("breakage", "error"),
    [
        ("invalid_item", "QueueConfigError"),
        ("ado_auth", "AdoAuthError"),
        ("invalid_input", "WorkflowInputError"),
    ],
    ids=["invalid-queue-item", "ado-refuses-the-pat", "invalid-execution-input"],
)
def test_a_failing_step_alerts_workflow_failed_releases_and_fails(wf, breakage, error):
    put_queue(wf)
    agent = idle_agent(wf, 1)
    req = request(wf, "scale_in", 1, (agent[0],))
    if breakage == "invalid_item":
        put_queue(wf, max_agents=0)
    elif breakage == "ado_auth":
        wf.ado.inject("agent", "status_401_json")
    execution_input = req.to_input()
    if breakage == "invalid_input":
        execution_input["count"] = -1
    sfn = wf.stack.client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=wf.stack.state_machine_arn,
        name=f"{wf.queue}-fail",
        input=json.dumps(execution_input),
    )["executionArn"]

    result = wf.stack.wait(execution)

    # THEN the execution failed, after one workflow_failed alert naming the error
    assert result["status"] == "FAILED"
    assert result["error"] == "ScalingFailed"
    alerts = wf.alerts()
    assert [a["body"]["kind"] for a in alerts] == ["workflow_failed"]
    body = alerts[0]["body"]
    assert body["queue"] == wf.queue
    assert body["detail"]["error"] == error
    assert body["detail"]["execution"] == execution
    assert body["detail"]["cause"]
    no_pat_in(wf, alerts[0]["raw"])
    # AND the lease is free, and the agent is neither deleted nor left disabled
    assert wf.lease_item() is None
    wf.ado.clear_faults()
    assert wf.ado.agent(agent[0])["enabled"] is True


def _http(status: int):
    class Response:
        status_code = status
        headers: dict = {}

    return Response()
