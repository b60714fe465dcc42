"""Organisations polled as shards: one organisation's rate limit slows only it, and the
sharded cycle decides exactly what the one-pipeline cycle decides."""

from __future__ import annotations

import json
import random
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import pytest

from adoscale.aws.store import to_attribute_map
from adoscale.core.settings import POLLER_REQUIRED, load_settings
from adoscale.local.ado_server import FakeAdoServer
from adoscale.poller.wiring import build_poller
from tests.support.stack import PollerStack, allow_organizations, create_poller_stack

PAT = "pat-0123456789-SHARDS-abcdef"
LOW = {"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "10", "X-RateLimit-Resource": "ATCPU"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def put_queue(stack: PollerStack, name: str, org: FakeAdoServer, **extra: object) -> None:
    """A queue of ``org``: the stack's own organisation, or one of its allow-list by name
    (a queue item names a listed organisation; plain-HTTP test servers have no https URL)."""
    item: dict[str, object] = {"queue": name, "pool": name, "max_agents": 5}
    listed = json.loads(stack.env.get("ADOSCALE_ORGANIZATIONS", "[]"))
    names = {entry["url"]: entry["name"] for entry in listed}
    if org.base_url != stack.env["ADOSCALE_ORG_URL"]:
        item["organization_url"] = names[org.base_url]
    stack.client("dynamodb").put_item(TableName="queues", Item=to_attribute_map(item | extra))


def poller(stack: PollerStack, clock: Clock | None = None, *, sharded: bool = True):
    settings = load_settings(stack.env, POLLER_REQUIRED)
    return build_poller(settings, session=stack.session, clock=clock, sharded=sharded).poller


def test_a_low_rate_limit_budget_slows_only_its_organisation(aws):
    with ExitStack() as servers:
        orgs = [
            servers.enter_context(FakeAdoServer(pat=PAT, org=f"org{n}", parallel_jobs=50))
            for n in range(3)
        ]
        stack = create_poller_stack(PAT, orgs[0].base_url)
        allow_organizations(stack, [org.base_url for org in orgs[1:]], PAT)
        for n, org in enumerate(orgs):
            for k in range(2):
                name = f"o{n}q{k}"
                org.add_pool(name)
                org.queue_job(name)
                put_queue(stack, name, org)
        throttled = orgs[1]
        throttled.rate_limit_headers = LOW
        clock = Clock()
        first = poller(stack, clock)

        # WHEN the first cycle sees organisation 1 with 10 of 200 left
        result = first.poll().to_result()
        # THEN every organisation was polled, and one alert names organisation 1
        assert sorted(result["queues"]) == ["o0q0", "o0q1", "o1q0", "o1q1", "o2q0", "o2q1"]
        alerts = [a["body"] for a in stack.alerts()]
        assert [(a["kind"], a["detail"]["organization"]) for a in alerts] == [
            ("ado_rate_limited", throttled.base_url)
        ]
        assert alerts[0]["detail"]["interval_seconds"] > 20
        before = {org.org: len(org.requests) for org in orgs}

        # WHEN the next cycles run at the stack's pace (20 s), even from a cold start
        clock.advance(20)
        second = first.poll().to_result()
        clock.advance(20)
        cold = poller(stack, clock).poll().to_result()
        # THEN the others are polled every time and organisation 1 is left alone
        for polled in (second, cold):
            assert sorted(polled["queues"]) == ["o0q0", "o0q1", "o2q0", "o2q1"]
        after = {org.org: len(org.requests) for org in orgs}
        assert after["org1"] == before["org1"]
        assert after["org0"] > before["org0"]
        assert after["org2"] > before["org2"]

        # WHEN its pace has passed and the budget is still low: polled, not alerted again
        clock.advance(300)
        later = first.poll().to_result()
        assert "o1q0" in later["queues"]
        assert len(stack.alerts()) == 0  # read above; nothing new since

        # WHEN the service stops warning: back to the stack's pace
        throttled.rate_limit_headers = None
        clock.advance(300)
        assert "o1q0" in first.poll().to_result()["queues"]
        clock.advance(20)
        assert "o1q0" in first.poll().to_result()["queues"]


def random_world(rng: random.Random, servers: ExitStack, stack_factory) -> PollerStack:
    """2-4 organisations (one with a PAT it refuses), queues with jobs, agents, demands."""
    orgs = []
    for n in range(rng.randint(2, 4)):
        pat = PAT if n == 0 or rng.random() > 0.25 else "another-pat-0123456789"
        orgs.append(servers.enter_context(FakeAdoServer(pat=pat, org=f"org{n}", parallel_jobs=50)))
    stack = stack_factory(orgs[0].base_url)
    allow_organizations(stack, [org.base_url for org in orgs[1:]], PAT)
    now = datetime.now(UTC)
    for n in range(rng.randint(3, 14)):
        org = rng.choice(orgs)
        name = f"q{n}"
        pool = name if rng.random() > 0.3 or not org.pools() else rng.choice(org.pools())["name"]
        if pool == name:
            org.add_pool(name)
        for _ in range(rng.randint(0, 3)):
            org.queue_job(pool, ["docker"] if rng.random() < 0.3 else [])
        for k in range(rng.randint(0, 3)):
            born = now - timedelta(seconds=rng.randint(0, 7200))
            org.now = lambda born=born: born
            agent = org.register_agent(pool, f"adoscale-{name}-{n * 10 + k:012x}")
            org.now = lambda: datetime.now(UTC)
            if rng.random() < 0.4:
                org.assign_job(org.queue_job(pool), agent)
        extra = {"capabilities": {"docker": ""}} if rng.random() < 0.3 else {}
        put_queue(stack, name, org, standby_agents=rng.randint(0, 1), **extra)
    return stack


@pytest.mark.parametrize("seed", range(6), ids=lambda s: f"seed{s}")
def test_the_sharded_poll_decides_what_the_single_pipeline_decides(aws, seed):
    rng = random.Random(seed)
    with ExitStack() as servers:
        stack = random_world(rng, servers, lambda url: create_poller_stack(PAT, url))
        # generous timeouts: a request retried after a timeout on a loaded machine would
        # count twice in one run and not the other
        stack.env["ADOSCALE_ADO_READ_TIMEOUT"] = "10"
        stack.env["ADOSCALE_ADO_CONNECT_TIMEOUT"] = "10"
        clock = Clock()
        clock.now = datetime.now(UTC)
        # act=False: nothing is started or published, so both see the same world
        sharded_report = poller(stack, clock).poll(act=False)
        single_report = poller(stack, clock, sharded=False).poll(act=False)
    sharded, single = sharded_report.to_result(), single_report.to_result()
    # the same requests (each shard fetches its own pools, once) and the same answer
    assert sharded_report.ado_requests == single_report.ado_requests
    assert sharded["queues"] == single["queues"]
    assert sorted(map(str, sharded["errors"])) == sorted(map(str, single["errors"]))
    assert sharded["queues"] or sharded["errors"]


def test_only_queues_active_within_the_hour_publish_per_queue_metrics(aws):
    with FakeAdoServer(pat=PAT, parallel_jobs=50) as org:
        stack = create_poller_stack(PAT, org.base_url)
        for name in ("busy", "quiet"):
            org.add_pool(name)
            put_queue(stack, name, org)
        job = org.queue_job("busy")
        clock = Clock()
        clock.now = datetime.now(UTC).replace(microsecond=0)
        cycles = poller(stack, clock)
        cycles.poll()
        # the job ends: "busy" is quiet from now on, and publishes for one more hour
        org.finish_job(job)
        clock.advance(59 * 60)
        cycles.poll()
        clock.advance(2 * 60)
        cycles.poll()
    assert stack.metric_values("QueuedJobs", "busy") == [1.0, 0.0]
    assert stack.metric_values("QueuedJobs", "quiet") == []
    assert stack.metric_values("IdleAgents", "quiet") == []
    assert stack.metric_values("QueuedJobs") == [1.0, 0.0, 0.0]  # totals every cycle
