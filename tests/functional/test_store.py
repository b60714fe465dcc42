"""The queue table adapter against moto's DynamoDB (in process)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from adoscale.aws.store import QueueStore, to_attribute_map
from adoscale.core.exceptions import QueueConfigError
from adoscale.core.schema import Queue
from tests.support.stack import create_table

TABLE = "adoscale-queues"


@pytest.fixture
def dynamodb():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        create_table(client, TABLE)
        yield client


def put_raw(dynamodb, item):
    dynamodb.put_item(TableName=TABLE, Item=to_attribute_map(item))


def test_scan_returns_valid_queues_and_one_error_per_bad_item(dynamodb):
    # GIVEN 150 valid items and two broken ones
    for n in range(150):
        put_raw(dynamodb, {"queue": f"q{n:03d}", "pool": "Linux", "max_agents": 3})
    put_raw(dynamodb, {"queue": "broken", "pool": "Linux", "max_agents": 0})
    put_raw(dynamodb, {"queue": "typo", "pool": "Linux", "max_agents": 2, "max_agent": 3})

    # WHEN the table is scanned
    result = QueueStore(dynamodb, TABLE).scan()

    # THEN every valid queue is there, sorted, and each bad one is named with its field
    assert [q.queue for q in result.queues] == [f"q{n:03d}" for n in range(150)]
    errors = {error.queue: set(error.errors) for error in result.errors}
    assert errors == {"broken": {"max_agents"}, "typo": {"max_agent"}}


def test_scan_follows_pagination(dynamodb):
    big = "x" * 200_000
    for n in range(12):  # about 2.4 MB: DynamoDB pages at 1 MB
        put_raw(dynamodb, {"queue": f"q{n}", "pool": big[:256], "max_agents": 1, "pad": big})
    store = QueueStore(dynamodb, TABLE)

    pages = list(dynamodb.get_paginator("scan").paginate(TableName=TABLE))
    result = store.scan()

    assert len(pages) > 1
    assert len(result.errors) == 12  # every item has the unknown attribute "pad"
    assert all("pad" in error.errors for error in result.errors)


def test_put_get_delete_round_trip(dynamodb):
    store = QueueStore(dynamodb, TABLE)
    queue = Queue(queue="linux", pool="Linux", max_agents=4, capabilities={"docker": ""})

    store.put_all([queue])

    assert store.get("linux") == queue
    assert store.delete("linux") is True
    assert store.get("linux") is None
    assert store.delete("linux") is False


def test_get_of_an_invalid_item_names_the_field(dynamodb):
    put_raw(dynamodb, {"queue": "bad", "pool": "Linux", "max_agents": 5000})

    with pytest.raises(QueueConfigError) as caught:
        QueueStore(dynamodb, TABLE).get("bad")

    assert list(caught.value.errors) == ["max_agents"]


def test_put_all_refuses_duplicates_and_writes_nothing(dynamodb):
    store = QueueStore(dynamodb, TABLE)
    queues = [Queue(queue="a", pool="p", max_agents=1), Queue(queue="a", pool="p", max_agents=2)]

    with pytest.raises(QueueConfigError, match="given twice: a"):
        store.put_all(queues)

    assert store.scan().queues == []


def test_put_all_undoes_earlier_chunks_when_a_later_one_fails(dynamodb):
    # GIVEN an existing queue and a batch of 150 (two transactions) whose second fails
    store = QueueStore(dynamodb, TABLE)
    original = Queue(queue="q000", pool="Old", max_agents=1)
    store.put_all([original])
    batch = [Queue(queue=f"q{n:03d}", pool="New", max_agents=2) for n in range(150)]
    calls = {"n": 0}

    def fail_second_transaction(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("throttled")

    events = dynamodb.meta.events
    events.register("before-call.dynamodb.TransactWriteItems", fail_second_transaction)

    # WHEN the batch is written
    with pytest.raises(RuntimeError, match="throttled"):
        store.put_all(batch)

    # THEN the table is as before: the first chunk was rolled back
    assert store.scan().queues == [original]


def failing(dynamodb, operation, decide):
    """Make ``operation`` calls raise a ClientError whenever ``decide(params)`` is true."""
    from botocore.exceptions import ClientError

    def maybe_fail(params, **_kwargs):
        if decide(params):
            raise ClientError(
                {"Error": {"Code": "InternalServerError", "Message": "boom"}}, operation
            )

    dynamodb.meta.events.register(f"provide-client-params.dynamodb.{operation}", maybe_fail)


def test_a_failed_undo_is_retried_then_reported_with_both_errors_and_the_items_left(dynamodb):
    # GIVEN 150 new queues (two transactions); the second fails, and undoing two of the
    # first hundred keeps failing while one other fails only once (a retry fixes it)
    from adoscale.core.exceptions import PartialWriteError

    store = QueueStore(dynamodb, TABLE, sleep=lambda _seconds: None)
    batch = [Queue(queue=f"q{n:03d}", pool="New", max_agents=2) for n in range(150)]
    transactions = {"n": 0}

    def second_transaction(_params):
        transactions["n"] += 1
        return transactions["n"] == 2

    attempts: dict[str, int] = {}

    def undo_fails(params):
        name = params["Key"]["queue"]["S"]
        attempts[name] = attempts.get(name, 0) + 1
        return name in ("q007", "q042") or (name == "q010" and attempts[name] == 1)

    failing(dynamodb, "TransactWriteItems", second_transaction)
    failing(dynamodb, "DeleteItem", undo_fails)

    # WHEN the batch is written
    with pytest.raises(PartialWriteError) as caught:
        store.put_all(batch)

    # THEN both errors are kept, and exactly the items still written are named
    error = caught.value
    assert "TransactWriteItems" in str(error.original)
    assert "DeleteItem" in str(error.undo_error)
    assert error.left_written == ["q007", "q042"]
    assert attempts["q007"] == 3
    assert attempts["q010"] == 2
    assert sorted(q.queue for q in store.scan().queues) == ["q007", "q042"]


def test_a_binary_or_unknown_attribute_type_is_one_invalid_item(dynamodb):
    # GIVEN a valid queue and items holding types a queue item never has, at any depth
    put_raw(dynamodb, {"queue": "good", "pool": "Linux", "max_agents": 3})
    odd = {
        "bin": {"pool": {"B": b"\x00\xffLinux"}},
        "binset": {"capabilities": {"BS": [b"a", b"b"]}},
        "nested": {"capabilities": {"M": {"docker": {"B": b"x"}}}},
        "strset": {"pool": {"SS": ["a", "b"]}},
        "numset": {"max_agents": {"NS": ["1", "2"]}},
        "null": {"spot": {"NULL": True}},
        "list": {"standby_schedule": {"L": [{"M": {"days": {"B": b"mon"}}}]}},
    }
    paths = {"nested": "capabilities.docker", "list": "standby_schedule[0].days"}
    base = {"pool": {"S": "Linux"}, "max_agents": {"N": "2"}}
    for name, attributes in odd.items():
        dynamodb.put_item(TableName=TABLE, Item={**base, "queue": {"S": name}, **attributes})

    # WHEN the table is scanned
    result = QueueStore(dynamodb, TABLE).scan()

    # THEN the valid queue is read and every odd item is named with its attribute
    assert [q.queue for q in result.queues] == ["good"]
    errors = {error.queue: error.errors for error in result.errors}
    assert set(errors) == set(odd)
    for name, attributes in odd.items():
        path = paths.get(name, next(iter(attributes)))
        assert any("DynamoDB type" in m for m in errors[name][path]), errors[name]
        assert "Missing data" not in str(errors[name])
    with pytest.raises(QueueConfigError):
        QueueStore(dynamodb, TABLE).get("bin")
