"""ECS adapter: the agent tasks of the cluster, grouped by the queue they were launched for.

The poller needs every queue's tasks each minute; one paged ListTasks plus DescribeTasks
in batches of 100 serves all queues, instead of one listing per queue.

Launching: ECS applies a RunTask call's overrides and tags to every task it starts, so
one call per agent (``count=1``) is the only way to give each task its own agent name,
known before the task exists and carried both in ``AZP_AGENT_NAME`` and in the
``adoscale:agent`` tag from birth. At most ``RUN_BATCH`` (10) such calls are in flight at
once. Spot is tried first when asked; a capacity failure falls back to on-demand. A
profile on EC2 capacity starts on its own capacity provider (ECS brings an instance up
for it), with no Spot fallback of ours: its Auto Scaling group mixes Spot itself.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from adoscale.core.models import AgentTask
from adoscale.core.naming import AGENT_TAG, PLACEHOLDER_TAG, QUEUE_TAG

DESCRIBE_BATCH = 100
RUN_BATCH = 10  # RunTask calls in flight at once (each starts one agent)
STARTED_BY = "adoscale"
SPOT = "FARGATE_SPOT"
ON_DEMAND = "FARGATE"
REASON_LIMIT = 255  # StopTask's reason is at most 255 characters


@dataclass(frozen=True)
class LaunchSpec:
    """What every agent task of one queue shares: task definition, network, environment."""

    task_definition: str
    container_name: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    assign_public_ip: bool = False
    environment: Mapping[str, str] = field(default_factory=dict, hash=False)
    spot: bool = False
    # The task's init container (it hands the PAT over) and what it is told: which of
    # the stack's organisations this agent serves. Empty: no init container override.
    init_container_name: str = ""
    init_environment: Mapping[str, str] = field(default_factory=dict, hash=False)
    capacity_provider: str | None = None  # an EC2 capacity provider; None: Fargate
    one_per_instance: bool = False  # EC2 only: never two of these tasks on one instance


@dataclass(frozen=True)
class Launched:
    """A task ECS accepted for one agent name."""

    agent_name: str
    task_arn: str
    capacity_provider: str

    @property
    def task_id(self) -> str:
        return self.task_arn.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class LaunchFailure:
    """An agent no capacity provider would start, with ECS's reasons."""

    agent_name: str
    reason: str


