"""Fixtures and helpers for the scaling workflow's tests: moto (in process or over HTTP),
the fake Azure DevOps, and the step Lambdas routed to the real handlers."""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws
from moto.ecs.models import ecs_backends
from moto.moto_api import state_manager

from adoscale.aws.ecs import AgentTasks, LaunchSpec
from adoscale.core.models import AgentTask
from adoscale.core.naming import QUEUE_TAG
from adoscale.local.ado_server import FakeAdoServer
from adoscale.local.lambda_router import LambdaRouter
from adoscale.local.workflow_stack import MOTO_CONFIG, WorkflowStack, create_workflow_stack

from .moto_server import ACCOUNT, REGION

PAT = "wf-pat-7c1e99d04b2a-KNOWN-SECRET"
_SERIAL = itertools.count(1)


@dataclass
class World:
    """One deployment of the workflow per test module: moto, fake ADO, router, stack."""

    stack: WorkflowStack
    ado: FakeAdoServer
    router: LambdaRouter


@contextmanager
def moto_http_world(moto_endpoint: str) -> Iterator[None]:
    """The worker's moto server, reset and configured, with the environment pointing at it;
    moto's tasks stay RUNNING until stopped, as real ones do (moto otherwise walks them to
    STOPPED a step per describe)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # 5000 AMIs nobody here uses
        patch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.delenv("AWS_PROFILE", raising=False)
        requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
        requests.post(
            f"{moto_endpoint}/moto-api/config", json=MOTO_CONFIG, timeout=10
        ).raise_for_status()
        state_manager.set_transition(
            model_name="ecs::task", transition={"progression": "manual", "times": 10**9}
        )
        try:
            yield
        finally:
            state_manager.unset_transition("ecs::task")


@pytest.fixture(scope="module", name="workflow_world")
def workflow_world_fixture(moto_endpoint: str) -> Iterator[World]:
    """Deployed once per module (and per xdist worker): tests use their own queue and pool.

    moto runs over HTTP; waits are 1 s; moto's tasks stay RUNNING until stopped, as real
    ones do (moto otherwise walks them to STOPPED a step per describe).
    """
    with moto_http_world(moto_endpoint), FakeAdoServer(pat=PAT) as ado, LambdaRouter() as router:
        stack = create_workflow_stack(
            boto3.session.Session(region_name=REGION),
            org_url=ado.base_url,
            pat=PAT,
            boot_wait_seconds=1,
            confirm_wait_seconds=1,
            extra_env={
                "ADOSCALE_BOOT_TIMEOUT_SECONDS": "120",
                "ADOSCALE_ADO_CONNECT_TIMEOUT": "0.5",
                "ADOSCALE_ADO_READ_TIMEOUT": "1",
            },
        )
        yield World(stack, ado, router)


@dataclass
class Workflow:
    """One test's view: its own queue and pool in the shared deployment."""

    stack: WorkflowStack
    ado: FakeAdoServer
    router: LambdaRouter
    queue: str
    pool: str
    pool_id: int
    _hooks: list[tuple[Any, str, Any]] = field(default_factory=list)

    @property
    def tasks(self) -> AgentTasks:
        return AgentTasks(self.stack.client("ecs"), self.stack.env["ADOSCALE_CLUSTER"])

    def live_tasks(self) -> list[AgentTask]:
        return self.tasks.tasks_of(self.queue)

    def all_tasks(self) -> list[dict[str, Any]]:
        """This queue's tasks, stopped ones too, as DescribeTasks returns them."""
        ecs, cluster = self.stack.client("ecs"), self.stack.env["ADOSCALE_CLUSTER"]
        arns = [
            arn
            for page in ecs.get_paginator("list_tasks").paginate(cluster=cluster)
            for arn in page["taskArns"]
        ]
        described = []
        for start in range(0, len(arns), 100):
            described += ecs.describe_tasks(
                cluster=cluster, tasks=arns[start : start + 100], include=["TAGS"]
            )["tasks"]
        return [task for task in described if tags_of(task).get(QUEUE_TAG) == self.queue]

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts about this queue published since the last call."""
        return [a for a in self.stack.alerts() if a["body"]["queue"] == self.queue]

    def lease_item(self) -> dict[str, Any] | None:
        return (
            self.stack.client("dynamodb")
            .get_item(
                TableName=self.stack.env["ADOSCALE_STATE_TABLE"],
                Key={"pk": {"S": f"lease#{self.queue}"}},
                ConsistentRead=True,
            )
            .get("Item")
        )

    def hook(self, step: str, event: str, handler: Any, service: str = "ecs") -> None:
        """A botocore event hook on a step's real (warm) client, removed after the test."""
        client = self.router.handler(self.stack.function_arns[step]).runtime.clients[service]
        client.meta.events.register(event, handler)
        self._hooks.append((client, event, handler))

    def remove_hooks(self) -> None:
        for client, event, handler in self._hooks:
            client.meta.events.unregister(event, handler)
        self._hooks.clear()


