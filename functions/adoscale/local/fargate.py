"""The local stand-in for Fargate: each ECS task adoscale starts becomes a simulated agent.

It watches the cluster in moto as ECS would run it: a new task boots for the scenario's
boot delay (its agent profile's, when the scenario names one), registers its agent in the
simulated organisation with the queue's capabilities (``AZP_CAPABILITIES``), takes one job
(the organisation's dispatcher assigns it), runs it for the job's duration and exits, and
its task stops. Like the agent image, it never deregisters (that would need the PAT beside
a job): its agent goes offline and the control plane deletes it; ``stats.offline_seconds``
says how long each one waited. A reusable agent (``AZP_MAX_JOBS=N``, as start.sh reads
it) stays after each job but the N-th, idle and online, for the service to hand it the
next one. A placeholder-mode task
(``AZP_PLACEHOLDER=1``) only registers an offline agent and exits.

A task the control plane stops is a container killed: an idle agent goes offline (the
reaper cleans it up); a busy agent's job is cancelled, and that is recorded as a busy
agent stopped, the one thing scale-in must never do.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from adoscale.core.naming import AGENT_TAG, PLACEHOLDER_TAG, QUEUE_TAG
from adoscale.core.schema import Queue
from adoscale.local.ado_server import FakeAdoError
from adoscale.local.clock import SimClock
from adoscale.local.organisation import SimulatedOrganisation

LOG = logging.getLogger(__name__)
EXIT_REASON = "Essential container in task exited"

BOOTING = "booting"
IDLE = "idle"
RUNNING = "running"
EXITED = "exited"  # the agent left by itself; its task stopped
KILLED = "killed"  # the control plane stopped its task


@dataclass
class SimAgent:
    """One task and the agent inside it; times are simulated seconds since the start."""

    task_arn: str
    queue: str
    pool: str
    name: str
    capabilities: dict[str, str]
    placeholder: bool
    launched_at: float
    boot_at: float
    state: str = BOOTING
    agent_id: int | None = None
    job_id: int | None = None
    job_ends: float | None = None
    stopped_at: float | None = None
    jobs_run: int = 0
    max_jobs: int = 1  # AZP_MAX_JOBS: jobs before the container exits

    @property
    def alive(self) -> bool:
        return self.state in (BOOTING, IDLE, RUNNING)


@dataclass(frozen=True)
class BusyStop:
    """A task stopped while its agent ran a job: the job was lost."""

    at: float
    agent: str
    queue: str
    job_id: int


@dataclass
class FargateStats:
    busy_stops: list[BusyStop] = field(default_factory=list)
    idle_kills: int = 0
    boot_kills: int = 0
    registration_errors: list[str] = field(default_factory=list)
    # simulated seconds from an agent's exit after its job to its deletion by the control plane
    offline_seconds: list[float] = field(default_factory=list)


class LocalFargate:
    """Call ``tick()`` often; each call observes ECS and advances every agent."""

    def __init__(
        self,
        ecs: Any,
        cluster: str,
        organisation: SimulatedOrganisation,
        clock: SimClock,
        queues: Mapping[str, Queue],
        *,
        boot_delay: Callable[[], float] | None = None,
        seed: int = 7,
    ) -> None:
        self._ecs = ecs
        self._cluster = cluster
        self._org = organisation
        self._clock = clock
        self._queues = dict(queues)
        rng = random.Random(seed)  # noqa: S311 - reproducible simulation, not a secret
        self._rng = rng
        self._boot_delay = boot_delay
        self.agents: dict[str, SimAgent] = {}
        self.stats = FargateStats()
        self._left: dict[int, float] = {}  # agent id -> when its container exited

    # ---- the loop ----------------------------------------------------------------------

    def tick(self) -> None:
        now = self._clock.elapsed()
        running = self._running_task_arns()
        new = [arn for arn in running if arn not in self.agents]
        if new:
            self._adopt(new, now)
        for arn, agent in list(self.agents.items()):
            if agent.alive and arn not in running:
                self._killed(agent, now)
        for agent in list(self.agents.values()):
            self._advance(agent, now)
        for agent_id, left_at in list(self._left.items()):
            if self._org.ado.agent(agent_id) is None:
                del self._left[agent_id]
                self.stats.offline_seconds.append(now - left_at)

    def offline_waiting(self) -> int:
        """Agents that exited after their job and are not deleted yet."""
        return len(self._left)

    def by_queue(self) -> dict[str, list[SimAgent]]:
        grouped: dict[str, list[SimAgent]] = {}
        for agent in self.agents.values():
            grouped.setdefault(agent.queue, []).append(agent)
        return grouped

    def starting(self, queue: str) -> int:
        return sum(
            1
            for a in self.agents.values()
            if a.queue == queue and a.state == BOOTING and not a.placeholder
        )

    def agent_seconds(self, until: float) -> float:
        """Simulated task time of every non-placeholder agent (what Fargate would bill)."""
        return sum(
            (a.stopped_at if a.stopped_at is not None else until) - a.launched_at
            for a in self.agents.values()
            if not a.placeholder
        )

    # ---- ECS -----------------------------------------------------------------------------

    def _running_task_arns(self) -> set[str]:
        arns: set[str] = set()
        paginator = self._ecs.get_paginator("list_tasks")
        for page in paginator.paginate(cluster=self._cluster, desiredStatus="RUNNING"):
            arns.update(page.get("taskArns", []))
        return arns

    def _adopt(self, arns: list[str], now: float) -> None:
        for start in range(0, len(arns), 100):
            described = self._ecs.describe_tasks(
                cluster=self._cluster, tasks=arns[start : start + 100], include=["TAGS"]
            ).get("tasks", [])
            for raw in described:
                agent = self._agent_for(raw, now)
                if agent is not None:
                    self.agents[agent.task_arn] = agent
                    LOG.info("task %s: agent %s booting", agent.task_arn[-8:], agent.name)

    def _agent_for(self, raw: Mapping[str, Any], now: float) -> SimAgent | None:
        tags = {t.get("key"): t.get("value") for t in raw.get("tags", [])}
        environment = _environment(raw)
        queue_name = tags.get(QUEUE_TAG)
        if not queue_name:
            return None  # not an adoscale task: Fargate would run it, it is none of ours
        queue = self._queues.get(queue_name)
        task_arn = raw["taskArn"]
        name = environment.get("AZP_AGENT_NAME") or tags.get(AGENT_TAG) or task_arn.rsplit("/")[-1]
        pool = environment.get("AZP_POOL") or (queue.pool if queue else "")
        capabilities = _capabilities(environment.get("AZP_CAPABILITIES"), queue)
        placeholder = (
            environment.get("AZP_PLACEHOLDER") == "1" or tags.get(PLACEHOLDER_TAG) == "true"
        )
        return SimAgent(
            task_arn=task_arn,
            queue=queue_name,
            pool=pool,
            name=name,
            capabilities=capabilities,
            placeholder=placeholder,
            launched_at=now,
            boot_at=now + self._boot_delay_of(queue.agent_profile if queue else "default"),
            max_jobs=_max_jobs(environment.get("AZP_MAX_JOBS")),
        )

    def _boot_delay_of(self, profile: str) -> float:
        """The profile's start-up from the scenario (an ec2 profile's includes its instance)."""
        if self._boot_delay is not None:
            return self._boot_delay()
        scenario = self._org.scenario
        low, high = scenario.profiles.get(profile, scenario.boot_delay)
        return low if low == high else self._rng.uniform(low, high)

    def _exit(self, agent: SimAgent, now: float, why: str) -> None:
        """The container exits: its task stops (what ECS reports after an essential exit)."""
        agent.state = EXITED
        agent.stopped_at = now
        try:
            self._ecs.stop_task(
                cluster=self._cluster, task=agent.task_arn, reason=f"{EXIT_REASON} ({why})"
            )
        except (ClientError, BotoCoreError) as error:
            LOG.warning("could not stop task %s: %s", agent.task_arn, error)

    # ---- one agent ---------------------------------------------------------------------

    def _advance(self, agent: SimAgent, now: float) -> None:
        ado = self._org.ado
        if agent.state == BOOTING and now >= agent.boot_at:
            self._register(agent, now)
        elif agent.state == IDLE:
            found = ado.agent(agent.agent_id) if agent.agent_id is not None else None
            if found is None:
                self._exit(agent, now, "agent removed from its pool")
                return
            assigned = found.get("assignedRequest")
            if assigned:
                agent.job_id = assigned["requestId"]
                agent.state = RUNNING
                agent.job_ends = now + self._org.duration_of(agent.job_id)
                self._quietly(ado.start_job, agent.job_id)
        elif agent.state == RUNNING and agent.job_ends is not None and now >= agent.job_ends:
            if agent.jobs_run + 1 < agent.max_jobs:
                # a reusable agent: the job ends, start.sh cleans the work directory and runs
                # run.sh --once again under the same registration
                self._quietly(ado.finish_job, agent.job_id, "succeeded")
                agent.jobs_run += 1
                agent.state, agent.job_id, agent.job_ends = IDLE, None, None
                self._advance(agent, now)  # the dispatcher may have handed it the next job
                return
            # run.sh --once: the listener ends with the job, so the service never hands this
            # agent a second job; the container exits and the agent stays, offline, until the
            # control plane deletes it
            if agent.agent_id is not None:
                self._quietly(ado.set_agent_status, agent.agent_id, online=False)
                self._left[agent.agent_id] = now
            self._quietly(ado.finish_job, agent.job_id, "succeeded")
            agent.jobs_run += 1
            self._exit(agent, now, "ran its last job" if agent.max_jobs > 1 else "ran its one job")

    def _register(self, agent: SimAgent, now: float) -> None:
        """``config.sh --replace`` (+ ``run.sh --once`` unless placeholder)."""
        ado = self._org.ado
        existing = ado.agent_by_name(agent.pool, agent.name) if agent.pool else None
        if existing is not None and "assignedRequest" not in existing:
            self._quietly(ado.remove_agent, existing["id"])  # --replace takes the name over
        try:
            agent.agent_id = ado.register_agent(
                agent.pool,
                agent.name,
                online=not agent.placeholder,
                capabilities=agent.capabilities,
            )
        except FakeAdoError as error:
            self.stats.registration_errors.append(f"{agent.name}: {error}")
            self._exit(agent, now, f"registration failed: {error}")
            return
        if agent.placeholder:
            self._exit(agent, now, "placeholder registered")
            return
        agent.state = IDLE
        self._advance(agent, now)  # the dispatcher may already have given it a job

    def _killed(self, agent: SimAgent, now: float) -> None:
        """The control plane stopped the task under a living agent."""
        ado = self._org.ado
        previous = agent.state
        agent.state = KILLED
        agent.stopped_at = now
        if previous == BOOTING:
            self.stats.boot_kills += 1
            return
        found = ado.agent(agent.agent_id) if agent.agent_id is not None else None
        if found is None:
            return  # deleted in Azure DevOps first, then stopped: the safe order
        assigned = found.get("assignedRequest")
        if assigned or previous == RUNNING:
            job_id = assigned["requestId"] if assigned else agent.job_id
            self.stats.busy_stops.append(BusyStop(now, agent.name, agent.queue, job_id or 0))
            LOG.error("BUSY AGENT STOPPED: %s (job %s)", agent.name, job_id)
        else:
            self.stats.idle_kills += 1
        if agent.agent_id is not None:  # the container is gone: the agent goes offline
            self._quietly(ado.set_agent_status, agent.agent_id, online=False)
        if assigned or previous == RUNNING:
            self._quietly(ado.finish_job, job_id, "canceled")

    def _quietly(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        try:
            call(*args, **kwargs)
        except FakeAdoError as error:
            LOG.info("simulated agent: %s", error)


def _environment(raw: Mapping[str, Any]) -> dict[str, str]:
    environment: dict[str, str] = {}
    for override in raw.get("overrides", {}).get("containerOverrides", []):
        for pair in override.get("environment", []):
            if "name" in pair:
                environment[pair["name"]] = str(pair.get("value", ""))
    return environment


def _max_jobs(text: str | None) -> int:
    """AZP_MAX_JOBS as start.sh takes it: a whole number 1..1000, else one job."""
    if text is None or not text.isdigit() or not 1 <= int(text) <= 1000:
        return 1
    return int(text)


def _capabilities(text: str | None, queue: Queue | None) -> dict[str, str]:
    if text:
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            return {str(k): str(v) for k, v in parsed.items()}
    if queue is not None and queue.capabilities:
        return dict(queue.capabilities)
    return {}
