"""The poller keeps the standby of the window in force at the cycle's instant (moto and the
fake Azure DevOps over HTTP): two agents during Berlin office hours, none at night."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adoscale.aws.store import to_attribute_map
from adoscale.core.settings import POLLER_REQUIRED, load_settings
from adoscale.local.ado_server import FakeAdoServer
from adoscale.poller.wiring import build_poller
from tests.support.stack import PollerStack, create_poller_stack

PAT = "pat-0123456789-KNOWN-SECRET-abcdef"
OFFICE = {"days": "mon-fri", "from": "08:00", "to": "18:00", "timezone": "Europe/Berlin"}


@pytest.fixture
def ado():
    with FakeAdoServer(pat=PAT, parallel_jobs=50) as server:
        yield server


@pytest.fixture
def stack(aws, ado) -> PollerStack:
    return create_poller_stack(PAT, ado.base_url)


@pytest.mark.parametrize(
    ("instant", "action", "count"),
    [
        (datetime(2026, 7, 8, 6, 30, tzinfo=UTC), "scale_out", 2),  # Wed 08:30 in Berlin (CEST)
        (datetime(2026, 1, 7, 6, 30, tzinfo=UTC), "none", 0),  # Wed 07:30 in Berlin (CET)
        (datetime(2026, 1, 10, 10, 0, tzinfo=UTC), "scale_out", 1),  # Saturday: standby_agents
    ],
    ids=["summer-office-hours", "winter-before-work", "weekend"],
)
def test_the_cycle_keeps_the_standby_of_the_window_in_force(stack, ado, instant, action, count):
    # GIVEN a quiet queue with two standby agents in Berlin office hours, one at weekends
    ado.add_pool("build")
    ado.register_agent("build", "adoscale-placeholder-build", online=False)
    item = {
        "queue": "build",
        "pool": "build",
        "max_agents": 5,
        "standby_schedule": [
            {**OFFICE, "agents": 2},
            {"days": "sat,sun", "from": "00:00", "to": "24:00", "timezone": "UTC", "agents": 1},
        ],
    }
    stack.client("dynamodb").put_item(TableName="queues", Item=to_attribute_map(item))
    runtime = build_poller(load_settings(stack.env, POLLER_REQUIRED), session=stack.session)
    runtime.poller._clock = lambda: instant
    # WHEN one cycle runs at that instant
    result = runtime.poller.poll().to_result()
    # THEN it launches the standby in force then, and nothing else
    assert result["errors"] == []
    outcome = result["queues"]["build"]
    assert (outcome["action"], outcome["count"], outcome["desired"]) == (action, count, count)