@pytest.fixture(name="wf")
def workflow_fixture(workflow_world: World) -> Iterator[Workflow]:
    """A fresh queue and pool of the module's deployment (import this fixture as ``wf``)."""
    serial = next(_SERIAL)
    pool = f"pool-{serial}"
    wf = Workflow(
        stack=workflow_world.stack,
        ado=workflow_world.ado,
        router=workflow_world.router,
        queue=f"q{serial}",
        pool=pool,
        pool_id=workflow_world.ado.add_pool(pool),
    )
    wf.stack.alerts()  # whatever earlier tests left behind
    yield wf
    wf.remove_hooks()


def moto_task(task_arn: str) -> Any:
    """moto's own task object (same process), to age it or end it as Fargate would."""
    for tasks in ecs_backends[ACCOUNT][REGION].tasks.values():
        if task_arn in tasks:
            return tasks[task_arn]
    raise KeyError(task_arn)


def age_task(task_arn: str, seconds: float) -> None:
    moto_task(task_arn).created_at = datetime.now(UTC) - timedelta(seconds=seconds)


def end_task(task_arn: str, *, exit_code: int, reason: str) -> None:
    """The container exited by itself (moto only stops tasks when told to)."""
    task = moto_task(task_arn)
    task.last_status = "STOPPED"
    task.desired_status = "STOPPED"
    task.stopped_reason = reason
    for container in task.containers:
        container.exitCode = exit_code


def wait_for(condition: Any, timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def tags_of(task: dict[str, Any]) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in task.get("tags", [])}


def environment_of(task: dict[str, Any]) -> dict[str, str]:
    overrides = task.get("overrides", {}).get("containerOverrides", [])
    return {
        item["name"]: item["value"]
        for override in overrides
        for item in override.get("environment", [])
    }


@dataclass
class EcsWorld:
    """moto in process: a VPC, a cluster and the agent task definition, nothing else."""

    ecs: Any
    tasks: AgentTasks
    spec: LaunchSpec


@contextmanager
def ecs_world(
    *, spot: bool = False, environment: dict[str, str] | None = None
) -> Iterator[EcsWorld]:
    """``with mock_aws(): ...`` around a ready cluster; tasks stay RUNNING until stopped."""
    state_manager.set_transition(
        model_name="ecs::task", transition={"progression": "manual", "times": 10**9}
    )
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.delenv("AWS_ENDPOINT_URL", raising=False)
            patch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # 5000 AMIs nobody here uses
            with mock_aws():
                yield _ready_cluster(spot, environment or {"AZP_POOL": "linux"})
    finally:
        state_manager.unset_transition("ecs::task")


@functools.cache
def session_for_tests() -> boto3.session.Session:
    """One session for the in-process tests: its loader parses each service model once."""
    return boto3.session.Session(
        region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def _ready_cluster(spot: bool, environment: dict[str, str]) -> EcsWorld:
    session = session_for_tests()
    ec2 = session.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="agents", Description="a", VpcId=vpc)
    ecs = session.client("ecs")
    ecs.create_cluster(clusterName="agents")
    definition = ecs.register_task_definition(
        family="agent",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "agent", "image": "agent:1", "memory": 512}],
    )["taskDefinition"]["taskDefinitionArn"]
    spec = LaunchSpec(
        task_definition=definition,
        container_name="agent",
        subnets=(subnet,),
        security_groups=(group["GroupId"],),
        environment=environment,
        spot=spot,
    )
    return EcsWorld(ecs=ecs, tasks=AgentTasks(ecs, "agents"), spec=spec)


class RecordingAlerts:
    """Stands in for ``Alerter`` where a test checks which alerts a step raised."""

    def __init__(self) -> None:
        self.sent: list[tuple] = []

    def publish(self, kind: str, queue: str | None, message: str, detail: Any = None) -> bool:
        self.sent.append((kind, queue, message, detail))
        return True


@contextmanager
def organisation_with_pool(pat: str, pool: str) -> Iterator[FakeAdoServer]:
    """A fake Azure DevOps organisation with one pool, for the step tests."""
    with FakeAdoServer(pat=pat) as server:
        server.add_pool(pool)
        yield server
