"""Pure counting: jobs, agents and tasks -> what a queue has."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adoscale.core.counting import QueueCounts, assign_waiting_jobs, count_queue
from adoscale.core.naming import execution_name, is_agent_of, parse_execution_name
from adoscale.core.schema import Queue

from .builders import NOW, agent, finished, placeholder, taken, task, waiting

Q = Queue(queue="q", pool="Linux", max_agents=10)


def counts_of(jobs=(), agents=(), tasks=(), queue=Q) -> QueueCounts:
    waiting_jobs = assign_waiting_jobs([queue], jobs)[queue.queue]
    return count_queue(queue, waiting_jobs, list(jobs), list(agents), list(tasks), NOW)


def numbers(c: QueueCounts) -> tuple[int, ...]:
    return (c.queued, c.running, c.idle, c.busy, c.offline, c.starting, c.draining, c.stale)


@pytest.mark.parametrize(
    ("jobs", "agents", "tasks", "expected"),
    [
        ((), (), (), (0, 0, 0, 0, 0, 0, 0, 0)),
        ((waiting(1), waiting(2)), (), (), (2, 0, 0, 0, 0, 0, 0, 0)),
        # a job an agent took counts once, as that agent's work
        ((taken(1, 10),), (agent(10, job=1),), (), (0, 1, 0, 1, 0, 0, 0, 0)),
        # reserved but not yet received: still not waiting, still busy
        ((taken(1, 10, received=False),), (agent(10),), (), (0, 1, 0, 1, 0, 0, 0, 0)),
        # the agent reports the job before the job list does
        ((), (agent(10, job=7),), (), (0, 1, 0, 1, 0, 0, 0, 0)),
        ((finished(1, 10),), (agent(10),), (), (0, 0, 1, 0, 0, 0, 0, 0)),
        ((), (agent(10, online=False),), (), (0, 0, 0, 0, 1, 0, 0, 0)),
        ((), (agent(10, enabled=False),), (), (0, 0, 0, 0, 0, 0, 1, 0)),
        # a disabled agent that already took a job is busy, not draining
        ((taken(1, 10),), (agent(10, enabled=False, job=1),), (), (0, 1, 0, 1, 0, 0, 0, 0)),
        ((), (), (task(1), task(2)), (0, 0, 0, 0, 0, 2, 0, 0)),
        # a task whose agent registered is that agent, not a starting one
        ((), (agent(10, name="adoscale-q-000000001389"),), (task(1),), (0, 0, 1, 0, 0, 0, 0, 0)),
        ((), (), (task(1, status="STOPPING"), task(2, desired="STOPPED")), (0,) * 8),
        ((), (), (task(1, placeholder=True),), (0,) * 8),
        ((), (), (task(1, age_minutes=30),), (0, 0, 0, 0, 0, 0, 0, 1)),
        # the placeholder and other queues' or foreign agents are not ours
        ((), (placeholder(), agent(11, "other"), agent(12, name="vm-agent-1")), (), (0,) * 8),
        # a foreign agent's job is neither waiting nor our running job
        ((taken(1, 12),), (agent(12, name="vm-agent-1", job=1),), (), (0,) * 8),
    ],
    ids=[
        "empty",
        "waiting",
        "taken-counts-once",
        "reserved-not-received",
        "agent-knows-first",
        "finished-agent-idle",
        "offline",
        "disabled-is-draining",
        "disabled-but-busy",
        "starting-tasks",
        "registered-task",
        "stopping-tasks",
        "placeholder-task",
        "stale-task",
        "not-ours",
        "foreign-job",
    ],
)
def test_counts(jobs, agents, tasks, expected):
    assert numbers(counts_of(jobs, agents, tasks)) == expected


def test_oldest_waiting_age_is_of_the_counted_jobs():
    queue = Queue(queue="q", pool="Linux", max_agents=10, capabilities={"docker": ""})
    jobs = [waiting(1, "docker", minutes=3), waiting(2, "maven", minutes=9)]

    counts = counts_of(jobs, queue=queue)

    assert counts.queued == 1
    assert counts.oldest_queued_age_seconds == pytest.approx(180)


def test_placeholder_presence_and_starting():
    assert counts_of(agents=[placeholder()]).placeholder_present
    assert not counts_of(agents=[placeholder(queue="other")]).placeholder_present
    assert counts_of(tasks=[task(1, placeholder=True)]).placeholder_starting
    assert not counts_of(tasks=[task(1, placeholder=True, status="STOPPED")]).placeholder_starting


def test_boot_timeout_separates_starting_from_stale():
    tasks = [task(1, age_minutes=2), task(2, age_minutes=4)]

    counts = count_queue(Q, [], [], [], tasks, NOW, boot_timeout=timedelta(minutes=3))

    assert (counts.starting, counts.stale) == (1, 1)


def test_idle_agents_are_listed_for_the_policy():
    agents = [agent(10), agent(11, job=5), agent(12, enabled=False)]

    counts = counts_of(agents=agents)

    assert [a.agent_id for a in counts.idle_agents] == [10]


@pytest.mark.parametrize(
    ("queues", "demands", "owner"),
    [
        ((("a", None), ("b", None)), (), "a"),
        ((("a", {"docker": ""}), ("b", None)), ("maven",), "b"),
        ((("a", {"docker": ""}), ("b", {})), (), "b"),
        ((("a", {"docker": ""}), ("b", {"maven": ""})), ("maven",), "b"),
        ((("a", {"docker": ""}), ("b", {"maven": ""})), ("gradle",), None),
        ((("b", {}), ("a", {})), (), "a"),
    ],
    ids=[
        "first-by-name",
        "unmet-skipped",
        "most-general-first",
        "specific",
        "nobody",
        "sorted-by-name",
    ],
)
def test_a_waiting_job_of_a_shared_pool_counts_for_one_queue(queues, demands, owner):
    defined = [Queue(queue=n, pool="shared", max_agents=5, capabilities=c) for n, c in queues]

    assigned = assign_waiting_jobs(defined, [waiting(1, *demands)])

    assert {n: [j.request_id for j in jobs] for n, jobs in assigned.items() if jobs} == (
        {owner: [1]} if owner else {}
    )


def test_disabled_queues_take_no_waiting_jobs():
    queues = [
        Queue(queue="a", pool="p", max_agents=5, enabled=False),
        Queue(queue="b", pool="p", max_agents=5),
    ]

    assigned = assign_waiting_jobs(queues, [waiting(1)])

    assert (len(assigned["a"]), len(assigned["b"])) == (0, 1)


@pytest.mark.parametrize(
    ("name", "queue", "ours"),
    [
        ("adoscale-linux-0123456789ab", "linux", True),
        ("adoscale-linux-0123456789ab", "lin", False),
        ("adoscale-linux-x-0123456789ab", "linux", False),
        ("adoscale-linux-0123456789", "linux", False),
        ("adoscale-placeholder-linux", "linux", False),
        # a placeholder of a queue whose name is 12 hex digits is never another's agent
        ("adoscale-placeholder-0123456789ab", "placeholder", False),
    ],
    ids=["ours", "prefix-of-another", "longer-queue", "short-suffix", "placeholder", "hex-queue"],
)
def test_agent_names_belong_to_exactly_one_queue(name, queue, ours):
    assert is_agent_of(name, queue) is ours


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("linux-scale_out-20261127T120020", ("linux", "scale_out")),
        ("my-queue-reap-20261127T120000", ("my-queue", "reap")),
        ("linux-scale_in-20261127T1200", None),
        ("linux-grow-20261127T120000", None),
        ("3f2a-uuid", None),
    ],
    ids=["scale-out", "dashed-queue", "old-minute-format", "unknown-action", "foreign"],
)
def test_execution_names_parse_back(name, parsed):
    assert parse_execution_name(name) == parsed
    if parsed:
        when = datetime.strptime(name.rsplit("-", 1)[1], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        assert execution_name(*parsed, when) == name
