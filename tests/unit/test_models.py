"""Parsing Azure DevOps JSON into models: strict where counting depends on it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adoscale.core.exceptions import AdoBadResponseError
from adoscale.core.models import Agent, JobRequest, parse_list, parse_time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-27T12:00:00Z", datetime(2026, 11, 27, 12, tzinfo=UTC)),
        ("2026-11-27T12:00:00.1234567Z", datetime(2026, 11, 27, 12, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-27T12:00:00.5+00:00", datetime(2026, 11, 27, 12, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-27T12:00:00", datetime(2026, 11, 27, 12, tzinfo=UTC)),
        ("0001-01-01T00:00:00", None),
        (None, None),
    ],
    ids=["z", "seven-digits", "offset", "naive", "unset-sentinel", "absent"],
)
def test_parse_time(text, expected):
    assert parse_time(text, "t") == expected


@pytest.mark.parametrize("bad", ["yesterday", 1234, "2026-13-01T00:00:00Z"])
def test_parse_time_rejects_garbage_naming_the_field(bad):
    with pytest.raises(AdoBadResponseError, match="queueTime"):
        parse_time(bad, "jobrequest.queueTime")


def test_job_states():
    waiting = JobRequest.from_json({"requestId": 1, "queueTime": "2026-11-27T12:00:00Z"})
    reserved = JobRequest.from_json(
        {"requestId": 2, "assignTime": "2026-11-27T12:00:01Z", "reservedAgent": {"id": 7}}
    )
    done = JobRequest.from_json({"requestId": 3, "result": "succeeded", "reservedAgent": {"id": 7}})

    assert (waiting.waiting, waiting.taken, waiting.finished) == (True, False, False)
    assert (reserved.waiting, reserved.taken, reserved.reserved_agent_id) == (False, True, 7)
    assert (done.waiting, done.taken, done.finished) == (False, False, True)


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        ({}, "requestId"),
        ({"requestId": "1"}, "requestId"),
        ({"requestId": True}, "requestId"),
        ({"requestId": 1, "demands": "docker"}, "demands"),
        ({"requestId": 1, "reservedAgent": {"name": "x"}}, "reservedAgent"),
        ([], "jobrequest"),
    ],
    ids=["no-id", "string-id", "bool-id", "demands-not-list", "agent-without-id", "not-object"],
)
def test_malformed_jobs_name_the_field(obj, field):
    with pytest.raises(AdoBadResponseError, match=field):
        JobRequest.from_json(obj)


def test_agent_parsing():
    agent = Agent.from_json(
        {
            "id": 5,
            "name": "adoscale-q-0123456789ab",
            "status": "online",
            "enabled": False,
            "createdOn": "2026-11-27T11:00:00Z",
            "assignedRequest": {"requestId": 42},
        }
    )

    assert (agent.agent_id, agent.online, agent.enabled, agent.busy) == (5, True, False, True)
    assert agent.assigned_request_id == 42
    assert agent.last_job_finished is None
    assert agent.idle_since == agent.created_on


@pytest.mark.parametrize(
    ("last", "idle_since"),
    [
        (
            {"requestId": 7, "finishTime": "2026-11-27T11:40:00.1234567Z"},
            "2026-11-27T11:40:00.123456+00:00",
        ),
        ({"requestId": 7, "finishTime": "0001-01-01T00:00:00"}, "2026-11-27T11:00:00+00:00"),
        ({"requestId": 7}, "2026-11-27T11:00:00+00:00"),
        ({"requestId": 7, "finishTime": "2026-11-27T10:00:00Z"}, "2026-11-27T11:00:00+00:00"),
    ],
    ids=["finished-job", "unset-time", "no-finish-time", "before-registration"],
)
def test_idle_since_is_the_end_of_the_last_completed_request(last, idle_since):
    agent = Agent.from_json(
        {
            "id": 5,
            "name": "adoscale-q-0123456789ab",
            "status": "online",
            "createdOn": "2026-11-27T11:00:00Z",
            "lastCompletedRequest": last,
        }
    )

    assert agent.idle_since is not None
    assert agent.idle_since.isoformat() == idle_since


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        ({"name": "a", "status": "online"}, "id"),
        ({"id": 1, "name": "a"}, "status"),
        ({"id": 1, "name": "a", "status": "online", "lastCompletedRequest": 3}, "lastCompleted"),
        (
            {"id": 1, "name": "a", "status": "online", "lastCompletedRequest": {"finishTime": 3}},
            "lastCompletedRequest.finishTime",
        ),
    ],
    ids=["no-id", "no-status", "last-not-object", "last-finish-not-time"],
)
def test_malformed_agents_name_the_field(obj, field):
    with pytest.raises(AdoBadResponseError, match=field):
        Agent.from_json(obj)


def test_parse_list_requires_the_value_wrapper():
    assert parse_list({"count": 1, "value": [1]}, "x") == [1]
    with pytest.raises(AdoBadResponseError, match=r"agents\.value"):
        parse_list({"count": 0}, "agents")
