"""The standby schedule: validation through the queue item schema, and the window in force.

The DST checks compare ``standby_at`` with an independent wall clock (python-dateutil's
zone files), at hypothesis-chosen instants in zones with and without daylight saving, and
at instants right around each zone's changes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache

import pytest
from dateutil import tz as dateutil_tz
from hypothesis import given, settings
from hypothesis import strategies as st

from adoscale.core.exceptions import QueueConfigError
from adoscale.core.policy import standby_in_force
from adoscale.core.schema import parse_queue
from adoscale.core.standby import (
    MAX_WINDOWS,
    StandbyWindow,
    format_days,
    parse_days,
    parse_schedule,
    standby_at,
)

BASE = {"queue": "linux", "pool": "Linux", "max_agents": 5, "standby_agents": 1}
WORKDAY = {
    "days": "mon-fri",
    "from": "08:00",
    "to": "18:00",
    "timezone": "Europe/Berlin",
    "agents": 2,
}
ZONES = (
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",  # southern hemisphere: summer time over the new year
    "Australia/Lord_Howe",  # a half-hour daylight-saving change
    "Asia/Kolkata",  # +05:30, no daylight saving
    "America/Sao_Paulo",  # dropped daylight saving in 2019
    "UTC",
)


def item(*windows: dict, **overrides: object) -> dict:
    return {**BASE, **overrides, "standby_schedule": list(windows)}


def errors_of(raw: dict) -> dict[str, list[str]]:
    with pytest.raises(QueueConfigError) as caught:
        parse_queue(raw)
    return caught.value.errors


# ---- validation ----------------------------------------------------------------------------


def test_valid_schedule_round_trips_through_the_item() -> None:
    queue = parse_queue(item(WORKDAY, {**WORKDAY, "days": "sat,sun", "agents": Decimal("1")}))
    assert queue.standby_schedule[0] == StandbyWindow(
        frozenset(range(5)), 8 * 60, 18 * 60, "Europe/Berlin", 2
    )
    stored = queue.to_item()["standby_schedule"]
    assert stored[1] == {**WORKDAY, "days": "sat,sun", "agents": 1}
    assert parse_queue(queue.to_item()) == queue


def test_no_schedule_is_not_written() -> None:
    assert "standby_schedule" not in parse_queue(dict(BASE)).to_item()


@pytest.mark.parametrize(
    ("window", "field", "fragment"),
    [
        ({**WORKDAY, "days": "mon-fry"}, "days", "unknown day 'fry'"),
        ({**WORKDAY, "days": ""}, "days", "expected days"),
        ({**WORKDAY, "days": 5}, "days", "expected days"),
        ({**WORKDAY, "from": "8:00"}, "from", "HH:MM"),
        ({**WORKDAY, "from": "24:00", "to": "24:00"}, "from", "only an end"),
        ({**WORKDAY, "to": "24:01"}, "to", "latest end is 24:00"),
        ({**WORKDAY, "to": "18:60"}, "to", "HH:MM"),
        ({**WORKDAY, "from": "18:00", "to": "08:00"}, "to", "must be after from"),
        ({**WORKDAY, "from": "08:00", "to": "08:00"}, "to", "must be after from"),
        ({**WORKDAY, "timezone": "Europe/Atlantis"}, "timezone", "not an IANA time zone"),
        ({**WORKDAY, "timezone": "../../etc/passwd"}, "timezone", "not an IANA time zone"),
        ({**WORKDAY, "timezone": "/etc/localtime"}, "timezone", "not an IANA time zone"),
        ({**WORKDAY, "agents": -1}, "agents", "between 0 and"),
        ({**WORKDAY, "agents": 1.5}, "agents", "whole number"),
        ({**WORKDAY, "agents": True}, "agents", "whole number"),
        ({**WORKDAY, "agents": "2"}, "agents", "whole number"),
        ({**WORKDAY, "agents": 6}, "agents", "at most max_agents (5)"),
        ({**WORKDAY, "colour": "red"}, "colour", "unknown field"),
        ({k: v for k, v in WORKDAY.items() if k != "timezone"}, "timezone", "required"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_every_bad_window_field_is_named(window: dict, field: str, fragment: str) -> None:
    errors = errors_of(item(WORKDAY, window))
    name = f"standby_schedule[1].{field}"
    assert list(errors) == [name], errors
    assert any(fragment in message for message in errors[name]), errors[name]


@pytest.mark.parametrize(
    ("schedule", "fragment"),
    [
        ("mon-fri 08:00-18:00", "expected a list"),
        ([WORKDAY] * (MAX_WINDOWS + 1), f"at most {MAX_WINDOWS} windows"),
        ([WORKDAY, "mon"], "expected a window"),
    ],
    ids=["not-a-list", "too-many", "not-a-mapping"],
)
def test_bad_schedule_shapes_are_refused(schedule: object, fragment: str) -> None:
    errors = errors_of({**BASE, "standby_schedule": schedule})
    assert any(fragment in m for messages in errors.values() for m in messages), errors
    assert all(name.startswith("standby_schedule") for name in errors)


@given(st.sets(st.integers(0, 6), min_size=1))
def test_days_spelling_round_trips(days: set[int]) -> None:
    assert parse_days(format_days(days)) == frozenset(days)


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("sat,sun", {5, 6}),
        ("fri-mon", {4, 5, 6, 0}),
        (" Mon , WED-thu ", {0, 2, 3}),
        ("sun", {6}),
    ],
)
def test_day_lists_and_ranges(text: str, days: set[int]) -> None:
    assert parse_days(text) == frozenset(days)


# ---- the window in force -------------------------------------------------------------------


def dateutil_covers(window: StandbyWindow, instant: datetime) -> bool:
    """The same question answered with another library's zone data and conversion."""
    local = instant.astimezone(dateutil_tz.gettz(window.timezone))
    minute = local.hour * 60 + local.minute
    return local.weekday() in window.days and window.start_minute <= minute < window.end_minute


