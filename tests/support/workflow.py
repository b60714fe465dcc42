"""Fixtures and helpers for the scaling workflow's tests: moto (in process or over HTTP),
the fake Azure DevOps, and the step Lambdas routed to the real handlers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests
from moto.ecs.models import ecs_backends
from moto.moto_api import state_manager

from adoscale.ecs import AgentTasks
from adoscale.local.ado_server import FakeAdoServer
from adoscale.local.lambda_router import LambdaRouter
from adoscale.local.workflow_stack import MOTO_CONFIG, WorkflowStack, create_workflow_stack
from adoscale.models import AgentTask

from .moto_server import ACCOUNT, REGION

PAT = "wf-pat-7c1e99d04b2a-KNOWN-SECRET"
POOL = "linux"
QUEUE = "build"


@pytest.fixture
def tasks_stay_running() -> Iterator[None]:
    """moto walks a task to STOPPED a step per describe; real tasks run until stopped."""
    state_manager.set_transition(
        model_name="ecs::task", transition={"progression": "manual", "times": 10**9}
    )
    yield
    state_manager.unset_transition("ecs::task")


@dataclass
class Workflow:
    """The deployed workflow, the fake organisation and the router, for one test."""

    stack: WorkflowStack
    ado: FakeAdoServer
    router: LambdaRouter
    pool_id: int

    @property
    def tasks(self) -> AgentTasks:
        return AgentTasks(self.stack.client("ecs"), self.stack.env["ADOSCALE_CLUSTER"])

    def live_tasks(self, queue: str = QUEUE) -> list[AgentTask]:
        return self.tasks.tasks_of(queue)

    def all_tasks(self) -> list[dict[str, Any]]:
        """Every task of the cluster, stopped ones too, as DescribeTasks returns them."""
        ecs, cluster = self.stack.client("ecs"), self.stack.env["ADOSCALE_CLUSTER"]
        arns = ecs.list_tasks(cluster=cluster)["taskArns"]
        if not arns:
            return []
        return ecs.describe_tasks(cluster=cluster, tasks=arns, include=["TAGS"])["tasks"]

    def lease_item(self, queue: str = QUEUE) -> dict[str, Any] | None:
        return (
            self.stack.client("dynamodb")
            .get_item(
                TableName=self.stack.env["ADOSCALE_STATE_TABLE"],
                Key={"pk": {"S": f"lease#{queue}"}},
                ConsistentRead=True,
            )
            .get("Item")
        )


@pytest.fixture
def workflow(aws: str, tasks_stay_running: None) -> Iterator[Workflow]:
    """The workflow in the per-worker moto server (HTTP), waits of 1 s, fake ADO over HTTP."""
    requests.post(f"{aws}/moto-api/config", json=MOTO_CONFIG, timeout=10).raise_for_status()
    with FakeAdoServer(pat=PAT) as ado, LambdaRouter() as router:
        pool_id = ado.add_pool(POOL)
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
        yield Workflow(stack=stack, ado=ado, router=router, pool_id=pool_id)


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
