"""Drain and retire, one case at a time: the fake Azure DevOps over HTTP, ECS in moto."""

from __future__ import annotations

import pytest

from adoscale.ado.client import AdoClient
from adoscale.core.exceptions import AdoUnavailableError
from adoscale.core.models import Agent
from adoscale.local.ado_server import FakeAdoServer
from adoscale.workflow.scale_in import drain, retire

PAT = "scale-in-pat-31c5a8e0"
QUEUE = "build"
POOL = "linux"


@pytest.fixture
def ado(org):
    return AdoClient(org.base_url, PAT, max_retries=0)


def agent_with_task(org, ecs, serial: int, **status) -> tuple[int, str, str]:
    name = f"adoscale-{QUEUE}-{serial:012x}"
    task = ecs.tasks.run_agent(ecs.spec, QUEUE, name)
    return org.register_agent(POOL, name, **status), name, task.task_arn


def live_arns(ecs) -> set[str]:
    return {task.task_arn for task in ecs.tasks.tasks_of(QUEUE)}


def test_drain_disables_only_idle_online_agents_of_the_queue(org, ado):
    pool = org.pool_id(POOL)
    idle = org.register_agent(POOL, f"adoscale-{QUEUE}-{1:012x}")
    busy = org.register_agent(POOL, f"adoscale-{QUEUE}-{2:012x}")
    org.assign_job(org.queue_job(POOL), busy)
    offline = org.register_agent(POOL, f"adoscale-{QUEUE}-{3:012x}", online=False)
    leftover = org.register_agent(POOL, f"adoscale-{QUEUE}-{4:012x}", enabled=False)
    placeholder = org.register_agent(POOL, f"adoscale-placeholder-{QUEUE}")
    foreign = org.register_agent(POOL, "someone-elses-agent")

    result = drain(QUEUE, pool, [idle, busy, offline, leftover, placeholder, foreign, 999], ado)

    assert [entry["agent_id"] for entry in result["drained"]] == [idle, leftover]
    assert result["drained_count"] == 2
    reasons = {entry["agent_id"]: entry["reason"] for entry in result["skipped"]}
    assert reasons[busy] == "busy"
    assert reasons[offline].startswith("offline")
    assert reasons[placeholder] == reasons[foreign] == "not an adoscale agent of this queue"
    assert reasons[999] == "gone"
    assert org.agent(idle)["enabled"] is False
    assert org.agent(busy)["enabled"] is True
    assert org.agent(placeholder)["enabled"] is True


def test_drain_re_enables_what_it_disabled_when_a_call_fails(org, ado):
    pool = org.pool_id(POOL)
    first = org.register_agent(POOL, f"adoscale-{QUEUE}-{1:012x}")
    second = org.register_agent(POOL, f"adoscale-{QUEUE}-{2:012x}")
    org.inject(rf"agents/{second}$", "status_503", method="GET")

    with pytest.raises(AdoUnavailableError):
        drain(QUEUE, pool, [first, second], ado)

    assert org.agent(first)["enabled"] is True
    assert org.agent(second)["enabled"] is True


def test_retire_deletes_the_agent_before_stopping_its_task(org, ado, ecs):
    pool = org.pool_id(POOL)
    agent_id, name, arn = agent_with_task(org, ecs, 1)
    drained = drain(QUEUE, pool, [agent_id], ado)["drained"]
    order: list[str] = []
    org_delete = ado.delete_agent

    def delete(pool_id, agent):
        order.append("delete")
        return org_delete(pool_id, agent)

    ado.delete_agent = delete
    ecs.ecs.meta.events.register("before-call.ecs.StopTask", lambda **kw: order.append("stop"))

    result = retire(QUEUE, pool, drained, ado, ecs.tasks)

    assert result["retired"] == [agent_id]
    assert order == ["delete", "stop"]
    assert org.agent(agent_id) is None
    assert arn not in live_arns(ecs)
    assert result["stopped_tasks"] == [arn.rsplit("/", 1)[-1]]
    stopped = ecs.tasks.describe([arn])[0]
    assert stopped.stopped_reason == f"adoscale: retired idle agent {name}"


