"""The queue item schema."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adoscale.core.exceptions import QueueConfigError
from adoscale.core.schema import Queue, parse_queue

VALID = {"queue": "linux-docker", "pool": "Linux", "max_agents": 10}


def test_minimal_item_gets_the_documented_defaults():
    queue = parse_queue(VALID)

    assert queue == Queue(
        queue="linux-docker",
        pool="Linux",
        max_agents=10,
        enabled=True,
        standby_agents=0,
        idle_timeout_minutes=10,
        agent_profile="default",
        capabilities=None,
        spot=False,
    )


def test_dynamodb_decimals_are_accepted_as_whole_numbers():
    item = {**VALID, "max_agents": Decimal("12"), "standby_agents": Decimal("2")}

    queue = parse_queue(item)

    assert (queue.max_agents, queue.standby_agents) == (12, 2)
    assert isinstance(queue.max_agents, int)


def test_full_item_round_trips_through_to_item():
    item = {
        **VALID,
        "enabled": False,
        "standby_agents": 2,
        "idle_timeout_minutes": 30,
        "agent_profile": "large_arm",
        "capabilities": {"docker": "", "Agent.OS": "Linux"},
        "spot": True,
        "organization_url": "https://dev.azure.com/contoso",
        "max_jobs_per_agent": 20,
    }

    assert parse_queue(item).to_item() == item


@pytest.mark.parametrize("jobs", [1, 2, 1000, Decimal("20")], ids=str)
def test_max_jobs_per_agent_takes_one_to_a_thousand(jobs):
    queue = parse_queue({**VALID, "max_jobs_per_agent": jobs})

    assert queue.max_jobs_per_agent == int(jobs)
    assert ("max_jobs_per_agent" in queue.to_item()) == (jobs != 1)


def test_one_job_agents_are_the_default():
    assert parse_queue(VALID).max_jobs_per_agent == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"queue": "Linux"}, "queue"),
        ({"queue": "-leading-dash"}, "queue"),
        ({"queue": "a" * 33}, "queue"),
        ({"queue": "placeholder"}, "queue"),
        ({"queue": "placeholder-linux"}, "queue"),
        ({"pool": ""}, "pool"),
        ({"pool": "   "}, "pool"),
        ({"max_agents": 0}, "max_agents"),
        ({"max_agents": 1001}, "max_agents"),
        ({"max_agents": 1.5}, "max_agents"),
        ({"max_agents": Decimal("2.5")}, "max_agents"),
        ({"max_agents": "5"}, "max_agents"),
        ({"max_agents": True}, "max_agents"),
        ({"standby_agents": -1}, "standby_agents"),
        ({"standby_agents": 11}, "standby_agents"),
        ({"idle_timeout_minutes": 0}, "idle_timeout_minutes"),
        ({"idle_timeout_minutes": 1441}, "idle_timeout_minutes"),
        ({"max_jobs_per_agent": 0}, "max_jobs_per_agent"),
        ({"max_jobs_per_agent": 1001}, "max_jobs_per_agent"),
        ({"max_jobs_per_agent": 2.5}, "max_jobs_per_agent"),
        ({"max_jobs_per_agent": "20"}, "max_jobs_per_agent"),
        ({"max_jobs_per_agent": True}, "max_jobs_per_agent"),
        ({"enabled": "yes"}, "enabled"),
        ({"spot": 1}, "spot"),
        ({"agent_profile": "has space"}, "agent_profile"),
        ({"capabilities": {"docker": 1}}, "capabilities.docker.value"),
        ({"capabilities": ["docker"]}, "capabilities"),
        ({"capabilities": {"AZP_TOKEN": "x"}}, "capabilities.AZP_TOKEN"),
        ({"capabilities": {"path": "/bin"}}, "capabilities.path"),
        ({"capabilities": {"a=b": ""}}, "capabilities.a=b"),
        ({"capabilities": {"java": "x" * 1024}}, "capabilities.java"),
        ({"organization_url": "ftp://example.com"}, "organization_url"),
        ({"organization_url": "http://dev.azure.com/contoso"}, "organization_url"),
        ({"pat_secret_arn": "not-an-arn"}, "pat_secret_arn"),
        ({"colour": "blue"}, "colour"),
    ],
    ids=lambda v: str(v) if isinstance(v, str) else None,
)
def test_each_bad_field_is_named(change, field):
    with pytest.raises(QueueConfigError) as caught:
        parse_queue({**VALID, **change})

    assert field in caught.value.errors, caught.value.errors
    assert caught.value.queue == change.get("queue", VALID["queue"])
    assert field in str(caught.value)


@pytest.mark.parametrize("missing", ["queue", "pool", "max_agents"])
def test_required_fields_are_named_when_missing(missing):
    item = {k: v for k, v in VALID.items() if k != missing}

    with pytest.raises(QueueConfigError) as caught:
        parse_queue(item)

    assert list(caught.value.errors) == [missing]


def test_every_bad_field_is_reported_at_once():
    with pytest.raises(QueueConfigError) as caught:
        parse_queue({"queue": "ok", "pool": "", "max_agents": 0, "shoe_size": 9})

    assert set(caught.value.errors) == {"pool", "max_agents", "shoe_size"}
    assert len(caught.value.lines()) >= 3


@pytest.mark.parametrize("item", [None, [], "queue", 7], ids=["none", "list", "str", "int"])
def test_an_item_that_is_not_an_object_is_rejected(item):
    with pytest.raises(QueueConfigError) as caught:
        parse_queue(item)

    assert caught.value.queue is None
    assert caught.value.errors


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = [
    "queue",
    "pool",
    "enabled",
    "max_agents",
    "standby_agents",
    "idle_timeout_minutes",
    "agent_profile",
    "capabilities",
    "spot",
    "organization_url",
    "pat_secret_arn",
    "max_jobs_per_agent",
]


@settings(max_examples=300, deadline=None)
@given(
    field=st.sampled_from([*FIELDS, "unknown_attribute"]),
    value=JSONISH,
)
def test_property_one_corrupted_field_is_named_or_accepted(field, value):
    """Any value in any field either parses to a valid Queue or names that field."""
    item = {**VALID, field: value}
    try:
        queue = parse_queue(item)
    except QueueConfigError as error:
        assert any(name == field or name.startswith(f"{field}.") for name in error.errors), (
            error.errors
        )
    else:
        assert field in FIELDS
        assert 1 <= queue.max_agents <= 1000
        assert 0 <= queue.standby_agents <= queue.max_agents
        assert 1 <= queue.max_jobs_per_agent <= 1000


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=12), JSONISH, max_size=6))
def test_property_arbitrary_items_never_crash(item):
    try:
        parse_queue(item)
    except QueueConfigError as error:
        assert error.lines()


ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ado-pat-AbCdEf"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"queue": "linux\n"}, "queue"),
        ({"queue": "placeholder\n"}, "queue"),
        ({"agent_profile": "default\n"}, "agent_profile"),
        ({"pool": "Linux\x1b]0;x\x07"}, "pool"),
        ({"pool": "Linux\x85"}, "pool"),
        ({"pool": "Linux\ud800"}, "pool"),
        ({"pool": b"Linux"}, "pool"),
        ({"pool": "x" * 257}, "pool"),
        ({"capabilities": {"docker\n": ""}}, "capabilities.docker\n.key"),
        ({"capabilities": {"docker": "a\udc00"}}, "capabilities.docker.value"),
        ({"capabilities": {b"docker": ""}}, "capabilities.b'docker'.key"),
        (
            {"pat_secret_arn": ARN.replace("123456789012", "\u0661\u0662\u0663456789012")},
            "pat_secret_arn",
        ),
        (
            {"pat_secret_arn": ARN.replace("123456789012", "\uff11\uff12\uff13456789012")},
            "pat_secret_arn",
        ),
        ({"pat_secret_arn": ARN + "\n"}, "pat_secret_arn"),
        ({"max_agents": Decimal("1e999999999")}, "max_agents"),
        ({"max_agents": 10**5000}, "max_agents"),
        ({"max_agents": float("inf")}, "max_agents"),
        ({"max_agents": Decimal("NaN")}, "max_agents"),
        ({"capabilities": {f"c{i:04d}": "v" * 1000 for i in range(400)}}, "capabilities"),
    ],
    ids=lambda v: repr(v)[:40] if isinstance(v, str) else None,
)
def test_strings_match_whole_and_hold_no_control_characters(change, field):
    with pytest.raises(QueueConfigError) as caught:
        parse_queue({**VALID, **change})

    assert field in caught.value.errors, caught.value.errors


def test_the_largest_fields_still_fit_an_item():
    item = {**VALID, "pool": "p" * 256, "capabilities": {"a": "v" * 1023}}

    assert parse_queue(item).pool == "p" * 256


def test_a_capability_named_like_a_list_position_is_still_named_under_capabilities():
    # a key such as "[" must not glue onto the field name the way list positions do
    with pytest.raises(QueueConfigError) as caught:
        parse_queue({**VALID, "capabilities": {"[": None}})
    assert all(name.startswith("capabilities.") for name in caught.value.errors), (
        caught.value.errors
    )
