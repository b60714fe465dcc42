"""The policies compared: adoscale's (the poller's own code) and its peers' as documented.

- ``adoscale``: every poll builds the ``JobRequest``/``Agent``/``AgentTask`` values the poller
  would have read from Azure DevOps and ECS and calls ``counting.assign_waiting_jobs``,
  ``counting.count_queue`` and ``policy.decide``, unchanged. An action starts an execution
  named by ``naming.execution_name`` (queue, action, poll slot); a second one with the same
  name in the same slot is refused by Step Functions, so it is dropped here too (the what-if
  ``unique_executions`` names every poll's apart, e.g. for a fast path between polls). An
  execution that finds the queue's lease held by another (``workflow/lease.py``: from
  Validate to the release right after RunTask for a scale-out, to the end of Retire for a
  scale-in) ends as Skipped.
- ``keda-like``: KEDA's azure-pipelines scaler with a ScaledJob (default strategy), polling
  every 30 s: the queue length is every job without a result (waiting or running), and
  ``scaleTo = min(queueLength, maxReplicaCount) - runningJobCount`` where running jobs are all
  Kubernetes jobs not finished (starting, idle or busy agents). No standby, no scale-in: an
  agent waits for a job however long it takes (kedacore/keda ``azure_pipelines_scaler.go``).
- ``scale-set-like``: Azure DevOps' VM scale set agent pools: a sample every 5 minutes grows
  the pool to busy + waiting + standby agents (default standby 1) and deletes idle agents in
  excess of the standby count once idle for 30 minutes. The real service grows in steps of
  a share of the pool's maximum; this baseline grows at once, which flatters it.
- ``oracle``: reactive and clairvoyant-free: every job gets its own agent exactly one start-up
  time after it is queued, and no agent is ever idle. No real policy can wait less without
  idle agents, nor pay less.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from adoscale.core.counting import (
    DEFAULT_BOOT_TIMEOUT,
    QueueCounts,
    assign_waiting_jobs,
    count_queue,
)
from adoscale.core.models import Agent, AgentTask, JobRequest
from adoscale.core.naming import execution_name, placeholder_name, poll_slot
from adoscale.core.policy import NONE, SCALE_IN, SCALE_OUT, Decision, decide
from adoscale.core.schema import Queue
from adoscale.core.standby import next_change
from adoscale.poller.cycles import Cadence
from adoscale.simulate.engine import (
    DRAINING,
    QUEUE,
    REARMING,
    Actions,
    Outcome,
    SimAgent,
    SimJob,
    Simulation,
)
from adoscale.simulate.params import MINUTE, SimParams
from adoscale.simulate.trace import TraceJob

EPOCH = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday: trace second 0 is this instant
ADOSCALE, KEDA, SCALE_SET, ORACLE = "adoscale", "keda-like", "scale-set-like", "oracle"
POLICIES = (ADOSCALE, KEDA, SCALE_SET, ORACLE)
KEDA_POLL_S = 30.0
SCALE_SET_SAMPLE_S = 300.0
SCALE_SET_IDLE_MINUTES = 30
SCALE_SET_STANDBY = 1


def _seconds(when: datetime, epoch: datetime = EPOCH) -> float:
    return (when - epoch).total_seconds()


def at(seconds: float, epoch: datetime = EPOCH) -> datetime:
    return epoch + timedelta(seconds=seconds)


class AdoscalePolicy:
    """The poller's decision for one queue, from simulated Azure DevOps and ECS state."""

    name = ADOSCALE

    def __init__(self, params: SimParams) -> None:
        self.queue = Queue(
            queue=QUEUE,
            pool="simulated",
            max_agents=params.max_agents,
            standby_agents=params.standby_agents,
            idle_timeout_minutes=params.idle_timeout_minutes,
            capabilities=params.capabilities,
            standby_schedule=params.standby_schedule,
            max_jobs_per_agent=params.max_jobs_per_agent,
        )
        self.max_jobs_per_agent = params.max_jobs_per_agent
        # Trace second 0 on the wall clock: the standby schedule reads real weekdays and zones.
        self.epoch = params.clock_start or EPOCH
        self._schedule_change = -math.inf  # trace second the window in force may change at
        self.poll_interval_s = params.poll_interval_s
        self.first_poll_s = params.first_poll_s
        self.invocation_period_s = params.invocation_period_s
        self.poll_linger_s = params.poll_linger_s
        self.cadence = Cadence(
            params.poll_interval_s, params.poll_quiet_interval_s, params.invocation_period_s
        )
        self._last_active: float | None = None
        self.fast_path_delay_s = params.fast_path_delay_s
        self.hook_window_s = params.hook_window_s
        self.retire_window_s = params.confirm_window_s
        self.unique_executions = params.unique_executions
        self.lease_s = {
            SCALE_OUT: params.launch_delay_s,  # Validate .. ReleaseAfterLaunch
            SCALE_IN: params.launch_delay_s + params.confirm_window_s,  # .. Retire, Release
        }
        self.dropped_executions = 0  # refused: same name in the same poll slot
        self.skipped_executions = 0  # started, but another execution held the queue's lease
        self._lease_until = float("-inf")
        self._placeholder = Agent(
            agent_id=0,
            name=placeholder_name(QUEUE),
            online=False,
            enabled=True,
            created_on=self.epoch,
        )
        self._slot: datetime | None = None
        self._started: set[str] = set()
        # A quiet poll's answer stands while nothing changed and no age threshold passed.
        self.reuse_quiet_polls = True
        self.reused_polls = 0
        self._quiet_version: int | None = None
        self._quiet_until = 0.0
        self._quiet_active = False

    def poll(self, sim: Simulation) -> Actions:
        if (
            self.reuse_quiet_polls
            and self._quiet_version == sim.version
            and sim.now < self._quiet_until
        ):
            self.reused_polls += 1
            if self._quiet_active and not sim.hook_polling:
                self._last_active = sim.now
            return Actions()
        now = at(sim.now, self.epoch)
        counts = self.count(sim, now)
        decision = self.decide(counts, now)
        active = bool(counts.queued or counts.busy or counts.starting)
        if (active or decision.action != NONE) and not sim.hook_polling:
            self._last_active = sim.now  # the poller's own Activity: hook polls are not its
        self._quiet_version = None
        if decision.action == NONE:
            self._quiet_version, self._quiet_active = sim.version, active
            self._quiet_until = self._next_threshold(counts, sim)
        if decision.action == NONE or not self._may_start(decision.action, now, sim):
            return Actions()
        if sim.now < self._lease_until:
            self.skipped_executions += 1
            return Actions()
        self._lease_until = sim.now + self.lease_s[decision.action]
        if decision.action == SCALE_OUT:
            return Actions(launch=decision.count)
        return Actions(retire=decision.retire_agent_ids)

    def count(self, sim: Simulation, now: datetime) -> QueueCounts:
        """What the poller's counting makes of the jobs, agents and tasks it would read."""
        # the engine keeps the views as plain objects: they are the JobRequest, Agent and
        # AgentTask this policy built
        jobs: list[Any] = [job.view or self._job(job) for job in sim.waiting]
        jobs += [job.view or self._job(job) for job in sim.running.values()]
        agents: list[Any] = [self._placeholder]
        agents += [
            a.agent_view or self._agent(a)
            for a in sim.agents.values()
            if a.registered_at is not None
        ]
        tasks: list[Any] = [agent.task_view or self._task(agent) for agent in sim.agents.values()]
        waiting = assign_waiting_jobs([self.queue], jobs)[self.queue.queue]
        return count_queue(self.queue, waiting, jobs, agents, tasks, now)

    def decide(self, counts: QueueCounts, now: datetime) -> Decision:
        """The poller's policy, unchanged."""
        return decide(self.queue, counts, now)

    def _next_threshold(self, counts: QueueCounts, sim: Simulation) -> float:
        """The earliest instant an age alone could change the decision: an idle agent
        passing the idle timeout, or an unregistered task passing the boot timeout."""
        ages = [
            _seconds(since, self.epoch) + self.queue.idle_timeout_minutes * MINUTE
            for agent in counts.idle_agents
            if (since := agent.idle_since) is not None
        ]
        ages += [
            agent.launched_at + DEFAULT_BOOT_TIMEOUT.total_seconds()
            for agent in sim.agents.values()
            if agent.registered_at is None
        ]
        if self.queue.standby_schedule:
            ages.append(self._next_schedule_change(sim.now))
        return min(ages, default=math.inf)

    def _next_schedule_change(self, now_s: float) -> float:
        """When the standby schedule's window in force may change next (kept until passed)."""
        if now_s >= self._schedule_change:
            change = next_change(self.queue.standby_schedule, at(now_s, self.epoch))
            self._schedule_change = math.inf if change is None else _seconds(change, self.epoch)
        return self._schedule_change

    def next_poll_at(self, now: float) -> float:
        """The poller's own cadence (``adoscale.poller.cycles.Cadence``): every interval while
        active or lingering (``adoscale.poller.cycles.Activity``), else every quiet interval."""
        lingering = self._last_active is not None and now - self._last_active <= (
            self.poll_linger_s
        )
        return self.cadence.next_cycle_at(now, lingering, self.first_poll_s)

    def _may_start(self, action: str, now: datetime, sim: Simulation) -> bool:
        """Step Functions refuses a second execution of the same name (queue, action, slot);
        a hook poll names its executions by its debounce window (``adoscale.core.hook``)."""
        if self.unique_executions:
            return True
        seconds = self.hook_window_s if sim.hook_polling else self.poll_interval_s
        slot = poll_slot(now, max(1, round(seconds)))
        if slot != self._slot:
            self._slot, self._started = slot, set()
        name = execution_name(self.queue.queue, action, slot)
        if name in self._started:
            self.dropped_executions += 1
            return False
        self._started.add(name)
        return True

    def _job(self, job: SimJob) -> JobRequest:
        """A waiting job as jobrequests lists it; once taken, with its agent and times."""
        taken = at(job.assigned_at, self.epoch) if job.assigned_at is not None else None
        job.view = model = JobRequest(
            request_id=job.index + 1,
            queue_time=at(job.queue_time, self.epoch),
            demands=job.demands,
            assign_time=taken,
            receive_time=taken,
            reserved_agent_id=job.agent.agent_id if job.agent is not None else None,
            reserved_agent_name=job.agent.name if job.agent is not None else None,
        )
        return model

    def _agent(self, agent: SimAgent) -> Agent:
        """A registered agent as the agents listing shows it (disabled while draining,
        offline between two jobs of a reusable agent, with its last job's end)."""
        agent.agent_view = model = Agent(
            agent_id=agent.agent_id,
            name=agent.name,
            online=agent.state != REARMING,
            enabled=agent.state != DRAINING,
            created_on=at(agent.registered_at or 0.0, self.epoch),
            assigned_request_id=agent.job.index + 1 if agent.job is not None else None,
            last_job_finished=(
                at(agent.last_finished, self.epoch) if agent.last_finished is not None else None
            ),
        )
        return model

    def _task(self, agent: SimAgent) -> AgentTask:
        """The agent's ECS task as ``ecs.parse_task`` builds it (tagged with queue and name)."""
        agent.task_view = model = AgentTask(
            task_arn=f"arn:aws:ecs:us-east-1:000000000000:task/sim/{agent.agent_id:032x}",
            queue=self.queue.queue,
            agent_name=agent.name,
            last_status="RUNNING" if agent.registered_at is not None else "PROVISIONING",
            desired_status="RUNNING",
            created_at=at(agent.launched_at, self.epoch),
        )
        return model


