"""ECS adapter: the agent tasks of the cluster, grouped by the queue they were launched for.

The poller needs every queue's tasks each minute; one paged ListTasks plus DescribeTasks
in batches of 100 serves all queues, instead of one listing per queue.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from adoscale.models import AgentTask
from adoscale.naming import AGENT_TAG, PLACEHOLDER_TAG, QUEUE_TAG

DESCRIBE_BATCH = 100


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
    )