class AgentTasks:
    """Reads (and, for the workflow steps, changes) the agent tasks of one cluster."""

    def __init__(self, ecs: Any, cluster: str) -> None:
        self._ecs = ecs
        self._cluster = cluster

    def list_tasks(self) -> dict[str, list[AgentTask]]:
        """Tasks not yet told to stop, of every queue, keyed by queue name."""
        arns = [
            arn
            for page in self._ecs.get_paginator("list_tasks").paginate(
                cluster=self._cluster, desiredStatus="RUNNING"
            )
            for arn in page.get("taskArns", [])
        ]
        by_queue: dict[str, list[AgentTask]] = defaultdict(list)
        for task in self.describe(arns):
            by_queue[task.queue].append(task)
        return dict(by_queue)

    def tasks_of(self, queue: str) -> list[AgentTask]:
        """The queue's tasks not yet told to stop (placeholder tasks included)."""
        return self.list_tasks().get(queue, [])

    def describe(self, task_arns: Iterable[str]) -> list[AgentTask]:
        """Tasks by ARN (also recently stopped ones); tasks adoscale did not launch are left out."""
        arns = list(task_arns)
        tasks: list[AgentTask] = []
        for start in range(0, len(arns), DESCRIBE_BATCH):
            response = self._ecs.describe_tasks(
                cluster=self._cluster, tasks=arns[start : start + DESCRIBE_BATCH], include=["TAGS"]
            )
            tasks.extend(
                task for raw in response.get("tasks", []) if (task := parse_task(raw)) is not None
            )
        return tasks

    def run_agents(
        self,
        spec: LaunchSpec,
        queue: str,
        agent_names: Sequence[str],
        *,
        placeholder: bool = False,
    ) -> tuple[list[Launched], list[LaunchFailure]]:
        """Start one task per name, ``RUN_BATCH`` calls at a time; never raises per agent."""
        if not agent_names:
            return [], []
        with ThreadPoolExecutor(max_workers=min(RUN_BATCH, len(agent_names))) as pool:
            outcomes = list(
                pool.map(lambda name: self.run_agent(spec, queue, name, placeholder), agent_names)
            )
        launched = [o for o in outcomes if isinstance(o, Launched)]
        failed = [o for o in outcomes if isinstance(o, LaunchFailure)]
        return launched, failed

    def run_agent(
        self, spec: LaunchSpec, queue: str, agent_name: str, placeholder: bool = False
    ) -> Launched | LaunchFailure:
        """One agent: Spot first when ``spec.spot``, on-demand after a capacity failure."""
        if spec.capacity_provider:
            providers: tuple[str, ...] = (spec.capacity_provider,)
        else:
            providers = (SPOT, ON_DEMAND) if spec.spot else (ON_DEMAND,)
        reasons: list[str] = []
        for provider in providers:
            try:
                response = self._ecs.run_task(
                    **self._run_arguments(spec, queue, agent_name, provider, placeholder)
                )
            except (ClientError, BotoCoreError) as error:
                reason = _error_text(error)
            else:
                started = response.get("tasks") or []
                if started:
                    return Launched(agent_name, started[0]["taskArn"], provider)
                reason = _failures_text(response.get("failures") or [])
            reasons.append(f"{provider}: {reason}")
            if not is_capacity_failure(reason):
                break
        return LaunchFailure(agent_name, "; ".join(reasons))

    def stop_task(self, task_arn: str, reason: str) -> bool:
        """Ask ECS to stop a task; False when ECS no longer knows it."""
        try:
            self._ecs.stop_task(cluster=self._cluster, task=task_arn, reason=reason[:REASON_LIMIT])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "InvalidParameterException":
                return False
            raise
        return True

    def _run_arguments(
        self, spec: LaunchSpec, queue: str, agent_name: str, provider: str, placeholder: bool
    ) -> dict[str, Any]:
        environment = {**spec.environment, "AZP_AGENT_NAME": agent_name}
        tags = [{"key": QUEUE_TAG, "value": queue}, {"key": AGENT_TAG, "value": agent_name}]
        if placeholder:
            tags.append({"key": PLACEHOLDER_TAG, "value": "true"})
        arguments: dict[str, Any] = {
            "cluster": self._cluster,
            "taskDefinition": spec.task_definition,
            "count": 1,
            "startedBy": STARTED_BY,
            # one token per attempt: botocore's own retries of this call cannot start twice
            "clientToken": uuid.uuid4().hex,
            "enableECSManagedTags": True,
            "propagateTags": "TASK_DEFINITION",
            "tags": tags,
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": list(spec.subnets),
                    "securityGroups": list(spec.security_groups),
                    "assignPublicIp": "ENABLED" if spec.assign_public_ip else "DISABLED",
                }
            },
            "overrides": {
                "containerOverrides": [
                    {
                        "name": spec.container_name,
                        "environment": [
                            {"name": name, "value": value}
                            for name, value in sorted(environment.items())
                        ],
                    }
                ]
            },
        }
        if spec.init_container_name:
            arguments["overrides"]["containerOverrides"].append(
                {
                    "name": spec.init_container_name,
                    "environment": [
                        {"name": name, "value": value}
                        for name, value in sorted(spec.init_environment.items())
                    ],
                }
            )
        if provider == spec.capacity_provider:
            arguments["capacityProviderStrategy"] = [
                {"capacityProvider": provider, "weight": 1, "base": 0}
            ]
            # awsvpc tasks on EC2 cannot have a public address
            arguments["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] = "DISABLED"
            if spec.one_per_instance:
                # the default task group is the task definition family: one agent per instance
                arguments["placementConstraints"] = [{"type": "distinctInstance"}]
        elif provider == SPOT:
            arguments["capacityProviderStrategy"] = [{"capacityProvider": SPOT, "weight": 1}]
        else:
            arguments["launchType"] = ON_DEMAND
        return arguments


def is_capacity_failure(reason: str) -> bool:
    """ECS says "Capacity is unavailable at this time..." or names a RESOURCE it lacks."""
    lowered = reason.lower()
    return "capacity" in lowered or "resource:" in lowered


def _failures_text(failures: Iterable[Mapping[str, Any]]) -> str:
    parts = [" ".join(str(f[key]) for key in ("reason", "detail") if f.get(key)) for f in failures]
    return "; ".join(part for part in parts if part) or "RunTask started no task"


def _error_text(error: Exception) -> str:
    if isinstance(error, ClientError):
        detail = error.response.get("Error", {})
        return f"{detail.get('Code', 'ClientError')}: {detail.get('Message', '')}".strip()
    return f"{type(error).__name__}: {error}"


def parse_task(raw: Mapping[str, Any]) -> AgentTask | None:
    tags = {tag.get("key"): tag.get("value") for tag in raw.get("tags", [])}
    queue = tags.get(QUEUE_TAG)
    if not queue:
        return None
    return AgentTask(
        task_arn=raw["taskArn"],
        queue=queue,
        agent_name=tags.get(AGENT_TAG),
        last_status=raw.get("lastStatus", ""),
        desired_status=raw.get("desiredStatus", ""),
        created_at=raw.get("createdAt"),
        started_at=raw.get("startedAt"),
        stopped_reason=raw.get("stoppedReason"),
        placeholder=tags.get(PLACEHOLDER_TAG) == "true",
        stop_code=raw.get("stopCode"),
        exit_code=next(
            (
                container["exitCode"]
                for container in raw.get("containers", [])
                if isinstance(container.get("exitCode"), int)
            ),
            None,
        ),
    )
