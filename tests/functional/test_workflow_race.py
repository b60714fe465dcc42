"""Seeded randomized race: jobs land on agents at random moments around drain and retire.

The drain and retire functions run against the fake Azure DevOps over HTTP, with an
adversary that acts before every Azure DevOps call they make: it assigns waiting jobs to
random agents (even disabled ones, as if the assignment was decided just before the
PATCH and only became visible later, which is harsher than the real service), finishes
jobs and lets their one-job agents leave, and fails the odd request. A retire that fails
runs again with the same drained list, as the state machine's Retry does (a share of
rounds forces that: one 503 on a drained agent's re-read, so the failed attempt enables
that agent again before the retry meets it). Whatever happens: no agent with a job is
ever deleted or has its task stopped, no agent is left disabled, and no agent is deleted
unless it stayed disabled from before the confirm window until its DELETE. The fake
refuses to DELETE a busy agent, as Azure DevOps does.

ECS is a recording double of the two calls retire makes (``tasks_of``, ``stop_task``),
checked at each stop against the organisation's state; the real ECS adapter is tested
against moto elsewhere, and the wiring in the engine tests.

The second test plays the same race with reusable agents (a queue's
``max_jobs_per_agent`` above 1): agents come into a round having run some jobs already,
the real counting and policy pick the surplus from what the fake reports (idle time from
``lastCompletedRequest``, on a clock the test moves), and the adversary finishes jobs
without the agent leaving, so an agent goes idle -> busy -> idle and may be offline for a
moment between two jobs; after its N-th job it goes offline for good, as its container
exits. The same invariants hold.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from adoscale.ado.client import AdoClient
from adoscale.core.counting import count_queue
from adoscale.core.exceptions import AdoAgentBusyError, AdoError
from adoscale.core.models import Agent, AgentTask
from adoscale.core.policy import SCALE_IN, decide
from adoscale.core.schema import Queue
from adoscale.local.ado_server import FakeAdoError, FakeAdoServer
from adoscale.workflow.definition import build_definition, placeholder_arns
from adoscale.workflow.scale_in import drain, retire

ROUNDS = int(os.environ.get("ADOSCALE_RACE_ROUNDS", "1000"))
AGENTS_PER_ROUND = 3
SEED = int(os.environ.get("ADOSCALE_RACE_SEED", "20261127"))
PAT = "race-pat-5d1f0c9e7a2b"
QUEUE = "race"
POOL = "race-pool"
FORCED_RETRY_SHARE = 0.25  # rounds whose first retire is made to fail on one agent
MAX_JOBS = 3  # the reusable agents' max_jobs_per_agent
IDLE_TIMEOUT = timedelta(minutes=5)
# The Retire state's Retry rule for adoscale's own transient errors (the one a 503 hits).
RETIRE_RETRY = next(
    rule
    for rule in build_definition(placeholder_arns())["States"]["Retire"]["Retry"]
    if "AdoUnavailableError" in rule["ErrorEquals"]
)


@dataclass
class Ledger:
    """What the adversary did and what the code under test did, for the invariants."""

    violations: list[str] = field(default_factory=list)
    jobs_assigned: int = 0
    kept_busy: int = 0
    deleted: int = 0
    refused_busy: int = 0  # DELETEs Azure DevOps refused: a job came after the re-read
    stopped: int = 0
    faults: int = 0
    retries: int = 0  # retire attempts after a failed one
    enabled_on_retry: int = 0  # drained agents a retry found enabled again
    reused: int = 0  # jobs finished by an agent that stayed for another
    busy_again: int = 0  # jobs given to an agent that had finished one before
    retired_after_jobs: int = 0  # agents deleted after having run at least one job


class Clock:
    """The fake organisation's time: moves only when the test moves it."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Adversary:
    """Acts on the organisation before each Azure DevOps call drain and retire make.

    With ``max_jobs`` 1 an agent leaves the pool once its job is done; above 1 it stays
    for its next job (offline for a moment now and then, as between two ``run.sh --once``)
    and goes offline for good after its ``max_jobs``-th job.
    """

    def __init__(
        self,
        ado: FakeAdoServer,
        rng: random.Random,
        ledger: Ledger,
        max_jobs: int = 1,
        clock: Clock | None = None,
    ) -> None:
        self.ado = ado
        self.rng = rng
        self.ledger = ledger
        self.max_jobs = max_jobs
        self.clock = clock
        self.agent_ids: list[int] = []
        self.jobs: list[int] = []
        self.jobs_done: dict[int, int] = {}
        self.between_jobs: set[int] = set()

    def act(self, before: str, agent_id: int) -> None:
        if self.clock is not None:
            self.clock.advance(self.rng.uniform(0, 20))
        for back in self.between_jobs:
            if self.ado.agent(back) is not None:
                self.ado.set_agent_status(back, online=True)
        self.between_jobs.clear()
        roll = self.rng.random()
        extra = 0.10 if self.max_jobs > 1 else 0.0  # reusable agents finish jobs more often
        if roll < 0.30:
            self._assign(self.rng.choice([agent_id, *self.agent_ids]))
        elif roll < 0.36 + extra:
            self._finish_and_leave()
        elif roll < 0.40 + extra and before in {"GET", "DELETE"}:
            self.ado.inject("agent", "status_503", times=1, method=before)
            self.ledger.faults += 1

    def _assign(self, agent_id: int) -> None:
        agent = self.ado.agent(agent_id)
        if agent is None or "assignedRequest" in agent or agent["status"] != "online":
            return
        job = self.ado.queue_job(POOL)
        self.ado.assign_job(job, agent_id)
        self.jobs.append(job)
        self.ledger.jobs_assigned += 1
        self.ledger.busy_again += int(self.jobs_done.get(agent_id, 0) > 0)

    def _finish_and_leave(self) -> None:
        for agent_id in self.rng.sample(self.agent_ids, len(self.agent_ids)):
            agent = self.ado.agent(agent_id)
            if agent is not None and "assignedRequest" in agent:
                self.ado.finish_job(agent["assignedRequest"]["requestId"])
                self.jobs_done[agent_id] = done = self.jobs_done.get(agent_id, 0) + 1
                if self.max_jobs == 1:
                    self.ado.remove_agent(agent_id)
                elif done >= self.max_jobs:
                    self.ado.set_agent_status(agent_id, online=False)  # its container exits
                else:
                    self.ledger.reused += 1
                    if self.rng.random() < 0.5:  # between two run.sh --once
                        self.ado.set_agent_status(agent_id, online=False)
                        self.between_jobs.add(agent_id)
                return


