"""The discrete-event engine: jobs, agents (one-job or reusable) and a policy that polls.

What it models, once for every policy:
- a job is queued at its trace time; Azure DevOps hands a waiting job to an idle, enabled
  agent at once (oldest job first, to the longest-registered agent);
- a launched agent is billed from RunTask; it registers one start-up time later and takes
  the oldest waiting job, or idles; after its job it deregisters and its task stops
  (``teardown_s`` later, still billed);
- a reusable agent (the policy's ``max_jobs_per_agent`` above 1) instead goes offline for
  ``rearm_s`` after a job that was not its last (``run.sh --once`` starts again), then
  takes the oldest waiting job or idles until the policy retires it; a job on an agent
  that ran one before takes ``warm_speedup`` of its traced duration;
- a policy polls when its ``next_poll_at`` says (every ``poll_interval_s`` for the peers;
  adoscale polls that often only while the queue is active, else at the next scheduled
  invocation), and, with the fast path (the service hook), at the end of the debounce
  window in which the job's webhook arrives ``fast_path_delay_s`` after it was queued (one
  poll per window, however many webhooks; a hook poll is not the poller's, so it leaves
  the poller's cadence alone); it answers how many agents to launch and which idle ones
  to retire; RunTask and the drain happen ``launch_delay_s`` later (the workflow
  starting); a drained agent is gone after the policy's retire window unless it got a
  job first.
- a launch counts as a starting task from the poll that decided it on: the next poll never
  launches the same agents twice. (In AWS a poll inside the ~2 s between StartExecution and
  RunTask would not see the task yet; with polls 20 s apart that hardly happens, and the
  deterministic execution names and the workflow's per-queue lease are what close it.)

Events at the same instant run in a fixed order: agents leave, agents register, jobs
arrive, drains happen, then polls, so a poll sees a job queued at its instant.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from adoscale.core.naming import AGENT_PREFIX, SUFFIX_LENGTH
from adoscale.simulate.params import SimParams
from adoscale.simulate.trace import TraceJob

# Event kinds, in the order they run at one instant.
FINISH, RETIRE, REGISTER, REARM, ARRIVE, DRAIN, POLL, HOOK_POLL = range(8)
STUCK_AFTER_S = 30 * 86_400.0  # past the trace: some job can never be served

STARTING, IDLE, BUSY, DRAINING, REARMING = "starting", "idle", "busy", "draining", "rearming"
QUEUE = "sim"  # the simulated queue's name


def agent_name(agent_id: int, queue: str = QUEUE) -> str:
    """Named as the launch step names agents, so ``naming.is_agent_of`` recognises them."""
    return f"{AGENT_PREFIX}{queue}-{agent_id:0{SUFFIX_LENGTH}x}"


class SimulationError(RuntimeError):
    """The run cannot finish (a job can never get an agent)."""


class SimAgent:
    """One task and, once registered, its agent. Mutable: the engine's working state."""

    __slots__ = (
        "agent_id",
        "agent_view",
        "job",
        "jobs_done",
        "last_finished",
        "launched_at",
        "name",
        "registered_at",
        "state",
        "task_view",
    )

    def __init__(self, agent_id: int, launched_at: float) -> None:
        self.agent_id = agent_id
        self.name = agent_name(agent_id)
        self.launched_at = launched_at
        self.registered_at: float | None = None
        self.state = STARTING
        self.job: SimJob | None = None
        self.jobs_done = 0
        self.last_finished: float | None = None
        # Policy-side views (immutable model values), rebuilt after every change.
        self.agent_view: object | None = None
        self.task_view: object | None = None

    def changed(self) -> None:
        """The agent's state changed; its task only changes when the agent registers."""
        self.agent_view = None


class SimJob:
    __slots__ = (
        "agent",
        "assigned_at",
        "demands",
        "duration",
        "index",
        "queue_time",
        "ran_s",
        "view",
    )

    def __init__(self, index: int, job: TraceJob) -> None:
        self.index = index
        self.queue_time = job.queue_time
        self.duration = job.duration
        self.demands = job.demands
        self.assigned_at: float | None = None
        self.agent: SimAgent | None = None
        self.ran_s = job.duration  # shorter on a warm (reused) agent
        self.view: object | None = None  # the policy's JobRequest, rebuilt after a change


@dataclass(frozen=True)
class Actions:
    launch: int = 0
    retire: tuple[int, ...] = ()


class Policy(Protocol):
    """A scaling policy as the engine drives it."""

    name: str
    poll_interval_s: float
    first_poll_s: float
    fast_path_delay_s: float | None
    retire_window_s: float
    max_jobs_per_agent: int  # 1: one-job agents; more: an agent takes jobs until then

    def poll(self, sim: Simulation) -> Actions: ...

    def next_poll_at(self, now: float) -> float:
        """When the next scheduled poll happens, given the one that just ran at ``now``."""
        ...


