"""Pure scaling policy: how many agents a queue should have, launch or retire.

desired = min(max_agents, busy + queued + standby), where standby is the one in force at the
cycle's instant (``standby_in_force``: the schedule's window, else
``standby_agents``), further capped by the organisation's
free self-hosted parallel jobs; launch = desired - (busy + idle + starting); surplus idle
agents beyond what waiting jobs and standby need, and idle for longer than the idle
timeout (since the end of their last job, or their registration if they never ran one: a
reusable agent waits that long for its next job), are retired, longest idle first. The
placeholder agent is never counted, so never retired.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from adoscale.core.actions import Action
from adoscale.core.counting import QueueCounts
from adoscale.core.models import Agent
from adoscale.core.schema import Queue
from adoscale.core.standby import standby_at

SCALE_OUT = Action.SCALE_OUT
SCALE_IN = Action.SCALE_IN
NONE = Action.NONE


@dataclass(frozen=True, slots=True)
class Decision:
    """What the poller asks of the workflow for one queue (desired, action, count)."""

    desired: int
    action: Action = NONE
    count: int = 0
    retire_agent_ids: tuple[int, ...] = ()


def standby_in_force(queue: Queue, now: datetime) -> int:
    """Idle agents to keep warm at ``now``: 0 for a disabled queue, else the window of the
    queue's standby schedule in force (the largest when several are), else standby_agents."""
    if not queue.enabled:
        return 0
    if not queue.standby_schedule:
        return queue.standby_agents
    return standby_at(queue.standby_agents, queue.standby_schedule, now)


def wanted_agents(queue: Queue, counts: QueueCounts, now: datetime) -> int:
    """Desired agents before the licence cap. A disabled queue keeps only its busy agents."""
    if not queue.enabled:
        return min(queue.max_agents, counts.busy)
    return min(queue.max_agents, counts.busy + counts.queued + standby_in_force(queue, now))


def launches_wanted(queue: Queue, counts: QueueCounts, now: datetime) -> int:
    return max(0, wanted_agents(queue, counts, now) - counts.capacity)


def surplus_idle_agents(queue: Queue, counts: QueueCounts, now: datetime) -> tuple[Agent, ...]:
    """Idle agents beyond what waiting jobs and standby need, idle past the idle timeout.

    Waiting jobs keep idle agents (they are about to take them, or wait for a demand the
    idle ones lack); standby agents are kept warm; the longest idle go first. Idle time
    counts from the end of an agent's last job (``Agent.idle_since``), so a reusable agent
    that just finished a job is not retired for having registered long ago.
    """
    keep = counts.queued + standby_in_force(queue, now)
    excess = counts.idle - keep
    if excess <= 0:
        return ()
    cutoff = now - timedelta(minutes=queue.idle_timeout_minutes)
    old = sorted(
        (a for a in counts.idle_agents if (since := a.idle_since) is not None and since <= cutoff),
        key=lambda a: (a.idle_since, a.agent_id),
    )
    return tuple(old[:excess])


def decide(
    queue: Queue, counts: QueueCounts, now: datetime, launch_allowance: int | None = None
) -> Decision:
    """One queue's decision. ``launch_allowance`` is its share of the licence headroom."""
    wanted = launches_wanted(queue, counts, now)
    launch = wanted if launch_allowance is None else min(wanted, max(0, launch_allowance))
    desired = min(wanted_agents(queue, counts, now), counts.capacity + launch)
    if launch > 0:
        return Decision(desired=desired, action=SCALE_OUT, count=launch)
    surplus = surplus_idle_agents(queue, counts, now)
    if surplus:
        return Decision(
            desired=desired,
            action=SCALE_IN,
            count=len(surplus),
            retire_agent_ids=tuple(agent.agent_id for agent in surplus),
        )
    return Decision(desired=desired)


def allocate_headroom(
    wanted: Mapping[str, int],
    oldest_wait: Mapping[str, float],
    free: int | None,
    starting: int = 0,
) -> dict[str, int | None]:
    """Share an organisation's free parallel jobs among its queues' launches.

    Agents already starting will take licences too, so they are subtracted first. The
    queue whose oldest job has waited longest is served first; ties go by name. Unknown
    headroom (``free`` is None) caps nothing.
    """
    if free is None:
        return {name: None for name in wanted}
    left = max(0, free - starting)
    shares: dict[str, int | None] = {}
    for name in sorted(wanted, key=lambda n: (-oldest_wait.get(n, 0.0), n)):
        share = min(wanted[name], left)
        shares[name] = share
        left -= share
    return shares


def needs_reap(queue: Queue, counts: QueueCounts) -> bool:
    """Offline agents to delete, stale tasks to stop, disabled idle agents a failed scale-in
    left behind (the reaper re-enables them), or a missing placeholder."""
    missing_placeholder = not counts.placeholder_present and not counts.placeholder_starting
    leftovers = counts.offline + counts.stale + counts.draining
    return leftovers > 0 or (queue.enabled and missing_placeholder)