class RacingAdo:
    """The real AdoClient, with the adversary acting before every call."""

    def __init__(self, client: AdoClient, adversary: Adversary) -> None:
        self.client = client
        self.adversary = adversary
        self.confirmed: set[int] = set()  # disabled since before the confirm window
        self.retrying = False

    def open_window(self) -> None:
        """The confirm window starts: only the agents disabled now may be deleted later."""
        self.confirmed = {
            agent_id
            for agent_id in self.adversary.agent_ids
            if (agent := self.adversary.ado.agent(agent_id)) is not None and not agent["enabled"]
        }

    def agent(self, pool_id: int, agent_id: int) -> Agent | None:
        self.adversary.act("GET", agent_id)
        found = self.client.agent(pool_id, agent_id)
        if self.retrying and found is not None and found.enabled:
            self.adversary.ledger.enabled_on_retry += 1
        return found

    def set_agent_enabled(self, pool_id: int, agent_id: int, enabled: bool) -> None:
        self.adversary.act("PATCH", agent_id)
        self.client.set_agent_enabled(pool_id, agent_id, enabled)
        self.confirmed.discard(agent_id)  # enabled, or disabled afresh: no window either way

    def delete_agent(self, pool_id: int, agent_id: int) -> bool:
        self.adversary.act("DELETE", agent_id)
        ledger = self.adversary.ledger
        current = self.adversary.ado.agent(agent_id)
        confirmed = agent_id in self.confirmed and current is not None and not current["enabled"]
        try:
            deleted = self.client.delete_agent(pool_id, agent_id)
        except AdoAgentBusyError:
            ledger.refused_busy += 1
            raise
        if deleted and not confirmed:
            ledger.violations.append(
                f"agent {agent_id} deleted without staying disabled through the confirm window"
            )
        ledger.deleted += int(deleted)
        ledger.retired_after_jobs += int(deleted and self.adversary.jobs_done.get(agent_id, 0) > 0)
        return deleted


class CheckingTasks:
    """ECS double: each agent's task; a stop is checked against the organisation at once."""

    def __init__(self, ado: FakeAdoServer, ledger: Ledger) -> None:
        self.ado = ado
        self.ledger = ledger
        self.tasks: dict[str, AgentTask] = {}

    def add(self, agent_name: str) -> None:
        arn = f"arn:aws:ecs:eu-west-1:123456789012:task/agents/{len(self.tasks):032x}"
        self.tasks[arn] = AgentTask(arn, QUEUE, agent_name, "RUNNING", "RUNNING")

    def tasks_of(self, queue: str) -> list[AgentTask]:
        return [task for task in self.tasks.values() if task.queue == queue]

    def stop_task(self, task_arn: str, reason: str) -> bool:
        task = self.tasks.pop(task_arn)
        agent = self.ado.agent_by_name(POOL, task.agent_name or "")
        if agent is not None:
            self.ledger.violations.append(
                f"task of {task.agent_name} stopped while its agent is registered "
                f"(job: {'assignedRequest' in agent}) - {reason}"
            )
        self.ledger.stopped += 1
        return True


