"""The per-queue lease in the state table, against moto's DynamoDB (in process)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from moto import mock_aws

from adoscale.aws.lease import QueueLease
from adoscale.aws.store import QueueStore, to_attribute_map
from adoscale.core.exceptions import WorkflowInputError
from adoscale.workflow.admission import release, validate
from tests.support.workflow import session_for_tests

FIRST = "arn:aws:states:eu-west-1:123456789012:execution:scaling:first"
SECOND = "arn:aws:states:eu-west-1:123456789012:execution:scaling:second"
THIRD = "arn:aws:states:eu-west-1:123456789012:execution:scaling:third"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def lease_and_clock(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = session_for_tests().client("dynamodb")
        for table, key in (("state", "pk"), ("queues", "queue")):
            dynamodb.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        clock = Clock()
        yield QueueLease(dynamodb, "state", clock=clock), clock, dynamodb


@pytest.fixture
def admission(lease_and_clock):
    """validate and release as the state machine calls them, for a queue ``build``."""
    lease, clock, dynamodb = lease_and_clock
    item = {"queue": "build", "pool": "linux", "max_agents": 5}
    dynamodb.put_item(TableName="queues", Item=to_attribute_map(item))
    store = QueueStore(dynamodb, "queues")

    def admit(execution: str, action: str, decided_at: float | str) -> dict:
        return validate(state(action, decided_at), execution, store, lease, 600)

    def give_back(execution: str, action: str) -> dict:
        return release(state(action, clock.now), execution, lease)

    return admit, give_back, clock, dynamodb


def state(action: str, decided_at: float | str) -> dict:
    """The execution input the poller builds, decided (``requested_at``) at an epoch time."""
    requested_at = (
        decided_at
        if isinstance(decided_at, str)
        else datetime.fromtimestamp(decided_at, UTC).isoformat().replace("+00:00", "Z")
    )
    return {
        "queue": "build",
        "action": action,
        "count": 2 if action == "scale_out" else 0,
        "pool_id": 1,
        "requested_at": requested_at,
        "agent_ids": [],
    }


def lease_item(dynamodb) -> dict | None:
    return dynamodb.get_item(
        TableName="state", Key={"pk": {"S": "lease#build"}}, ConsistentRead=True
    ).get("Item")


def test_one_execution_at_a_time_per_queue(lease_and_clock):
    lease, _clock, dynamodb = lease_and_clock

    first = lease.acquire("build", FIRST, 600, "scale_out")
    second = lease.acquire("build", SECOND, 600, "scale_in")
    other_queue = lease.acquire("deploy", SECOND, 600, "scale_in")

    assert first.acquired is True
    assert second.acquired is False
    assert second.holder == FIRST
    assert second.expires_at == first.expires_at
    assert other_queue.acquired is True
    item = dynamodb.get_item(TableName="state", Key={"pk": {"S": "lease#build"}})["Item"]
    assert item["owner"]["S"] == FIRST
    assert item["action"]["S"] == "scale_out"
    assert int(item["expires_at"]["N"]) == 1_800_000_600


def test_the_same_execution_may_take_it_again_after_a_retry(lease_and_clock):
    lease, clock, _ = lease_and_clock
    lease.acquire("build", FIRST, 600)
    clock.now += 30

    again = lease.acquire("build", FIRST, 600)

    assert again.acquired is True
    assert again.expires_at == int(clock.now) + 600


def test_an_expired_lease_is_free_even_before_ttl_deletes_it(lease_and_clock):
    lease, clock, _ = lease_and_clock
    lease.acquire("build", FIRST, 600)
    clock.now += 601

    taken = lease.acquire("build", SECOND, 600)

    assert taken.acquired is True
    assert lease.release("build", FIRST) is False  # no longer the first one's to release
    assert lease.acquire("build", FIRST, 600).holder == SECOND


def test_release_only_by_the_holder(lease_and_clock):
    lease, _clock, _ = lease_and_clock
    lease.acquire("build", FIRST, 600)

    assert lease.release("build", SECOND) is False
    assert lease.acquire("build", SECOND, 600).acquired is False
    assert lease.release("build", FIRST) is True
    assert lease.release("build", FIRST) is False
    assert lease.acquire("build", SECOND, 600).acquired is True


def test_a_scale_out_decided_before_the_last_launch_finished_is_skipped(admission):
    admit, give_back, clock, _dynamodb = admission
    # GIVEN no lease item (no launch yet): a scale_out proceeds, launches, and gives the
    # lease back 30 s after it was decided
    decided = clock.now
    assert admit(FIRST, "scale_out", decided)["proceed"] is True
    clock.now += 30
    launch_end = clock.now
    assert give_back(FIRST, "scale_out") == {"released": True}

    # WHEN a poll cycle that counted before that launch ended starts a second scale_out
    clock.now += 2
    stale = admit(SECOND, "scale_out", launch_end - 0.5)

    # THEN it is skipped without the lease: its count did not see the new tasks
    assert stale["proceed"] is False
    assert stale["reason"] == "stale: decided before the last launch finished"
    assert admit(THIRD, "scale_in", decided)["proceed"] is True  # the lease stayed free
    assert give_back(THIRD, "scale_in") == {"released": True}
    # AND a scale_out decided after the launch ended proceeds
    assert admit(SECOND, "scale_out", launch_end + 0.5)["proceed"] is True


def test_the_launch_end_outlives_repeated_releases_and_other_actions(admission):
    admit, give_back, clock, dynamodb = admission
    admit(FIRST, "scale_out", clock.now)
    expires_at = lease_item(dynamodb)["expires_at"]
    clock.now += 20
    launch_end = clock.now

    # WHEN the scale_out gives its lease back twice (a retried release), then a reap and a
    # scale_in decided long before take and give back the lease in turn
    assert give_back(FIRST, "scale_out") == {"released": True}
    assert give_back(FIRST, "scale_out") == {"released": False}
    item = lease_item(dynamodb)
    for execution, action in ((SECOND, "reap"), (THIRD, "scale_in")):
        clock.now += 5
        assert admit(execution, action, launch_end - 60)["proceed"] is True
        assert give_back(execution, action) == {"released": True}

    # THEN the item carried the launch end (and its TTL) but no owner, and still does:
    # a scale_out decided before that launch ended is skipped
    assert "owner" not in item
    assert float(item["last_launch_end"]["N"]) == launch_end
    assert item["expires_at"] == expires_at
    assert float(lease_item(dynamodb)["last_launch_end"]["N"]) == launch_end
    assert "owner" not in lease_item(dynamodb)
    assert admit(FIRST, "scale_out", launch_end - 1)["reason"].startswith("stale")


def test_a_scale_out_without_a_readable_decision_time_is_refused_by_name(admission):
    admit, _give_back, _clock, _dynamodb = admission

    with pytest.raises(WorkflowInputError, match="requested_at"):
        admit(FIRST, "scale_out", "yesterday")