class KedaLikePolicy:
    """KEDA ScaledJob + azure-pipelines scaler (module docstring)."""

    name = KEDA
    max_jobs_per_agent = 1  # a ScaledJob's pod runs one job
    first_poll_s = 0.0
    fast_path_delay_s: float | None = None
    retire_window_s = 0.0

    def __init__(self, params: SimParams, poll_interval_s: float = KEDA_POLL_S) -> None:
        self.max_agents = params.max_agents
        self.poll_interval_s = poll_interval_s

    def next_poll_at(self, now: float) -> float:
        return now + self.poll_interval_s

    def poll(self, sim: Simulation) -> Actions:
        waiting, busy, idle, starting = sim.counts()
        queue_length = min(waiting + busy, self.max_agents)
        return Actions(launch=max(0, queue_length - (busy + idle + starting)))


class ScaleSetLikePolicy:
    """Azure DevOps VM scale set agent pools, on one-job agents (module docstring)."""

    name = SCALE_SET
    max_jobs_per_agent = 1  # modelled with "recycle after each use"
    first_poll_s = 0.0
    fast_path_delay_s: float | None = None
    retire_window_s = 0.0

    def __init__(
        self,
        params: SimParams,
        standby: int = SCALE_SET_STANDBY,
        idle_minutes: float = SCALE_SET_IDLE_MINUTES,
        sample_s: float = SCALE_SET_SAMPLE_S,
    ) -> None:
        self.max_agents = params.max_agents
        self.standby = min(standby, params.max_agents)
        self.idle_s = idle_minutes * MINUTE
        self.poll_interval_s = sample_s

    def next_poll_at(self, now: float) -> float:
        return now + self.poll_interval_s

    def poll(self, sim: Simulation) -> Actions:
        waiting, busy, idle, starting = sim.counts()
        desired = min(self.max_agents, busy + waiting + self.standby)
        launch = desired - (busy + idle + starting)
        if launch > 0:
            return Actions(launch=launch)
        excess = idle - (waiting + self.standby)
        if excess <= 0:
            return Actions()
        cutoff = sim.now - self.idle_s
        old = [
            a
            for a in sim.idle.values()
            if a.registered_at is not None and a.registered_at <= cutoff
        ]
        return Actions(retire=tuple(agent.agent_id for agent in old[:excess]))


def run_oracle(jobs: Sequence[TraceJob], params: SimParams, span_s: float | None = None) -> Outcome:
    """Each job's own agent registers exactly one start-up time after the job is queued."""
    rng = random.Random(params.seed)  # noqa: S311 - a seeded simulation
    waits: list[float] = []
    billed = busy = 0.0
    end = max(span_s or 0.0, jobs[-1].queue_time if jobs else 0.0)
    for job in jobs:
        startup = params.startup.sample(rng)
        waits.append(startup)
        busy += job.duration
        billed += max(params.prices.minimum_billed_s, startup + job.duration + params.teardown_s)
        end = max(end, job.queue_time + startup + job.duration)
    return Outcome(
        waits=waits,
        agent_seconds=billed,
        busy_seconds=busy,
        agents_launched=len(jobs),
        agents_retired=0,
        polls=0,
        actions=len(jobs),
        end_s=end,
    )
