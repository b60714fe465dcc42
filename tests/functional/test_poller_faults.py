"""The poller when the stack's own resources fail: the queue table (missing, throttled,
unreachable), the state table (missing) and the alert topic (missing), each met on a
container's first cycle and on a warm container. Every cell checks the poller result's
error kind, at most one alert per kind within the dedupe window, that the queues whose
data is reachable keep scaling, and that the next cycle after the fault recovers on its
own. AWS is moto over HTTP; throttling and unreachability are injected at botocore's
call boundary (moto has neither), the missing resources are really deleted."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from adoscale.aws.store import to_attribute_map
from adoscale.core.faults import KINDS
from adoscale.core.settings import POLLER_REQUIRED, load_settings
from adoscale.local.ado_server import FakeAdoServer
from adoscale.poller.wiring import PollerRuntime, build_poller
from tests.support.stack import PollerStack, create_poller_stack

PAT = "pat-faults-0123456789-abcdef"
QUEUE_KEY = [{"AttributeName": "queue", "KeyType": "HASH"}]
STATE_KEY = [{"AttributeName": "pk", "KeyType": "HASH"}]
BUILD = {"queue": "build", "pool": "build", "max_agents": 10}
BROKEN = {"queue": "broken", "pool": "build", "max_agents": 0}  # invalid: an alert is due


@pytest.fixture
def ado():
    with FakeAdoServer(pat=PAT, parallel_jobs=50) as server:
        server.add_pool("build")
        server.register_agent("build", "adoscale-placeholder-build", online=False)
        for _ in range(2):
            server.queue_job("build")
        yield server


@pytest.fixture
def stack(aws, ado) -> PollerStack:
    built = create_poller_stack(PAT, ado.base_url)
    put_items(built, BUILD)
    return built


def put_items(stack: PollerStack, *items: dict) -> None:
    for item in items:
        stack.client("dynamodb").put_item(TableName="queues", Item=to_attribute_map(item))


def create_table(stack: PollerStack, name: str, key: list[dict[str, str]]) -> None:
    attribute = key[0]["AttributeName"]
    stack.client("dynamodb").create_table(
        TableName=name,
        KeySchema=key,
        AttributeDefinitions=[{"AttributeName": attribute, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def inject(runtime: PollerRuntime, event: str, error: Exception) -> Callable[[], None]:
    """Every call of the poller's DynamoDB client matching ``event`` raises ``error``;
    the returned function lifts the fault."""
    events = runtime.poller._store._dynamodb.meta.events

    def fail(**_kwargs):
        raise error

    events.register(event, fail)
    return lambda: events.unregister(event, fail)


# ---- the faults: each breaks the stack and returns how to repair it -------------------


def queue_table_missing(stack: PollerStack, _runtime: PollerRuntime) -> Callable[[], None]:
    stack.client("dynamodb").delete_table(TableName="queues")

    def repair() -> None:
        create_table(stack, "queues", QUEUE_KEY)
        put_items(stack, BUILD, BROKEN)

    return repair


def queue_table_throttled(_stack: PollerStack, runtime: PollerRuntime) -> Callable[[], None]:
    error = ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
        "Scan",
    )
    return inject(runtime, "before-call.dynamodb.Scan", error)


def dynamodb_unreachable(_stack: PollerStack, runtime: PollerRuntime) -> Callable[[], None]:
    """DynamoDB as a whole: the queue table and the state table's dedupe marks."""
    error = EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com")
    return inject(runtime, "before-call.dynamodb", error)


def state_table_missing(stack: PollerStack, _runtime: PollerRuntime) -> Callable[[], None]:
    stack.client("dynamodb").delete_table(TableName="state")
    return lambda: create_table(stack, "state", STATE_KEY)