@dataclass
class Outcome:
    """Raw figures of one run; ``metrics.summarise`` turns them into a result row."""

    waits: list[float]
    agent_seconds: float
    busy_seconds: float
    agents_launched: int
    agents_retired: int
    polls: int
    actions: int
    end_s: float
    timeline: list[tuple[float, int, int]] = field(default_factory=list)


class Simulation:
    """One run of one policy over one trace. Read-only views for policies are below."""

    def __init__(
        self,
        jobs: Sequence[TraceJob],
        params: SimParams,
        policy: Policy,
        *,
        span_s: float | None = None,
        record_timeline: bool = False,
    ) -> None:
        self.params = params
        self.policy = policy
        self.rng = random.Random(params.seed)  # noqa: S311 - a seeded simulation
        self.now = 0.0
        self.jobs = [SimJob(i, job) for i, job in enumerate(jobs)]
        self.max_jobs = getattr(policy, "max_jobs_per_agent", 1)
        self.waiting: deque[SimJob] = deque()
        self.agents: dict[int, SimAgent] = {}
        self.idle: dict[int, SimAgent] = {}  # insertion order = registration order
        self.running: dict[int, SimJob] = {}  # job index -> job
        self._span = max(span_s or 0.0, self.jobs[-1].queue_time if self.jobs else 0.0)
        self._events: list[tuple[float, int, int, object]] = []
        self._seq = 0
        self._next_agent = 1
        self._done = 0
        self._waits: list[float] = []
        self._agent_seconds = 0.0
        self._busy_seconds = 0.0
        self._launched = self._retired = self._polls = self._actions = 0
        self._starting = 0
        self._record = record_timeline
        self._timeline: list[tuple[float, int, int]] = []
        # Bumped by every change a poll could see (jobs, agents, tasks): a policy may reuse
        # its last answer while the version and its own time thresholds stand still.
        self.version = 0
        self.hook_polling = False  # the poll running is the service hook's, not the poller's
        self._last_hook_poll = float("-inf")

    # ---- running ---------------------------------------------------------------------

    def run(self) -> Outcome:
        for job in self.jobs:
            self._push(job.queue_time, ARRIVE, job)
        self._push(self.policy.first_poll_s, POLL, None)
        last_arrival = self.jobs[-1].queue_time if self.jobs else 0.0
        events = self._events
        while events:
            when, kind, _seq, payload = heapq.heappop(events)
            if self._done == len(self.jobs) and when > self._span:
                break
            if when > last_arrival + STUCK_AFTER_S:
                raise SimulationError(
                    f"{len(self.jobs) - self._done} jobs still unfinished 30 days after the"
                    " last one was queued: can the policy ever launch an agent for them?"
                )
            self.now = when
            self._handle(kind, payload)
        end = max(self._span, self.now)
        for agent in self.agents.values():
            self._bill(agent, end)
        return Outcome(
            waits=self._waits,
            agent_seconds=self._agent_seconds,
            busy_seconds=self._busy_seconds,
            agents_launched=self._launched,
            agents_retired=self._retired,
            polls=self._polls,
            actions=self._actions,
            end_s=end,
            timeline=self._timeline,
        )

    def _push(self, when: float, kind: int, payload: object) -> None:
        self._seq += 1
        heapq.heappush(self._events, (when, kind, self._seq, payload))

    def _handle(self, kind: int, payload: object) -> None:
        if kind not in (POLL, HOOK_POLL):
            self.version += 1
        if kind == ARRIVE:
            self._arrive(payload)  # type: ignore[arg-type]
        elif kind == FINISH:
            self._finish(payload)  # type: ignore[arg-type]
        elif kind == REGISTER:
            self._register(payload)  # type: ignore[arg-type]
        elif kind == REARM:
            self._rearm(payload)  # type: ignore[arg-type]
        elif kind in (POLL, HOOK_POLL):
            self._poll(scheduled=kind == POLL)
        elif kind == DRAIN:
            self._drain(payload)  # type: ignore[arg-type]
        elif kind == RETIRE:
            self._retire(payload)  # type: ignore[arg-type]

    def _arrive(self, job: SimJob) -> None:
        if self.idle:
            self._assign(job, self._take_idle())
        else:
            self.waiting.append(job)
        if self.policy.fast_path_delay_s is not None:
            self._hook(self.now + self.policy.fast_path_delay_s)
        self._mark()

    def _hook(self, delivered_at: float) -> None:
        """The webhook's debounce window ends; its one poll runs then (``adoscale.core.hook``)."""
        window = self.params.hook_window_s
        poll_at = math.ceil(delivered_at / window) * window if window > 0 else delivered_at
        if poll_at != self._last_hook_poll:
            self._last_hook_poll = poll_at
            self._push(poll_at, HOOK_POLL, None)

    def _register(self, agent: SimAgent) -> None:
        if agent.agent_id not in self.agents:
            return
        agent.registered_at = self.now
        agent.changed()
        agent.task_view = None
        self._starting -= 1
        self._take_or_idle(agent)

    def _take_or_idle(self, agent: SimAgent) -> None:
        if self.waiting:
            self._assign(self.waiting.popleft(), agent)
        else:
            agent.state = IDLE
            self.idle[agent.agent_id] = agent

    def _rearm(self, agent: SimAgent) -> None:
        """A reusable agent's listener is back after a job: the next job, or idle."""
        if agent.agent_id in self.agents and agent.state == REARMING:
            agent.changed()
            self._take_or_idle(agent)
            self._mark()

    def _take_idle(self) -> SimAgent:
        agent_id = next(iter(self.idle))
        return self.idle.pop(agent_id)

    def _assign(self, job: SimJob, agent: SimAgent) -> None:
        job.assigned_at = self.now
        job.agent = agent
        job.view = None
        agent.state = BUSY
        agent.job = job
        agent.changed()
        self.running[job.index] = job
        self._waits.append(self.now - job.queue_time)
        if agent.jobs_done:
            job.ran_s = job.duration * self.params.warm_speedup
        self._busy_seconds += job.ran_s
        self._push(self.now + job.ran_s, FINISH, agent)

    def _finish(self, agent: SimAgent) -> None:
        job = agent.job
        if job is not None:
            del self.running[job.index]
            self._done += 1
        agent.jobs_done += 1
        if agent.jobs_done >= self.max_jobs:
            self._remove(agent, self.now + self.params.teardown_s)
        else:
            agent.job = None
            agent.last_finished = self.now
            agent.state = REARMING
            agent.changed()
            self._push(self.now + self.params.rearm_s, REARM, agent)
        self._mark()

    def _launch(self, count: int, run_task_at: float) -> None:
        """Billed from RunTask; registered one start-up time after it."""
        self.version += 1
        for _ in range(count):
            agent = SimAgent(self._next_agent, run_task_at)
            self._next_agent += 1
            self.agents[agent.agent_id] = agent
            self._launched += 1
            self._starting += 1
            self._push(run_task_at + self.params.startup.sample(self.rng), REGISTER, agent)
        self._mark()

    def _drain(self, agent_ids: tuple[int, ...]) -> None:
        for agent_id in agent_ids:
            agent = self.agents.get(agent_id)
            if agent is None or agent.state != IDLE:
                continue  # it took a job (or left) between the poll and the drain
            del self.idle[agent_id]
            agent.state = DRAINING
            agent.changed()
            self._push(self.now + self.policy.retire_window_s, RETIRE, agent)

    def _retire(self, agent: SimAgent) -> None:
        if agent.state == DRAINING and agent.agent_id in self.agents:
            self._retired += 1
            self._remove(agent, self.now + self.params.teardown_s)
            self._mark()

    def _poll(self, *, scheduled: bool) -> None:
        self._polls += 1
        self.hook_polling = not scheduled
        actions = self.policy.poll(self)
        self.hook_polling = False
        delay = self.params.launch_delay_s
        if actions.launch > 0:
            self._actions += 1
            self._launch(actions.launch, self.now + delay)
        if actions.retire:
            self._actions += 1
            self._push(self.now + delay, DRAIN, tuple(actions.retire))
        if scheduled:
            self._push(self.policy.next_poll_at(self.now), POLL, None)

    def _remove(self, agent: SimAgent, stopped_at: float) -> None:
        self.agents.pop(agent.agent_id, None)
        self.idle.pop(agent.agent_id, None)
        self._bill(agent, stopped_at)

    def _bill(self, agent: SimAgent, stopped_at: float) -> None:
        billed = stopped_at - agent.launched_at
        self._agent_seconds += max(billed, self.params.prices.minimum_billed_s)

    def _mark(self) -> None:
        if self._record:
            demand = len(self.waiting) + len(self.running)
            self._timeline.append((self.now, len(self.agents), demand))

    # ---- views for policies ----------------------------------------------------------

    def counts(self) -> tuple[int, int, int, int]:
        """(waiting jobs, busy agents, idle agents, starting agents)."""
        return len(self.waiting), len(self.running), len(self.idle), self._starting
