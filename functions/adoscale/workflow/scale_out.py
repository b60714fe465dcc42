"""Scale-out: launch one task per missing agent, then check that each agent registered.

Each agent gets its name before its task exists (``adoscale-<queue>-<12 hex>``), in both
``AZP_AGENT_NAME`` and the task's ``adoscale:agent`` tag, so agent and task map one to
one. The PAT never travels in an override: the task's init container receives every
listed organisation's PAT as ECS secrets and is only told which one to hand over
(``AZP_ORGANIZATION``); ``AZP_URL`` is that organisation's URL, never the item's text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from adoscale.aws.ecs import ON_DEMAND, AgentTasks, LaunchSpec
from adoscale.core import capability_rules
from adoscale.core.capacity import ProfileLaunch
from adoscale.core.exceptions import QueueConfigError
from adoscale.core.models import Agent, AgentTask
from adoscale.core.naming import new_agent_name
from adoscale.core.organizations import (
    INIT_CONTAINER_NAME,
    ORGANIZATION_VARIABLE,
    Organization,
    OrganizationError,
)
from adoscale.core.schema import Queue
from adoscale.core.settings import Settings

# A queue on an ec2 profile registers its placeholder agent from this profile's task when
# it runs on Fargate (stack config always has it: queue items default to it).
FARGATE_PLACEHOLDER_PROFILE = "default"
DETAIL_LIMIT = 20  # agents listed in one alert or result (the state is capped at 256 KB)
MAX_VERIFY_ROUNDS = 30  # a bound on the verify loop whatever the clocks say


class AlertSink(Protocol):
    def publish(
        self, kind: str, queue: str | None, message: str, detail: Mapping[str, Any] | None = None
    ) -> bool: ...


class AgentLister(Protocol):
    def agents(self, pool_id: int) -> list[Agent]: ...


def agent_environment(
    queue: Queue, organization: Organization | None = None, *, placeholder: bool = False
) -> dict[str, str]:
    """Container overrides shared by the queue's agents; never the PAT."""
    environment = {"AZP_POOL": queue.pool}
    if organization is not None:
        environment["AZP_URL"] = organization.url
    if queue.capabilities is not None:
        environment["AZP_CAPABILITIES"] = capability_rules.encoded(queue.capabilities)
    if placeholder:
        environment["AZP_PLACEHOLDER"] = "1"
    elif queue.max_jobs_per_agent > 1:
        # a reusable agent: start.sh runs up to this many jobs before the container exits
        environment["AZP_MAX_JOBS"] = str(queue.max_jobs_per_agent)
    return environment


def launch_spec(queue: Queue, settings: Settings, *, placeholder: bool = False) -> LaunchSpec:
    """The RunTask arguments of the queue's agent profile; an unknown profile names itself."""
    task_definition = settings.task_definitions.get(queue.agent_profile)
    if not task_definition:
        known = ", ".join(sorted(settings.task_definitions)) or "none"
        raise QueueConfigError(
            queue.queue,
            {"agent_profile": [f"no task definition for {queue.agent_profile!r} (known: {known})"]},
        )
    try:
        organization = settings.organizations().resolve(queue.organization_url)
    except OrganizationError as error:
        raise QueueConfigError(queue.queue, {"organization_url": [str(error)]}) from None
    environment = agent_environment(queue, organization, placeholder=placeholder)
    init_environment = {ORGANIZATION_VARIABLE: organization.name}
    size = _override_size(settings.container_name, environment, init_environment)
    if size > capability_rules.OVERRIDE_LIMIT:
        raise QueueConfigError(
            queue.queue,
            {
                "capabilities": [
                    f"the task overrides would take {size} characters, more than ECS's"
                    f" {capability_rules.OVERRIDE_LIMIT}"
                ]
            },
        )
    on = settings.launch_of(queue.agent_profile)
    # an EC2 profile's Auto Scaling group decides Spot; the queue's flag is for Fargate
    spot = queue.spot and not on.capacity_provider
    fargate_default = settings.task_definitions.get(FARGATE_PLACEHOLDER_PROFILE)
    if (
        placeholder
        and on.capacity_provider
        and fargate_default
        and not settings.launch_of(FARGATE_PLACEHOLDER_PROFILE).capacity_provider
    ):
        # A placeholder only registers (with the queue's capabilities) and exits: the
        # default profile's Fargate task does that without booting an instance for it.
        task_definition, on = fargate_default, ProfileLaunch()
    return LaunchSpec(
        task_definition=task_definition,
        container_name=settings.container_name,
        subnets=settings.subnets,
        security_groups=settings.security_groups,
        assign_public_ip=settings.assign_public_ip,
        environment=environment,
        spot=spot,
        capacity_provider=on.capacity_provider,
        one_per_instance=on.one_per_instance,
        init_container_name=INIT_CONTAINER_NAME,
        init_environment=init_environment,
    )


