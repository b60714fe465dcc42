"""Agents never deregister themselves: the poller deletes one that exited after its job."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto.moto_api import state_manager

from adoscale.aws.ecs import AgentTasks, Launched, LaunchSpec
from adoscale.aws.store import to_attribute_map
from adoscale.core.naming import placeholder_name
from adoscale.core.settings import POLLER_REQUIRED, load_settings
from adoscale.local.ado_server import FakeAdoServer
from adoscale.poller.wiring import build_poller
from tests.support.stack import PollerStack, create_poller_stack

PAT = "pat-exited-agents-5c1d0e"
QUEUE, POOL = "build", "linux"


@pytest.fixture
def ado():
    with FakeAdoServer(pat=PAT, parallel_jobs=50) as server:
        server.add_pool(POOL)
        yield server


@pytest.fixture
def stack(aws, ado) -> Iterator[PollerStack]:
    # tasks stay RUNNING until stopped (moto would otherwise move them on at every call)
    state_manager.set_transition(
        model_name="ecs::task", transition={"progression": "manual", "times": 10**9}
    )
    stack = create_poller_stack(PAT, ado.base_url)
    stack.client("dynamodb").put_item(
        TableName="queues",
        Item=to_attribute_map({"queue": QUEUE, "pool": POOL, "max_agents": 5}),
    )
    yield stack
    state_manager.unset_transition("ecs::task")


def name(serial: int) -> str:
    return f"adoscale-{QUEUE}-{serial:012x}"


def run_task(stack: PollerStack, agent: str) -> str:
    ecs = stack.client("ecs")
    ec2 = stack.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=agent, Description="t", VpcId=vpc)["GroupId"]
    ecs.register_task_definition(
        family="agent",
        containerDefinitions=[{"name": "agent", "image": "agent:1", "memory": 512}],
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
    )
    spec = LaunchSpec(
        task_definition="agent",
        container_name="agent",
        subnets=(subnet,),
        security_groups=(group,),
    )
    launched = AgentTasks(ecs, "agents").run_agent(spec, QUEUE, agent)
    assert isinstance(launched, Launched), launched
    return launched.task_arn


def test_an_agent_that_exited_after_its_job_is_deleted_in_the_next_cycle(stack, ado):
    # GIVEN the placeholder, an agent whose container exited after its job (offline, no
    # task), an offline agent whose task still runs, and an offline agent holding a job
    ado.register_agent(POOL, placeholder_name(QUEUE), online=False)
    exited = ado.register_agent(POOL, name(1), online=False)
    with_task = ado.register_agent(POOL, name(2), online=False)
    run_task(stack, name(2))
    busy = ado.register_agent(POOL, name(3), online=False)
    ado.assign_job(ado.queue_job(POOL), busy)
    runtime = build_poller(load_settings(stack.env, POLLER_REQUIRED), session=stack.session)

    # WHEN one cycle runs
    report = runtime.poller.poll()

    # THEN only the exited agent is gone, in this very cycle
    remaining = {agent["id"] for agent in ado.agents(POOL)}
    assert exited not in remaining
    assert {with_task, busy} <= remaining
    assert ado.agent_by_name(POOL, placeholder_name(QUEUE)) is not None
    assert report.deleted_agents == 1
    assert report.to_result()["queues"][QUEUE]["offline"] == 2


def test_a_dry_run_deletes_nothing(stack, ado):
    ado.register_agent(POOL, placeholder_name(QUEUE), online=False)
    exited = ado.register_agent(POOL, name(1), online=False)
    runtime = build_poller(load_settings(stack.env, POLLER_REQUIRED), session=stack.session)

    report = runtime.poller.poll(act=False)

    assert ado.agent(exited) is not None
    assert report.deleted_agents == 0
