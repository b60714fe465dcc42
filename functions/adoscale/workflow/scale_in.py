"""Safe scale-in: disable, wait, re-check, then delete the agent before stopping its task.

The protocol never lets a job die with its agent:

1. drain: re-read each chosen agent; only an online, idle, enabled adoscale agent of the
   queue is disabled (PATCH ``enabled: false``), so Azure DevOps stops offering it jobs.
2. the state machine waits a confirm window: a job assigned just before the PATCH shows
   up on the agent as ``assignedRequest``.
3. retire: re-read each agent. Enabled again (a failed earlier attempt of this step
   re-enabled it, so Azure DevOps may have offered it a job with no confirm window): leave
   it alone. A job arrived: re-enable it and leave it alone. Still disabled and idle:
   DELETE it in Azure DevOps, which refuses while the agent runs a job (the last race, a
   job assigned between the re-read and the DELETE, ends there: re-enable, keep). Only
   once the agent is gone from the pool is its task stopped.

Nothing is left disabled: every agent this code disabled and did not delete is enabled
again, on every path out, errors included (best effort; the reaper re-enables any
leftover it meets while holding the queue's lease).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from adoscale.core.exceptions import AdoAgentBusyError, AdoAgentNotFoundError
from adoscale.core.models import Agent, AgentTask
from adoscale.core.naming import is_agent_of

LOG = logging.getLogger(__name__)


class AgentPool(Protocol):
    """The Azure DevOps calls scale-in makes (``AdoClient`` has them)."""

    def agent(self, pool_id: int, agent_id: int) -> Agent | None: ...

    def set_agent_enabled(self, pool_id: int, agent_id: int, enabled: bool) -> None: ...

    def delete_agent(self, pool_id: int, agent_id: int) -> bool: ...


class TaskStopper(Protocol):
    """The ECS calls retire makes (``AgentTasks`` has them)."""

    def tasks_of(self, queue: str) -> list[AgentTask]: ...

    def stop_task(self, task_arn: str, reason: str) -> bool: ...


def drain(queue: str, pool_id: int, agent_ids: Sequence[int], ado: AgentPool) -> dict[str, Any]:
    """Disable the chosen agents that are still idle; ``drained`` lists ``{agent_id, name}``.

    An agent already disabled is taken over (a leftover of an earlier failed execution:
    the lease says no other execution is draining this queue), so retire settles it.
    On any error, everything disabled so far is enabled again before the error leaves.
    """
    drained: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    touched: list[int] = []
    try:
        for agent_id in agent_ids:
            agent = ado.agent(pool_id, agent_id)
            reason = _not_drainable(agent, queue)
            if reason is not None or agent is None:
                skipped.append({"agent_id": agent_id, "reason": reason or "gone"})
                continue
            touched.append(agent_id)
            if agent.enabled and not _set_enabled(ado, pool_id, agent_id, False):
                skipped.append({"agent_id": agent_id, "reason": "gone"})
                continue
            drained.append({"agent_id": agent_id, "name": agent.name})
    except BaseException:
        _enable_all(ado, pool_id, touched)
        raise
    return {"drained": drained, "drained_count": len(drained), "skipped": skipped}


def retire(
    queue: str,
    pool_id: int,
    drained: Iterable[Mapping[str, Any]],
    ado: AgentPool,
    tasks: TaskStopper,
) -> dict[str, Any]:
    """Delete each drained agent still disabled and idle, then stop its task; keep the rest.

    One agent's failure does not stop the others: it is re-enabled and the first error is
    raised once all agents were handled (the state machine retries transient ones; every
    step here is safe to repeat).
    """
    outcome: dict[str, list[Any]] = {"retired": [], "kept": [], "gone": [], "stopped_tasks": []}
    errors: list[BaseException] = []
    index = _TaskIndex(tasks, queue)
    for entry in drained:
        agent_id, name = int(entry["agent_id"]), str(entry.get("name") or "")
        settled = False
        try:
            state = _retire_one(queue, pool_id, agent_id, name, ado, index)
            settled = True
            outcome[state].append(agent_id)
        except Exception as error:  # noqa: BLE001 - the others still get their turn
            LOG.warning("retire of agent %s failed: %s", agent_id, error)
            errors.append(error)
        finally:
            if not settled:
                _enable_all(ado, pool_id, [agent_id])
    outcome["stopped_tasks"] = index.stopped
    if errors:
        raise errors[0]
    return outcome


def _retire_one(
    queue: str, pool_id: int, agent_id: int, name: str, ado: AgentPool, index: _TaskIndex
) -> str:
    agent = ado.agent(pool_id, agent_id)
    if agent is None:
        # Gone from the pool (it deregistered after a job, or someone deleted it): no job
        # can be running through it, so its task, if still up, has nothing left to do.
        index.stop(name, f"adoscale: agent {name} left the pool")
        return "gone"
    if agent.enabled:
        return "kept"  # not disabled through the confirm window: it may have a job coming
    if agent.busy or not is_agent_of(agent.name, queue):
        return _keep(ado, pool_id, agent, index)
    try:
        ado.delete_agent(pool_id, agent_id)
    except AdoAgentBusyError:
        # A job was assigned after the re-read: Azure DevOps refused, the job is safe.
        return _keep(ado, pool_id, agent, index)
    index.stop(agent.name, f"adoscale: retired idle agent {agent.name}")
    return "retired"


def _keep(ado: AgentPool, pool_id: int, agent: Agent, index: _TaskIndex) -> str:
    """Enable it again; if it left meanwhile (its one job done), it is simply gone."""
    if _set_enabled(ado, pool_id, agent.agent_id, True):
        return "kept"
    index.stop(agent.name, f"adoscale: agent {agent.name} left the pool")
    return "gone"


def _set_enabled(ado: AgentPool, pool_id: int, agent_id: int, enabled: bool) -> bool:
    """False when the agent no longer exists (nothing left to enable or disable)."""
    try:
        ado.set_agent_enabled(pool_id, agent_id, enabled)
    except AdoAgentNotFoundError:
        return False
    return True


def _not_drainable(agent: Agent | None, queue: str) -> str | None:
    if agent is None:
        return "gone"
    if not is_agent_of(agent.name, queue):
        return "not an adoscale agent of this queue"
    if agent.busy:
        return "busy"
    if not agent.online:
        return "offline (the reaper handles it)"
    return None


def _enable_all(ado: AgentPool, pool_id: int, agent_ids: Iterable[int]) -> None:
    """Best effort: an agent that vanished meanwhile needs nothing."""
    for agent_id in agent_ids:
        try:
            ado.set_agent_enabled(pool_id, agent_id, True)
        except Exception as error:  # noqa: BLE001 - keep restoring the others
            LOG.warning("could not re-enable agent %s: %s", agent_id, error)


class _TaskIndex:
    """The queue's live tasks by agent name, listed once, on first need."""

    def __init__(self, tasks: TaskStopper, queue: str) -> None:
        self._tasks = tasks
        self._queue = queue
        self._by_name: dict[str, list[AgentTask]] | None = None
        self.stopped: list[str] = []

    def stop(self, agent_name: str, reason: str) -> None:
        if not agent_name:
            return
        if self._by_name is None:
            self._by_name = {}
            for task in self._tasks.tasks_of(self._queue):
                for key in task.agent_keys:
                    self._by_name.setdefault(key, []).append(task)
        for task in self._by_name.pop(agent_name, []):
            if not task.stopping and self._tasks.stop_task(task.task_arn, reason):
                self.stopped.append(task.task_id)
