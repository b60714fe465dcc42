"""The poller handler against moto over HTTP and the fake Azure DevOps over HTTP."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from adoscale.aws.store import QueueStore, to_attribute_map
from adoscale.core.exceptions import ConfigError
from adoscale.core.schema import Queue
from adoscale.core.settings import POLLER_REQUIRED, load_settings
from adoscale.handlers import poller as poller_handler
from adoscale.local.ado_server import FakeAdoServer
from adoscale.poller.wiring import build_poller
from tests.support.stack import PollerStack, create_poller_stack

PAT = "pat-0123456789-KNOWN-SECRET-abcdef"


@pytest.fixture
def ado():
    with FakeAdoServer(pat=PAT, parallel_jobs=50) as server:
        yield server


@pytest.fixture
def stack(aws, ado) -> PollerStack:
    return create_poller_stack(PAT, ado.base_url)


def put_queues(stack: PollerStack, *items: dict) -> None:
    dynamodb = stack.client("dynamodb")
    for item in items:
        dynamodb.put_item(TableName="queues", Item=to_attribute_map(item))


def make_poller(stack: PollerStack, **env):
    settings = load_settings({**stack.env, **env}, POLLER_REQUIRED)
    return build_poller(settings, session=stack.session)


def old_agent(ado: FakeAdoServer, pool: str, queue: str, n: int, **kwargs) -> int:
    return ado.register_agent(pool, f"adoscale-{queue}-{n:012x}", **kwargs)


def with_placeholder(ado: FakeAdoServer, pool: str, queue: str) -> None:
    ado.register_agent(pool, f"adoscale-placeholder-{queue}", online=False)


def test_a_cycle_counts_decides_starts_and_publishes(stack, ado):
    # GIVEN three queues: one with waiting jobs, one with surplus idle agents, one quiet
    for pool in ("build", "deploy", "quiet"):
        ado.add_pool(pool)
    put_queues(
        stack,
        {"queue": "build", "pool": "build", "max_agents": 10},
        {"queue": "deploy", "pool": "deploy", "max_agents": 5, "idle_timeout_minutes": 1},
        {"queue": "quiet", "pool": "quiet", "max_agents": 5},
    )
    for queue in ("build", "deploy", "quiet"):
        with_placeholder(ado, queue, queue)
    for _ in range(3):
        ado.queue_job("build")
    ado.now = lambda: datetime.now(UTC) - timedelta(minutes=5)
    old_agent(ado, "deploy", "deploy", 1)
    old_agent(ado, "deploy", "deploy", 2)
    ado.now = lambda: datetime.now(UTC)
    runtime = make_poller(stack)

    # WHEN one cycle runs
    result = runtime.poller.poll().to_result()

    # THEN each queue has its entry in the poller result, and executions start only where
    # action is needed
    assert result["errors"] == []
    assert result["queues"]["build"] == {
        "queued": 3,
        "running": 0,
        "idle": 0,
        "busy": 0,
        "offline": 0,
        "starting": 0,
        "desired": 3,
        "action": "scale_out",
        "count": 3,
        "reap": False,
    }
    assert result["queues"]["deploy"]["action"] == "scale_in"
    assert result["queues"]["deploy"]["count"] == 2
    assert result["queues"]["quiet"]["action"] == "none"
    executions = {e["input"]["queue"]: e for e in stack.executions()}
    assert set(executions) == {"build", "deploy"}
    assert executions["build"]["input"]["action"] == "scale_out"
    assert executions["build"]["input"]["count"] == 3
    assert executions["build"]["name"].startswith("build-scale_out-")
    deploy_ids = {a["id"] for a in ado.agents("deploy") if "placeholder" not in a["name"]}
    assert set(executions["deploy"]["input"]["agent_ids"]) == deploy_ids
    assert stack.metric_values("QueuedJobs", "build") == [3.0]
    assert stack.metric_values("DesiredAgents", "build") == []  # not a per-queue metric
    assert stack.metric_values("BusyAgents", "build") == [0.0]
    assert stack.metric_values("IdleAgents", "deploy") == [2.0]
    assert stack.metric_values("QueuedJobs") == [3.0]
    assert stack.metric_values("AdoApiErrors") == [0.0]
    assert stack.alerts() == []


def test_a_repeated_poll_in_the_same_slot_starts_nothing_twice(stack, ado):
    ado.add_pool("build")
    with_placeholder(ado, "build", "build")
    put_queues(stack, {"queue": "build", "pool": "build", "max_agents": 10})
    ado.queue_job("build")
    slot = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
    runtime = make_poller(stack)  # polls every 20 s by default
    runtime.poller._clock = lambda: slot + timedelta(seconds=3)

    first = runtime.poller.poll()
    runtime.poller._clock = lambda: slot + timedelta(seconds=19)
    second = runtime.poller.poll()
    runtime.poller._clock = lambda: slot + timedelta(seconds=21)
    third = runtime.poller.poll()

    assert first.started == second.already_started == ["build-scale_out-20261127T120000"]
    assert second.started == []
    assert third.started == ["build-scale_out-20261127T120020"]
    assert len(stack.executions()) == 2


def test_request_budget_is_two_per_queue_once_pool_ids_are_cached(stack, ado):
    # GIVEN 20 queues on 20 pools, all healthy and quiet
    for n in range(20):
        ado.add_pool(f"p{n}")
        with_placeholder(ado, f"p{n}", f"q{n}")
        put_queues(stack, {"queue": f"q{n}", "pool": f"p{n}", "max_agents": 3})
    runtime = make_poller(stack)
    runtime.poller.poll()  # warms the pool-id cache: one listing
    assert ado.count("pools") == 1
    ado.reset_log()

    # WHEN the next cycle runs
    report = runtime.poller.poll()

    # THEN exactly one jobrequests and one agents call per pool, nothing else
    assert report.errors == []
    assert ado.counts() == {"jobrequests": 20, "agents": 20}
    assert report.ado_requests == 40


def test_licence_headroom_caps_launches_across_queues(stack, ado):
    ado.parallel_jobs = 3
    for name in ("a", "b"):
        ado.add_pool(name)
        with_placeholder(ado, name, name)
        put_queues(stack, {"queue": name, "pool": name, "max_agents": 10})
    ado.now = lambda: datetime.now(UTC) - timedelta(minutes=10)
    for _ in range(2):
        ado.queue_job("b")  # b's jobs have waited longest: b is served first
    ado.now = lambda: datetime.now(UTC)
    for _ in range(4):
        ado.queue_job("a")

    runtime = make_poller(stack)
    result = runtime.poller.poll().to_result()

    assert (result["queues"]["b"]["count"], result["queues"]["a"]["count"]) == (2, 1)
    assert result["queues"]["a"]["desired"] == 1
    assert ado.count("resourceusage") == 1

    # AND the next cycle, which launches again, reads the headroom once (prefetched
    # alongside the pools), with the same cap
    ado.reset_log()
    runtime.poller._clock = lambda: datetime.now(UTC) + timedelta(minutes=1)
    again = runtime.poller.poll().to_result()
    assert ado.count("resourceusage") == 1
    assert again["queues"]["b"]["count"] + again["queues"]["a"]["count"] <= 3


def test_queues_sharing_a_pool_count_each_job_once(stack, ado):
    ado.add_pool("shared")
    put_queues(
        stack,
        {"queue": "docker", "pool": "shared", "max_agents": 5, "capabilities": {"docker": ""}},
        {"queue": "plain", "pool": "shared", "max_agents": 5, "capabilities": {}},
    )
    with_placeholder(ado, "shared", "docker")
    with_placeholder(ado, "shared", "plain")
    ado.queue_job("shared", ["docker"])
    ado.queue_job("shared", [])
    ado.queue_job("shared", ["maven"])

    result = make_poller(stack).poller.poll().to_result()

    # the demand-less job goes to the most general queue; the maven job to nobody
    assert result["queues"]["docker"]["queued"] == 1
    assert result["queues"]["plain"]["queued"] == 1
    assert ado.count("jobrequests") == 1
    assert ado.count("agents") == 1


def test_an_invalid_item_is_alerted_and_the_others_still_polled(stack, ado):
    ado.add_pool("good")
    with_placeholder(ado, "good", "good")
    ado.queue_job("good")
    put_queues(
        stack,
        {"queue": "good", "pool": "good", "max_agents": 2},
        {"queue": "bad", "pool": "good", "max_agents": 0, "colour": "red"},
    )

    result = make_poller(stack).poller.poll().to_result()

    assert result["queues"]["good"]["action"] == "scale_out"
    assert [(e["queue"], e["kind"]) for e in result["errors"]] == [("bad", "invalid_queue_config")]
    assert "max_agents" in result["errors"][0]["message"]
    assert "colour" in result["errors"][0]["message"]
    alerts = stack.alerts()
    assert [(a["body"]["kind"], a["body"]["queue"]) for a in alerts] == [
        ("invalid_queue_config", "bad")
    ]
    assert alerts[0]["attributes"] == {"kind": "invalid_queue_config", "queue": "bad"}
    assert set(alerts[0]["body"]["detail"]["fields"]) == {"max_agents", "colour"}
    assert stack.metric_values("InvalidQueueConfigs") == [1.0]


FAULTS = [
    ("jobrequests", "status_500", "ado_unavailable"),
    ("jobrequests", "status_503", "ado_unavailable"),
    ("agents", "slow", "ado_unavailable"),
    ("jobrequests", "status_429", "ado_rate_limited"),
    ("agents", "malformed_json", "ado_bad_response"),
    ("jobrequests", "missing_fields", "ado_bad_response"),
    ("agents", "html_200", "ado_auth"),
]


@pytest.mark.parametrize(("target", "mode", "kind"), FAULTS, ids=[f[1] for f in FAULTS])
def test_a_failing_pool_call_is_confined_to_its_queue(stack, ado, target, mode, kind):
    # GIVEN two queues, and Azure DevOps failing for one pool only
    for name in ("ok", "broken"):
        ado.add_pool(name)
        with_placeholder(ado, name, name)
        ado.queue_job(name)
        put_queues(stack, {"queue": name, "pool": name, "max_agents": 2})
    runtime = make_poller(stack)
    runtime.poller.poll(act=False)  # pool ids cached
    broken_id = ado.pool_id("broken")
    ado.inject(rf"/pools/{broken_id}/{target}", mode, delay=2.0, retry_after=30)
    runtime.deadline.reset(lambda: 5.0)  # a 30 s Retry-After does not fit

    # WHEN a cycle runs
    result = runtime.poller.poll().to_result()

    # THEN the healthy queue scaled, the broken one is an error, an alert and a metric
    assert result["queues"]["ok"]["action"] == "scale_out"
    assert "broken" not in result["queues"]
    assert [(e["queue"], e["kind"]) for e in result["errors"]] == [("broken", kind)]
    # a refused PAT concerns the whole organisation: one alert, the queues in its detail
    alert_scope = "-" if kind == "ado_auth" else "broken"
    assert [(a["body"]["kind"], a["body"]["queue"]) for a in stack.alerts()] == [
        (kind, alert_scope)
    ]
    assert stack.metric_values("AdoApiErrors") == [1.0]
    assert [e["input"]["queue"] for e in stack.executions()] == ["ok"]


def test_an_unknown_pool_is_named(stack, ado):
    put_queues(stack, {"queue": "lost", "pool": "no-such-pool", "max_agents": 2})

    result = make_poller(stack).poller.poll().to_result()

    assert [(e["queue"], e["kind"]) for e in result["errors"]] == [("lost", "ado_pool_not_found")]
    assert "no-such-pool" in result["errors"][0]["message"]
    assert stack.alerts()[0]["body"]["kind"] == "ado_pool_not_found"


@pytest.mark.parametrize("auth_failure", ["401", "203"])
def test_a_refused_pat_is_one_alert_for_the_organisation(stack, ado, auth_failure):
    ado.auth_failure = auth_failure
    ado.pat = "the-real-pat-is-different"
    for name in ("a", "b"):
        put_queues(stack, {"queue": name, "pool": name, "max_agents": 2})

    result = make_poller(stack).poller.poll().to_result()

    assert sorted((e["queue"], e["kind"]) for e in result["errors"]) == [
        ("a", "ado_auth"),
        ("b", "ado_auth"),
    ]
    alerts = stack.alerts()
    assert [(a["body"]["kind"], a["body"]["queue"]) for a in alerts] == [("ado_auth", "-")]
    assert alerts[0]["body"]["detail"]["queues"] == ["a", "b"]


def test_the_same_alert_is_not_repeated_within_the_window(stack, ado):
    ado.add_pool("p")
    with_placeholder(ado, "p", "q")
    put_queues(stack, {"queue": "q", "pool": "p", "max_agents": 2})
    ado.inject("jobrequests", "status_500")
    runtime = make_poller(stack)

    for _ in range(3):
        result = runtime.poller.poll().to_result()
        assert [e["kind"] for e in result["errors"]] == ["ado_unavailable"]

    assert len(stack.alerts()) == 1


def test_ecs_failure_blocks_launches_but_not_counting(stack, ado):
    ado.add_pool("p")
    with_placeholder(ado, "p", "q")
    ado.queue_job("p")
    put_queues(stack, {"queue": "q", "pool": "p", "max_agents": 2})
    runtime = make_poller(stack, ADOSCALE_CLUSTER="no-such-cluster")

    result = runtime.poller.poll().to_result()

    assert result["queues"]["q"]["queued"] == 1
    assert result["queues"]["q"]["action"] == "none"
    assert [e["kind"] for e in result["errors"]] == ["ecs_unavailable"]
    assert stack.executions() == []


def test_a_missing_placeholder_starts_a_reap(stack, ado):
    ado.add_pool("p")
    put_queues(stack, {"queue": "q", "pool": "p", "max_agents": 2})

    result = make_poller(stack).poller.poll().to_result()

    assert result["queues"]["q"]["action"] == "none"
    assert result["queues"]["q"]["reap"] is True
    assert [(e["input"]["action"], e["name"][:7]) for e in stack.executions()] == [
        ("reap", "q-reap-")
    ]


def test_the_pat_never_leaves_the_process(stack, ado, caplog):
    # GIVEN faults whose messages could echo the request, and a known PAT
    caplog.set_level(logging.DEBUG)
    for name in ("a", "b", "c"):
        ado.add_pool(name)
        put_queues(stack, {"queue": name, "pool": name, "max_agents": 2})
    ado.inject("agents", "status_500")
    ado.inject("jobrequests", "malformed_json")
    runtime = make_poller(stack)

    # WHEN cycles run, including one with a refused PAT
    outputs = [json.dumps(runtime.poller.poll().to_result())]
    ado.pat = "rotated"
    outputs.append(json.dumps(runtime.poller.poll().to_result()))

    # THEN the PAT appears in no result, alert or log line
    everything = "\n".join(
        [*outputs, *(a["raw"] for a in stack.alerts()), caplog.text, repr(runtime)]
    )
    assert "ado_auth" in everything
    assert PAT not in everything
    import base64

    assert base64.b64encode(f":{PAT}".encode()).decode() not in everything


def test_handler_fails_at_once_naming_a_missing_variable(monkeypatch, stack):
    for variable, value in stack.env.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("ADOSCALE_STATE_MACHINE_ARN")
    poller_handler.handler.reset()

    with pytest.raises(ConfigError, match="ADOSCALE_STATE_MACHINE_ARN"):
        poller_handler.handler({}, None)
    poller_handler.handler.reset()


def test_handler_runs_a_cycle_with_the_lambda_context(monkeypatch, stack, ado):
    ado.add_pool("p")
    with_placeholder(ado, "p", "q")
    QueueStore(stack.client("dynamodb"), "queues").put_all(
        [Queue(queue="q", pool="p", max_agents=1)]
    )
    for variable, value in stack.env.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.setenv("ADOSCALE_POLL_INTERVAL_SECONDS", "60")  # one cycle per invocation
    monkeypatch.setenv("ADOSCALE_POLL_QUIET_INTERVAL_SECONDS", "60")
    poller_handler.handler.reset()

    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 50_000

    result = poller_handler.handler({}, Context())
    poller_handler.handler.reset()

    assert result == {
        "queues": {
            "q": {
                "queued": 0,
                "running": 0,
                "idle": 0,
                "busy": 0,
                "offline": 0,
                "starting": 0,
                "desired": 0,
                "action": "none",
                "count": 0,
                "reap": False,
            }
        },
        "errors": [],
        "cycles": 1,
    }


def test_a_queue_whose_agent_profile_the_stack_lacks_is_an_invalid_item(stack, ado):
    ado.add_pool("p")
    with_placeholder(ado, "p", "q")
    with_placeholder(ado, "p", "big")
    ado.queue_job("p")
    put_queues(
        stack,
        {"queue": "q", "pool": "p", "max_agents": 2},
        {"queue": "big", "pool": "p", "max_agents": 2, "agent_profile": "huge"},
    )
    profiles = json.dumps({"default": "arn:aws:ecs:eu-west-1:123456789012:task-definition/a:1"})

    result = make_poller(stack, ADOSCALE_TASK_DEFINITIONS=profiles).poller.poll().to_result()

    assert set(result["queues"]) == {"q"}
    assert [(e["queue"], e["kind"]) for e in result["errors"]] == [("big", "invalid_queue_config")]
    assert "agent_profile" in result["errors"][0]["message"]
    assert "huge" in result["errors"][0]["message"]
    assert [a["body"]["detail"]["fields"] for a in stack.alerts()] == [
        {"agent_profile": [result["errors"][0]["message"].split(": ", 1)[1]]}
    ]
    assert stack.metric_values("InvalidQueueConfigs") == [1.0]


def test_agents_left_disabled_are_reaped_before_scaling_out(stack, ado):
    # GIVEN a queue with a waiting job and an idle agent a failed scale-in left disabled
    ado.add_pool("p")
    with_placeholder(ado, "p", "q")
    old_agent(ado, "p", "q", 1, enabled=False)
    ado.queue_job("p", ["maven"])  # the disabled agent would not take it anyway
    put_queues(stack, {"queue": "q", "pool": "p", "max_agents": 5})

    # WHEN a cycle runs
    result = make_poller(stack).poller.poll().to_result()

    # THEN the decision is still reported, but the execution started is the reap that
    # re-enables the agent (the next cycle counts it as capacity)
    assert result["queues"]["q"]["action"] == "scale_out"
    assert result["queues"]["q"]["reap"] is True
    assert [e["input"]["action"] for e in stack.executions()] == ["reap"]
