"""Reap: clean up after agents and tasks that died, and keep the queue's placeholder agent.

Runs under the queue's lease (no drain or retire of this queue is in flight), so it may:

- delete offline adoscale agents of the queue whose task is gone (never the placeholder,
  never an online or busy agent);
- stop tasks with no registered agent once they are older than the boot timeout (the
  agent never registered, or it already left and the task did not stop: the poller
  counts both as stale), and tasks whose agent has been offline past the maximum task
  lifetime (a hung container);
- re-enable adoscale agents left disabled by a failed scale-in;
- launch a placeholder-mode task when the queue's placeholder agent is missing from the
  pool, so jobs queue instead of failing at once (one placeholder per queue, because it
  carries that queue's capabilities).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from adoscale.aws.ecs import AgentTasks, Launched, LaunchFailure
from adoscale.core.counting import dead_agent
from adoscale.core.exceptions import AdoAgentBusyError
from adoscale.core.models import Agent, AgentTask
from adoscale.core.naming import is_agent_of, is_placeholder_of, placeholder_name
from adoscale.core.schema import Queue
from adoscale.core.settings import Settings
from adoscale.workflow.scale_out import AlertSink, launch_spec

LOG = logging.getLogger(__name__)


class ReapPool(Protocol):
    def agents(self, pool_id: int) -> list[Agent]: ...

    def set_agent_enabled(self, pool_id: int, agent_id: int, enabled: bool) -> None: ...

    def delete_agent(self, pool_id: int, agent_id: int) -> bool: ...


class ReapTasks(Protocol):
    def tasks_of(self, queue: str) -> list[AgentTask]: ...

    def stop_task(self, task_arn: str, reason: str) -> bool: ...


PlaceholderLauncher = Callable[[str], Launched | LaunchFailure]


def placeholder_launcher(
    queue: Queue, settings: Settings, tasks: AgentTasks
) -> PlaceholderLauncher:
    """RunTask of one placeholder-mode agent (``AZP_PLACEHOLDER=1``) for the queue."""

    def launch(name: str) -> Launched | LaunchFailure:
        spec = launch_spec(queue, settings, placeholder=True)
        return tasks.run_agent(spec, queue.queue, name, placeholder=True)

    return launch


def reap(
    queue: Queue,
    pool_id: int,
    ado: ReapPool,
    tasks: ReapTasks,
    launch_placeholder: PlaceholderLauncher,
    alerter: AlertSink,
    *,
    now: datetime,
    boot_timeout_seconds: int,
    max_task_lifetime_seconds: int,
) -> dict[str, Any]:
    """One pass; each action is independent, the first error is raised after all ran."""
    agents = ado.agents(pool_id)
    live = [task for task in tasks.tasks_of(queue.queue) if not task.stopping]
    result: dict[str, Any] = {
        "deleted_agents": [],
        "stopped_tasks": [],
        "enabled_agents": [],
        "placeholder": None,
        "errors": [],
    }
    errors: list[Exception] = []

    def attempt(what: str, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception as error:  # noqa: BLE001 - one failure never stops the others
            LOG.warning("reap %s: %s failed: %s", queue.queue, what, error)
            result["errors"].append(f"{what}: {type(error).__name__}")
            errors.append(error)

    live_names = {key for task in live for key in task.agent_keys}
    for agent in agents:
        if dead_agent(agent, queue.queue, live_names):
            attempt(
                f"delete agent {agent.agent_id}",
                functools.partial(_delete, ado, pool_id, agent, result),
            )

    by_name = {agent.name: agent for agent in agents}
    for task in live:
        reason = _stop_reason(task, by_name, now, boot_timeout_seconds, max_task_lifetime_seconds)
        if reason is not None:
            attempt(
                f"stop task {task.task_id}",
                functools.partial(_stop, tasks, task, reason, result),
            )

    for agent in agents:
        if is_agent_of(agent.name, queue.queue) and agent.online and not agent.enabled:
            attempt(
                f"enable agent {agent.agent_id}",
                functools.partial(_enable, ado, pool_id, agent, result),
            )

    placeholder_present = any(is_placeholder_of(a.name, queue.queue) for a in agents)
    placeholder_starting = any(
        task.placeholder and task.task_id not in result["stopped_tasks"] for task in live
    )
    if queue.enabled and not placeholder_present and not placeholder_starting:
        attempt(
            "launch placeholder",
            lambda: _placeholder(queue, launch_placeholder, alerter, result),
        )
    if errors:
        raise errors[0]
    return result


def _stop_reason(
    task: AgentTask,
    agents: dict[str, Agent],
    now: datetime,
    boot_timeout_seconds: int,
    max_lifetime_seconds: int,
) -> str | None:
    born = task.born
    if born is None:
        return None
    age = now - born
    agent = next((agents[key] for key in task.agent_keys if key in agents), None)
    if task.placeholder:
        # A placeholder task only registers its agent and exits; one still up is stuck.
        if age > timedelta(seconds=boot_timeout_seconds):
            return f"adoscale: placeholder task still running {int(age.total_seconds())} s"
        return None
    if agent is None and age > timedelta(seconds=boot_timeout_seconds):
        return f"adoscale: no agent registered {int(age.total_seconds())} s after launch"
    if (
        agent is not None
        and not agent.online
        and not agent.busy
        and age > timedelta(seconds=max_lifetime_seconds)
    ):
        return f"adoscale: agent {agent.name} offline and task past its maximum lifetime"
    return None


def _delete(ado: ReapPool, pool_id: int, agent: Agent, result: dict[str, Any]) -> None:
    try:
        if ado.delete_agent(pool_id, agent.agent_id):
            result["deleted_agents"].append(agent.agent_id)
    except AdoAgentBusyError:
        LOG.info("offline agent %s has a job: kept", agent.name)


def _stop(tasks: ReapTasks, task: AgentTask, reason: str, result: dict[str, Any]) -> None:
    if tasks.stop_task(task.task_arn, reason):
        result["stopped_tasks"].append(task.task_id)


def _enable(ado: ReapPool, pool_id: int, agent: Agent, result: dict[str, Any]) -> None:
    ado.set_agent_enabled(pool_id, agent.agent_id, True)
    result["enabled_agents"].append(agent.agent_id)


def _placeholder(
    queue: Queue,
    launch_placeholder: PlaceholderLauncher,
    alerter: AlertSink,
    result: dict[str, Any],
) -> None:
    name = placeholder_name(queue.queue)
    outcome = launch_placeholder(name)
    if isinstance(outcome, Launched):
        result["placeholder"] = {"agent": name, "task": outcome.task_id}
        return
    result["placeholder"] = {"agent": name, "failure": outcome.reason}
    alerter.publish(
        "launch_failed",
        queue.queue,
        f"the placeholder agent of {queue.queue} could not be launched",
        {"agent": name, "reasons": [outcome.reason]},
    )
