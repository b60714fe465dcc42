"""The per-queue lease in the state table, against moto's DynamoDB (in process)."""

from __future__ import annotations

import pytest
from moto import mock_aws

from adoscale.workflow.lease import QueueLease
from tests.support.workflow import session_for_tests

FIRST = "arn:aws:states:eu-west-1:123456789012:execution:scaling:first"
SECOND = "arn:aws:states:eu-west-1:123456789012:execution:scaling:second"


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
        dynamodb.create_table(
            TableName="state",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        clock = Clock()
        yield QueueLease(dynamodb, "state", clock=clock), clock, dynamodb


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