@pytest.fixture
def quick_thread_switches():
    """The fake server shares this process's GIL: hand it over sooner than every 5 ms."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    yield
    sys.setswitchinterval(previous)


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("quick_thread_switches")
def test_no_busy_agent_is_ever_deleted_or_stopped_and_none_stays_disabled():
    rng = random.Random(SEED)
    ledger = Ledger()
    with FakeAdoServer(pat=PAT) as ado:
        pool_id = ado.add_pool(POOL)
        client = AdoClient(ado.base_url, PAT, max_retries=0, connect_timeout=1, read_timeout=2)
        for round_number in range(ROUNDS):
            # GIVEN a few idle agents, each with its task, chosen as surplus
            adversary = Adversary(ado, rng, ledger)
            tasks = CheckingTasks(ado, ledger)
            for index in range(AGENTS_PER_ROUND):
                name = f"adoscale-{QUEUE}-{round_number * 16 + index:012x}"
                adversary.agent_ids.append(ado.register_agent(POOL, name))
                tasks.add(name)
            chosen = rng.sample(adversary.agent_ids, rng.randint(1, AGENTS_PER_ROUND))
            _play_round(ado, client, pool_id, adversary, tasks, chosen, f"round {round_number}")

    # AND the adversary really did race: jobs landed on drained agents, deletes happened
    _assert_it_raced(ledger)


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("quick_thread_switches")
def test_reusable_agents_idle_busy_idle_are_never_deleted_busy_nor_left_disabled():
    rng = random.Random(SEED + 1)
    ledger = Ledger()
    clock = Clock()
    queue = Queue(
        queue=QUEUE,
        pool=POOL,
        max_agents=10,
        idle_timeout_minutes=int(IDLE_TIMEOUT.total_seconds() // 60),
        max_jobs_per_agent=MAX_JOBS,
    )
    with FakeAdoServer(pat=PAT, now=clock) as ado:
        pool_id = ado.add_pool(POOL)
        client = AdoClient(ado.base_url, PAT, max_retries=0, connect_timeout=1, read_timeout=2)
        for round_number in range(ROUNDS):
            # GIVEN reusable agents that already ran some of their jobs (idle -> busy -> idle)
            adversary = Adversary(ado, rng, ledger, max_jobs=MAX_JOBS, clock=clock)
            tasks = CheckingTasks(ado, ledger)
            for index in range(AGENTS_PER_ROUND):
                name = f"adoscale-{QUEUE}-{round_number * 16 + index:012x}"
                agent_id = ado.register_agent(POOL, name)
                adversary.agent_ids.append(agent_id)
                tasks.add(name)
                _run_earlier_jobs(ado, clock, rng, adversary, agent_id)
            clock.advance(rng.uniform(0, 2 * IDLE_TIMEOUT.total_seconds()))
            # AND the surplus chosen by the real counting and policy from what ADO reports
            chosen = _surplus_by_policy(queue, client, pool_id, clock)
            if not chosen:  # nobody idle long enough yet: later, every idle one is surplus
                clock.advance(IDLE_TIMEOUT.total_seconds())
                chosen = _surplus_by_policy(queue, client, pool_id, clock)
            assert chosen, f"round {round_number}: the policy chose no idle agent to retire"
            _play_round(ado, client, pool_id, adversary, tasks, chosen, f"round {round_number}")

    _assert_it_raced(ledger)
    # AND agents really were reused and retired after having run jobs
    assert ledger.reused > ROUNDS / 2
    assert ledger.busy_again > ROUNDS / 4
    assert ledger.retired_after_jobs > ROUNDS / 4


def _run_earlier_jobs(
    ado: FakeAdoServer, clock: Clock, rng: random.Random, adversary: Adversary, agent_id: int
) -> None:
    """Jobs the agent ran before the round: each one queued, taken, run and finished."""
    for _ in range(rng.randint(0, MAX_JOBS - 1)):
        clock.advance(rng.uniform(1, 90))
        job = ado.queue_job(POOL)
        ado.assign_job(job, agent_id)
        ado.start_job(job)
        clock.advance(rng.uniform(30, 240))
        ado.finish_job(job)
        adversary.jobs_done[agent_id] = adversary.jobs_done.get(agent_id, 0) + 1


def _surplus_by_policy(queue: Queue, client: AdoClient, pool_id: int, clock: Clock) -> list[int]:
    """The poller's choice: count the queue from the agents listing, then decide; checked
    against the rule it implements (every idle agent idle past the timeout, none other)."""
    agents = client.agents(pool_id)
    now = clock()
    decision = decide(queue, count_queue(queue, [], [], agents, [], now), now)
    expected = {
        agent.agent_id
        for agent in agents
        if agent.online
        and agent.enabled
        and not agent.busy
        and agent.idle_since is not None
        and agent.idle_since <= now - IDLE_TIMEOUT
    }
    assert set(decision.retire_agent_ids) == expected, (decision, agents)
    assert decision.action == (SCALE_IN if expected else "none")
    return list(decision.retire_agent_ids)


def _play_round(
    ado: FakeAdoServer,
    client: AdoClient,
    pool_id: int,
    adversary: Adversary,
    tasks: CheckingTasks,
    chosen: list[int],
    where: str,
) -> None:
    rng, ledger = adversary.rng, adversary.ledger
    racing = RacingAdo(client, adversary)

    # WHEN drain, a confirm window with the adversary at work, then retire run
    drained: list[dict] = []
    with contextlib.suppress(AdoError):  # drain re-enables what it disabled, then raises
        drained = drain(QUEUE, pool_id, chosen, racing)["drained"]
    racing.open_window()
    for agent_id in adversary.agent_ids:
        adversary.act("WINDOW", agent_id)
    if drained and rng.random() < FORCED_RETRY_SHARE:
        victim = rng.choice(drained)["agent_id"]
        ado.inject(rf"agents/{victim}$", "status_503", times=1, method="GET")
    _retire_with_retries(pool_id, drained, racing, tasks, ledger)
    ado.clear_faults()

    # THEN every agent is enabled, every assigned job still has its agent, and
    # every agent still registered still has its task
    context = f"{where}, seed {SEED}"
    for agent_id in adversary.agent_ids:
        agent = ado.agent(agent_id)
        if agent is None:
            continue
        assert agent["enabled"] is True, f"agent {agent_id} left disabled ({context})"
        assert any(t.agent_name == agent["name"] for t in tasks.tasks.values()), (
            f"agent {agent_id} lost its task ({context})"
        )
    assert ledger.violations == [], context
    _assert_jobs_kept_their_agents(ado, adversary, context)
    _clean_up(ado, adversary)


def _assert_it_raced(ledger: Ledger) -> None:
    assert ledger.jobs_assigned > ROUNDS
    assert ledger.kept_busy > ROUNDS / 5
    assert ledger.deleted > ROUNDS / 4
    assert ledger.refused_busy > ROUNDS / 20
    assert ledger.stopped >= ledger.deleted
    assert ledger.faults > ROUNDS / 20
    # AND retire was retried after failures, meeting agents its failed attempt re-enabled
    assert ledger.retries > ROUNDS / 5
    assert ledger.enabled_on_retry > ROUNDS / 10


def _retire_with_retries(
    pool_id: int, drained: list[dict], racing: RacingAdo, tasks: CheckingTasks, ledger: Ledger
) -> None:
    """Retire, then again while it fails transiently: the Retire state's Retry rule."""
    for attempt in range(1 + RETIRE_RETRY["MaxAttempts"]):
        racing.retrying = attempt > 0
        ledger.retries += int(attempt > 0)
        try:
            outcome = retire(QUEUE, pool_id, drained, racing, tasks)
        except AdoError as error:
            # retire handled every agent, re-enabling those it could not settle
            if type(error).__name__ in RETIRE_RETRY["ErrorEquals"]:
                continue
            return
        org = racing.adversary.ado
        ledger.kept_busy += sum(
            1
            for agent_id in outcome["kept"]
            if (agent := org.agent(agent_id)) is not None and "assignedRequest" in agent
        )
        return


def _assert_jobs_kept_their_agents(ado: FakeAdoServer, adversary: Adversary, context: str) -> None:
    for job in map(ado.job, adversary.jobs):
        if job.get("result") == "abandoned":
            raise AssertionError(f"job {job['requestId']} lost its agent ({context})")
        if "result" in job:
            continue
        agent_id = job["reservedAgent"]["id"]
        assert ado.agent(agent_id) is not None, f"busy agent {agent_id} deleted ({context})"


def _clean_up(ado: FakeAdoServer, adversary: Adversary) -> None:
    for agent_id in adversary.agent_ids:
        agent = ado.agent(agent_id)
        if agent is None:
            continue
        if "assignedRequest" in agent:
            ado.finish_job(agent["assignedRequest"]["requestId"])
        with contextlib.suppress(FakeAdoError):
            ado.remove_agent(agent_id)