def alert_topic_missing(stack: PollerStack, _runtime: PollerRuntime) -> Callable[[], None]:
    sns, sqs = stack.client("sns"), stack.client("sqs")
    topic = stack.env["ADOSCALE_ALERT_TOPIC_ARN"]
    sns.delete_topic(TopicArn=topic)

    def repair() -> None:
        assert sns.create_topic(Name="alerts")["TopicArn"] == topic
        queue_arn = sqs.get_queue_attributes(
            QueueUrl=stack.alert_queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    return repair


@dataclass(frozen=True)
class Fault:
    name: str
    breaks: Callable[[PollerStack, PollerRuntime], Callable[[], None]]
    kind: str
    build_scales_when_warm: bool  # whether "build" keeps scaling in a warm container
    build_scales_when_cold: bool
    alert_delivered: bool  # whether SNS still carries the fault's own alert


FAULTS = [
    Fault("queue-table-missing", queue_table_missing, "queue_table_missing", False, False, True),
    Fault(
        "queue-table-throttled", queue_table_throttled, "queue_table_throttled", True, False, True
    ),
    Fault(
        "dynamodb-unreachable", dynamodb_unreachable, "queue_table_unavailable", True, False, True
    ),
    Fault("state-table-missing", state_table_missing, "state_table_missing", True, True, True),
    Fault("alert-topic-missing", alert_topic_missing, "alert_topic_missing", True, True, False),
]


@pytest.mark.parametrize("warm", [False, True], ids=["first-cycle", "warm-container"])
@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault_is_reported_alerted_once_confined_and_recovered(stack, fault, warm, caplog):
    runtime = build_poller(load_settings(stack.env, POLLER_REQUIRED), session=stack.session)
    if warm:
        # GIVEN a container that already ran a healthy cycle
        healthy = runtime.poller.poll().to_result()
        assert healthy["queues"]["build"]["action"] == "scale_out"
        assert healthy["errors"] == []
    caplog.set_level(logging.INFO)

    # WHEN an item turns invalid (an alert is due) as the fault strikes, for two cycles
    put_items(stack, BROKEN)
    repair = fault.breaks(stack, runtime)
    during = [runtime.poller.poll() for _ in range(2)]

    # THEN each cycle's result names the fault by its kind, and nothing raised
    for report in during:
        kinds = {e.kind for e in report.errors}
        assert fault.kind in kinds, report.errors
        assert kinds <= {fault.kind, "invalid_queue_config", *KINDS}, kinds
    # ... the queues whose data is reachable keep scaling, the others are not guessed at
    build_scales = fault.build_scales_when_warm if warm else fault.build_scales_when_cold
    for report in during:
        if build_scales:
            assert report.outcomes["build"].decision.action == "scale_out"
        else:
            assert report.outcomes == {}
    # ... at most one alert per (kind, queue) in the window, and the fault's own alert
    # goes out whenever SNS can carry it
    alerts = Counter((a["body"]["kind"], a["body"]["queue"]) for a in stack.alerts())
    assert all(count == 1 for count in alerts.values()), alerts
    if fault.alert_delivered:
        assert alerts[(fault.kind, "-")] == 1, alerts
    else:
        assert alerts == Counter()
        not_sent = [r for r in caplog.records if r.getMessage().startswith("ALERT NOT SENT")]
        assert any("invalid_queue_config" in r.getMessage() for r in not_sent)
        assert sum(stack.metric_values("AlertsNotSent")) >= 2

    # WHEN the fault is repaired
    repair()
    after = runtime.poller.poll().to_result()

    # THEN the next cycle is healthy again on its own, and scales
    assert {e["kind"] for e in after["errors"]} == {"invalid_queue_config"}, after["errors"]
    assert after["queues"]["build"]["action"] == "scale_out"
    if not fault.alert_delivered:  # the alert SNS refused is sent once it can be
        kinds = [a["body"]["kind"] for a in stack.alerts()]
        assert kinds.count("invalid_queue_config") == 1, kinds


def test_a_cycle_that_meets_an_unforeseen_error_returns_a_result(stack, monkeypatch):
    runtime = build_poller(load_settings(stack.env, POLLER_REQUIRED), session=stack.session)

    def broken(*_args, **_kwargs):
        raise ZeroDivisionError("a bug")

    with monkeypatch.context() as patched:
        patched.setattr("adoscale.poller.poll.assign_waiting_jobs", broken)
        first = runtime.poller.poll().to_result()
        second = runtime.poller.poll().to_result()
    third = runtime.poller.poll().to_result()

    assert [e["kind"] for e in first["errors"]] == ["internal_error"]
    assert "a bug" in first["errors"][0]["message"]
    assert second["errors"] == first["errors"]
    kinds = [a["body"]["kind"] for a in stack.alerts()]
    assert kinds.count("internal_error") == 1
    assert third["queues"]["build"]["action"] == "scale_out"
