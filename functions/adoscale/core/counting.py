"""Pure counting: from jobs, agents and tasks to what one queue has and needs.

No I/O here. The poller feeds it what Azure DevOps and ECS said; the simulator feeds it
simulated state; both get the same answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from adoscale.core.demands import normalise_capabilities, normalised_demands_met
from adoscale.core.models import Agent, AgentTask, JobRequest
from adoscale.core.naming import is_agent_of, placeholder_name
from adoscale.core.schema import Queue

DEFAULT_BOOT_TIMEOUT = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """What one queue has right now (the poller result's counts, and what policy needs)."""

    queued: int = 0
    running: int = 0
    idle: int = 0
    busy: int = 0
    offline: int = 0
    starting: int = 0
    draining: int = 0
    stale: int = 0
    oldest_queued_age_seconds: float = 0.0
    idle_agents: tuple[Agent, ...] = ()
    placeholder_present: bool = False
    placeholder_starting: bool = False

    @property
    def capacity(self) -> int:
        """Agents that are, or soon will be, able to run a job."""
        return self.busy + self.idle + self.starting


def assign_waiting_jobs(
    queues: Sequence[Queue], jobs: Iterable[JobRequest]
) -> dict[str, list[JobRequest]]:
    """Give each waiting job of a pool to exactly one enabled queue whose capabilities meet it.

    Several queues may share a pool; any of their agents would take such a job, so it is
    counted once and never launches two agents. It goes to the matching queue with the
    fewest declared capabilities (the most general agent that can run it), then by name.
    """
    candidates = [
        (q.queue, None if q.capabilities is None else normalise_capabilities(q.capabilities))
        for q in sorted(
            (q for q in queues if q.enabled), key=lambda q: (len(q.capabilities or {}), q.queue)
        )
    ]
    assigned: dict[str, list[JobRequest]] = {q.queue: [] for q in queues}
    for job in jobs:
        if not job.waiting:
            continue
        for name, capabilities in candidates:
            if normalised_demands_met(job.demands, capabilities):
                assigned[name].append(job)
                break
    return assigned


def count_queue(
    queue: Queue,
    waiting_jobs: Sequence[JobRequest],
    jobs: Sequence[JobRequest],
    agents: Sequence[Agent],
    tasks: Sequence[AgentTask],
    now: datetime,
    boot_timeout: timedelta = DEFAULT_BOOT_TIMEOUT,
) -> QueueCounts:
    """Counts for one queue. ``waiting_jobs`` come from ``assign_waiting_jobs``.

    An agent is this queue's when adoscale named it for the queue; a job an agent already
    took counts once, as that agent's work (busy), never as waiting. A task whose agent is
    not registered is starting within the boot timeout and stale after it (it never
    registered, or its agent already left and the task has not stopped).
    """
    registered = {agent.name for agent in agents}
    own = [agent for agent in agents if is_agent_of(agent.name, queue.queue)]
    taken_by = _taken_jobs_by_agent(jobs)

    busy = idle = offline = draining = 0
    idle_agents: list[Agent] = []
    running_jobs: set[int] = set()
    for agent in own:
        taken = taken_by.get(agent.agent_id)
        if taken is not None:
            running_jobs.add(taken.request_id)
        if agent.assigned_request_id is not None:
            running_jobs.add(agent.assigned_request_id)
        if not agent.online:
            offline += 1
        elif agent.busy or taken is not None:
            busy += 1
        elif agent.enabled:
            idle += 1
            idle_agents.append(agent)
        else:
            draining += 1

    starting = stale = 0
    placeholder_starting = False
    boot_cutoff = now - boot_timeout
    for task in tasks:
        if task.stopping:
            continue
        if task.placeholder:
            placeholder_starting = True
        elif not any(key in registered for key in task.agent_keys):
            if task.born is not None and task.born < boot_cutoff:
                stale += 1
            else:
                starting += 1
    oldest = min((job.queue_time for job in waiting_jobs if job.queue_time), default=None)
    return QueueCounts(
        queued=len(waiting_jobs),
        running=len(running_jobs),
        idle=idle,
        busy=busy,
        offline=offline,
        starting=starting,
        draining=draining,
        stale=stale,
        oldest_queued_age_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        idle_agents=tuple(idle_agents),
        placeholder_present=placeholder_name(queue.queue) in registered,
        placeholder_starting=placeholder_starting,
    )


def _taken_jobs_by_agent(jobs: Iterable[JobRequest]) -> Mapping[int, JobRequest]:
    return {
        job.reserved_agent_id: job
        for job in jobs
        if job.taken and job.reserved_agent_id is not None
    }


def dead_agent(agent: Agent, queue: str, live_names: set[str]) -> bool:
    """An agent of ``queue`` that is offline, runs no job and whose task is gone: its
    container exited (after its job, or killed). Deleting it is always safe and idempotent."""
    return (
        is_agent_of(agent.name, queue)
        and not agent.online
        and not agent.busy
        and agent.name not in live_names
    )
