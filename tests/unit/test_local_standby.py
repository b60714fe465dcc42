"""Local mode and standby schedules: a scenario pins its wall clock so windows open on cue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adoscale.core.exceptions import InputError
from adoscale.core.policy import standby_in_force
from adoscale.local.clock import SimClock
from adoscale.local.scenario import parse_scenario

SCENARIO = """\
name: office-opens
start: "2026-01-05T07:55:30+01:00"
queues:
  - queue: ci
    pool: Build
    max_agents: 4
    standby_schedule:
      - {days: mon-fri, from: "08:00", to: "18:00", timezone: Europe/Berlin, agents: 2}
jobs:
  - {kind: job, at: 10m, duration: 1m}
"""


def test_a_pinned_clock_opens_the_window_at_the_same_simulated_moment() -> None:
    # GIVEN a scenario starting five minutes before Berlin's office hours
    scenario = parse_scenario(SCENARIO, "s.yaml")
    assert scenario.start == datetime(2026, 1, 5, 6, 55, 30, tzinfo=UTC)
    clock = SimClock(60.0, start=scenario.start, monotonic=lambda: 0.0)
    # WHEN the run restarts its clock (as the local mode does once the stack is up)
    clock.restart()
    # THEN the wall clock keeps the scenario's minute, and the window opens 5 minutes in
    assert clock.start == datetime(2026, 1, 5, 6, 55, tzinfo=UTC)
    (queue,) = scenario.queues
    assert standby_in_force(queue, clock.at(4 * 60)) == 0
    assert standby_in_force(queue, clock.at(5 * 60)) == 2


def test_an_unpinned_clock_starts_now() -> None:
    clock = SimClock(20.0, monotonic=lambda: 0.0)
    clock.restart()
    assert abs(clock.start - datetime.now(UTC)) < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("start", "field"),
    [('"2026-01-05T07:55:00"', "start"), ('"tomorrow"', "start")],
    ids=["no-offset", "not-a-date"],
)
def test_a_start_without_an_offset_is_refused_by_name(start: str, field: str) -> None:
    text = SCENARIO.replace('"2026-01-05T07:55:30+01:00"', start)
    with pytest.raises(InputError) as caught:
        parse_scenario(text, "s.yaml")
    assert any(f"{field}" in problem for problem in caught.value.problems), caught.value.problems


def test_a_bad_window_in_a_scenario_names_it() -> None:
    text = SCENARIO.replace("Europe/Berlin", "Europe/Nowhere")
    with pytest.raises(InputError) as caught:
        parse_scenario(text, "s.yaml")
    assert any("standby_schedule[0].timezone" in p for p in caught.value.problems)