def test_retire_keeps_and_re_enables_an_agent_whose_job_arrived(org, ado, ecs):
    pool = org.pool_id(POOL)
    agent_id, _name, arn = agent_with_task(org, ecs, 1)
    drained = drain(QUEUE, pool, [agent_id], ado)["drained"]
    job = org.queue_job(POOL)
    org.assign_job(job, agent_id)

    result = retire(QUEUE, pool, drained, ado, ecs.tasks)

    assert result["kept"] == [agent_id]
    assert org.agent(agent_id)["enabled"] is True
    assert org.agent(agent_id)["assignedRequest"]["requestId"] == job
    assert arn in live_arns(ecs)


class JobJustBeforeDelete:
    """Azure DevOps assigns a job between retire's re-read and its DELETE."""

    def __init__(self, client: AdoClient, org: FakeAdoServer) -> None:
        self.client, self.org = client, org

    def agent(self, pool_id: int, agent_id: int) -> Agent | None:
        return self.client.agent(pool_id, agent_id)

    def set_agent_enabled(self, pool_id: int, agent_id: int, enabled: bool) -> None:
        self.client.set_agent_enabled(pool_id, agent_id, enabled)

    def delete_agent(self, pool_id: int, agent_id: int) -> bool:
        self.org.assign_job(self.org.queue_job(POOL), agent_id)
        return self.client.delete_agent(pool_id, agent_id)


def test_a_refused_delete_keeps_the_agent_and_its_task(org, ado, ecs):
    pool = org.pool_id(POOL)
    agent_id, _name, arn = agent_with_task(org, ecs, 1)
    drained = drain(QUEUE, pool, [agent_id], ado)["drained"]

    result = retire(QUEUE, pool, drained, JobJustBeforeDelete(ado, org), ecs.tasks)

    assert result["kept"] == [agent_id]
    assert org.agent(agent_id)["enabled"] is True
    assert "assignedRequest" in org.agent(agent_id)
    assert arn in live_arns(ecs)
    assert org.count("agent", method="DELETE", status=400) == 1


def test_an_agent_that_left_during_the_window_has_its_task_stopped(org, ado, ecs):
    pool = org.pool_id(POOL)
    agent_id, _name, arn = agent_with_task(org, ecs, 1)
    drained = drain(QUEUE, pool, [agent_id], ado)["drained"]
    org.remove_agent(agent_id)

    result = retire(QUEUE, pool, drained, ado, ecs.tasks)

    assert result["gone"] == [agent_id]
    assert arn not in live_arns(ecs)


def test_one_failing_agent_does_not_stop_the_others_and_is_left_enabled(org, ado, ecs):
    pool = org.pool_id(POOL)
    failing, _n, failing_arn = agent_with_task(org, ecs, 1)
    fine, _m, fine_arn = agent_with_task(org, ecs, 2)
    drained = drain(QUEUE, pool, [failing, fine], ado)["drained"]
    org.inject(rf"agents/{failing}$", "status_500", method="DELETE")

    with pytest.raises(AdoUnavailableError):
        retire(QUEUE, pool, drained, ado, ecs.tasks)

    assert org.agent(failing)["enabled"] is True
    assert failing_arn in live_arns(ecs)
    assert org.agent(fine) is None
    assert fine_arn not in live_arns(ecs)


def test_a_retried_retire_never_deletes_the_agent_its_failed_attempt_re_enabled(org, ado, ecs):
    # GIVEN an idle agent drained through the confirm window, and one 503 on its re-read
    pool = org.pool_id(POOL)
    agent_id, _name, arn = agent_with_task(org, ecs, 1)
    drained = drain(QUEUE, pool, [agent_id], ado)["drained"]
    org.inject(rf"agents/{agent_id}$", "status_503", times=1, method="GET")

    # WHEN retire fails on it (re-enabling it) and the state machine's Retry runs it again
    with pytest.raises(AdoUnavailableError):
        retire(QUEUE, pool, drained, ado, ecs.tasks)
    assert org.agent(agent_id)["enabled"] is True
    again = retire(QUEUE, pool, drained, ado, ecs.tasks)

    # THEN the agent, enabled and offered jobs again with no confirm window, is kept
    assert again["kept"] == [agent_id]
    assert again["retired"] == []
    assert org.agent(agent_id) is not None
    assert org.agent(agent_id)["enabled"] is True
    assert arn in live_arns(ecs)
    assert org.count("agent", method="DELETE") == 0