def _override_size(
    container: str, environment: Mapping[str, str], init_environment: Mapping[str, str]
) -> int:
    """Characters of the RunTask overrides, with the longest agent name adoscale makes."""
    agent = {**environment, "AZP_AGENT_NAME": "x" * 64}
    overrides = {
        "containerOverrides": [
            {"name": name, "environment": [{"name": k, "value": v} for k, v in env.items()]}
            for name, env in ((container, agent), (INIT_CONTAINER_NAME, init_environment))
        ]
    }
    return len(json.dumps(overrides))


def launch(
    queue: Queue,
    count: int,
    tasks: AgentTasks,
    spec: LaunchSpec,
    alerter: AlertSink,
    *,
    now: datetime,
    names: Callable[[str], str] = new_agent_name,
) -> dict[str, Any]:
    """Start ``count`` agents; failures are reported (and alerted), never raised."""
    agent_names = [names(queue.queue) for _ in range(count)]
    launched, failed = tasks.run_agents(spec, queue.queue, agent_names)
    if failed:
        reasons = sorted({failure.reason for failure in failed})
        alerter.publish(
            "launch_failed",
            queue.queue,
            f"{len(failed)} of {count} agents of {queue.queue} could not be launched",
            {
                "requested": count,
                "launched": len(launched),
                "reasons": reasons[:DETAIL_LIMIT],
            },
        )
    return {
        "requested": count,
        "launched": len(launched),
        "launched_at": now.isoformat(),
        "tasks": {item.agent_name: item.task_id for item in launched},
        "on_demand_fallbacks": sum(
            1 for item in launched if spec.spot and item.capacity_provider == ON_DEMAND
        ),
        "failed": len(failed),
        "failures": [{"agent": f.agent_name, "reason": f.reason} for f in failed[:DETAIL_LIMIT]],
    }


def verify(
    queue: Queue,
    pool_id: int,
    pending: Mapping[str, str],
    ado: AgentLister,
    tasks: AgentTasks,
    alerter: AlertSink,
    *,
    now: datetime,
    boot_timeout_seconds: int,
    launched_at: datetime | None = None,
    round_number: int = 1,
) -> dict[str, Any]:
    """Check launched agents (name -> task id) against the pool.

    Registered: done. Task stopped without registering: its exit code 0 means it ran its
    one job and left in time; anything else is a failure to register. Still running past
    the boot timeout (or the round bound): stopped, a failure to register. Otherwise it
    stays pending and the state machine waits another boot window. A task's age comes
    from its ``createdAt``, or from ``launched_at`` when ECS does not say.
    """
    registered_names = {agent.name for agent in ado.agents(pool_id)} if pending else set()
    described = {task.task_id: task for task in tasks.describe(list(pending.values()))}
    registered = completed = 0
    still_pending: dict[str, str] = {}
    failures: list[dict[str, Any]] = []
    timeout = timedelta(seconds=boot_timeout_seconds)
    for name, task_id in sorted(pending.items()):
        task = described.get(task_id)
        age = _age(task, now, launched_at) if task is not None else timedelta(0)
        if name in registered_names or (
            task is not None and any(key in registered_names for key in task.agent_keys)
        ):
            registered += 1
        elif task is None:
            failures.append({"agent": name, "task": task_id, "reason": "task not found in ECS"})
        elif task.last_status == "STOPPED":
            if task.exit_code == 0:
                completed += 1
            else:
                failures.append({"agent": name, "task": task_id, "reason": stop_reason(task)})
        elif task.stopping and round_number < MAX_VERIFY_ROUNDS:
            still_pending[name] = task_id  # exiting: its exit code decides next round
        elif task.stopping:
            failures.append({"agent": name, "task": task_id, "reason": stop_reason(task)})
        elif age > timeout or round_number >= MAX_VERIFY_ROUNDS:
            seconds = int(age.total_seconds())
            tasks.stop_task(
                task.task_arn, f"adoscale: agent {name} not registered {seconds} s after launch"
            )
            failures.append(
                {
                    "agent": name,
                    "task": task_id,
                    "reason": f"not registered {seconds} s after launch; task stopped",
                }
            )
        else:
            still_pending[name] = task_id
    if failures:
        alerter.publish(
            "agents_not_registering",
            queue.queue,
            f"{len(failures)} agents of {queue.queue} did not register in Azure DevOps",
            {"agents": failures[:DETAIL_LIMIT], "count": len(failures)},
        )
    return {
        "round": round_number,
        "registered": registered,
        "completed": completed,
        "not_registering": failures[:DETAIL_LIMIT],
        "not_registering_count": len(failures),
        "pending": still_pending,
        "pending_count": len(still_pending),
    }


def stop_reason(task: AgentTask) -> str:
    parts = [
        f"stopCode {task.stop_code}" if task.stop_code else "",
        task.stopped_reason or "",
        f"exit code {task.exit_code}" if task.exit_code is not None else "no exit code",
    ]
    return "stopped before registering: " + "; ".join(part for part in parts if part)


def _age(task: AgentTask, now: datetime, launched_at: datetime | None) -> timedelta:
    born = task.born or launched_at
    return max(timedelta(0), now - born) if born is not None else timedelta(0)