windows = st.builds(
    StandbyWindow,
    days=st.frozensets(st.integers(0, 6), min_size=1),
    start_minute=st.integers(0, 24 * 60 - 1),
    end_minute=st.integers(1, 24 * 60),
    timezone=st.sampled_from(ZONES),
    agents=st.integers(0, 10),
).filter(lambda w: w.start_minute < w.end_minute)
instants = st.datetimes(
    min_value=datetime(2015, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(windows, max_size=4), st.integers(0, 5), instants)
def test_standby_is_the_largest_window_on_the_local_wall_clock(
    schedule: list[StandbyWindow], default: int, instant: datetime
) -> None:
    covering = [w.agents for w in schedule if dateutil_covers(w, instant)]
    assert standby_at(default, schedule, instant) == (max(covering) if covering else default)


@cache
def transitions(zone_name: str, year: int) -> list[datetime]:
    """The zone's UTC offset changes in ``year``, found by bisection on the offset."""
    zone = dateutil_tz.gettz(zone_name)
    found = []
    start = datetime(year, 1, 1, tzinfo=UTC)
    step = timedelta(hours=6)
    for n in range(4 * 366):
        low, high = start + n * step, start + (n + 1) * step
        if low.astimezone(zone).utcoffset() == high.astimezone(zone).utcoffset():
            continue
        while high - low > timedelta(seconds=1):
            middle = low + (high - low) / 2
            if middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
                low = middle
            else:
                high = middle
        found.append(high)
    return found


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(
        ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe"]
    ),
    st.integers(2016, 2034),
    st.integers(0, 1),
    st.integers(-3 * 3600, 3 * 3600),
    windows,
)
def test_windows_follow_the_wall_clock_across_daylight_saving_changes(
    zone_name: str, year: int, which: int, offset_s: int, window: StandbyWindow
) -> None:
    changes = transitions(zone_name, year)
    assert len(changes) == 2, changes
    instant = changes[which] + timedelta(seconds=offset_s)
    window = StandbyWindow(window.days, window.start_minute, window.end_minute, zone_name, 3)
    assert standby_at(0, [window], instant) == (3 if dateutil_covers(window, instant) else 0)


def test_berlin_working_day_moves_with_summer_time() -> None:
    (window,), _ = parse_schedule([WORKDAY])
    # 07:30 UTC is 08:30 in Berlin in winter and 09:30 in summer; 06:30 UTC only in summer
    assert standby_at(0, [window], datetime(2026, 1, 7, 7, 30, tzinfo=UTC)) == 2
    assert standby_at(0, [window], datetime(2026, 1, 7, 6, 30, tzinfo=UTC)) == 0
    assert standby_at(0, [window], datetime(2026, 7, 8, 6, 30, tzinfo=UTC)) == 2
    assert standby_at(0, [window], datetime(2026, 7, 8, 16, 30, tzinfo=UTC)) == 0
    # Friday 17:59 in, Saturday out
    assert standby_at(0, [window], datetime(2026, 1, 9, 16, 59, tzinfo=UTC)) == 2
    assert standby_at(0, [window], datetime(2026, 1, 10, 9, 0, tzinfo=UTC)) == 0


@pytest.mark.parametrize(
    ("overrides", "instant", "standby"),
    [
        ({}, datetime(2026, 1, 7, 9, 0, tzinfo=UTC), 2),  # in the window
        ({}, datetime(2026, 1, 7, 22, 0, tzinfo=UTC), 1),  # outside: standby_agents
        ({"enabled": False}, datetime(2026, 1, 7, 9, 0, tzinfo=UTC), 0),
        ({"standby_agents": 4}, datetime(2026, 1, 7, 9, 0, tzinfo=UTC), 2),  # window wins
    ],
    ids=["window", "outside", "disabled", "window-below-default"],
)
def test_standby_in_force_for_a_queue(overrides: dict, instant: datetime, standby: int) -> None:
    queue = parse_queue(item(WORKDAY, **overrides))
    assert standby_in_force(queue, instant) == standby
