"""Sub-minute polling inside one scheduled invocation."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import settings as settings_
from hypothesis import strategies as st

from adoscale.core.settings import Settings
from adoscale.poller.cycles import QUIET_INTERVAL_SECONDS, Activity, Cadence, run_cycles


class Clock:
    def __init__(self, timeout: float, cycle_seconds: float) -> None:
        self.now = 0.0
        self.timeout = timeout
        self.cycle_seconds = cycle_seconds
        self.polls: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds

    def time_left(self) -> float:
        return self.timeout - self.now


BUSY = {"queued": 0, "busy": 1, "starting": 0, "action": "none"}
QUIET = {"queued": 0, "busy": 0, "starting": 0, "action": "none"}


class FakePoller:
    def __init__(
        self, clock: Clock, errors_per_cycle: list[list[dict]], states: list[dict] | None = None
    ) -> None:
        self.clock = clock
        self.errors = errors_per_cycle
        self.states = states

    def poll(self, *, act: bool = True):
        clock = self.clock
        clock.polls.append(clock.now)
        clock.now += clock.cycle_seconds
        errors = self.errors[len(clock.polls) - 1] if len(clock.polls) <= len(self.errors) else []
        cycle = len(clock.polls)
        state = self.states[cycle - 1] if self.states else BUSY

        class Report:
            def to_result(self):
                return {"queues": {"q": {**state, "cycle": cycle}}, "errors": errors}

        return Report()


@pytest.mark.parametrize(
    ("interval", "timeout", "cycle_seconds", "starts"),
    [
        (20, 55, 1.5, [0, 20, 40]),
        (60, 55, 1.5, [0]),
        (30, 55, 1.5, [0, 30]),
        (20, 55, 9.0, [0, 20, 40]),
        (20, 45, 1.5, [0, 20]),
        (20, 55, 25.0, [0, 25]),
        (15, 900, 1.0, [0, 15, 30, 45]),
    ],
    ids=[
        "three-a-minute",
        "once-a-minute",
        "twice-a-minute",
        "slow-cycles",
        "short-timeout",
        "overrunning-cycle",
        "never-beyond-the-schedule-period",
    ],
)
def test_cycles_are_spaced_from_the_start_and_stop_before_the_timeout(
    interval, timeout, cycle_seconds, starts
):
    clock = Clock(timeout, cycle_seconds)

    result = run_cycles(
        FakePoller(clock, []),
        interval,
        clock.time_left,
        Activity(linger_seconds=0),
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        wall_clock=clock.monotonic,
    )

    assert clock.polls == starts
    assert result["cycles"] == len(starts)
    assert result["queues"]["q"]["cycle"] == len(starts)


@pytest.mark.parametrize(
    ("states", "starts"),
    [
        ([QUIET], [0]),
        ([BUSY, QUIET], [0, 20]),
        ([{**QUIET, "queued": 2}, {**QUIET, "starting": 2}, QUIET], [0, 20, 40]),
        ([{**QUIET, "action": "scale_in"}, QUIET], [0, 20]),
    ],
    ids=["quiet-stack-one-cycle", "stops-when-quiet", "waiting-then-starting", "after-an-action"],
)
def test_cycles_continue_only_while_a_queue_is_active(states, starts):
    clock = Clock(55, 1.0)

    run_cycles(
        FakePoller(clock, [], states),
        20,
        clock.time_left,
        Activity(linger_seconds=0),
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        wall_clock=clock.monotonic,
    )

    assert clock.polls == starts


def test_errors_of_every_cycle_are_returned_once():
    clock = Clock(55, 1.0)
    a = {"queue": "a", "kind": "ado_unavailable", "message": "503"}
    b = {"queue": "b", "kind": "ado_auth", "message": "401"}

    result = run_cycles(
        FakePoller(clock, [[a], [a, b], []]),
        20,
        clock.time_left,
        Activity(linger_seconds=0),
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        wall_clock=clock.monotonic,
    )

    assert result["errors"] == [a, b]


def test_cycling_lingers_after_activity_across_invocations():
    # GIVEN a container that saw a busy queue, then only quiet ones
    clock = Clock(10_000, 1.0)
    activity = Activity(linger_seconds=100)

    def invoke(states):
        clock.polls.clear()
        started = clock.now
        run_cycles(
            FakePoller(clock, [], states),
            20,
            lambda: 55 - (clock.now - started),
            activity,
            sleep=clock.sleep,
            monotonic=clock.monotonic,
            wall_clock=clock.monotonic,
        )
        return [round(p - started) for p in clock.polls]

    # WHEN invocations run a minute apart
    first = invoke([BUSY, QUIET, QUIET])
    clock.now = 60.0
    second = invoke([QUIET, QUIET, QUIET])
    clock.now = 120.0
    third = invoke([QUIET, QUIET, QUIET])

    # THEN cycling goes on for the linger (busy at 0 s: until 100 s), then one cycle a minute
    assert first == [0, 20, 40]
    assert second == [0, 20, 40]  # the cycle at 100 s ends past the linger: the last
    assert third == [0]


# ---- the cadence: one definition for the poller, the local mode and the simulator ----


@pytest.mark.parametrize(
    ("cadence", "offset", "lingering", "expected"),
    [
        (Cadence(20, 20), 0.0, False, 20.0),
        (Cadence(20, 20), 40.0, False, None),
        (Cadence(20, 60), 0.0, False, None),
        (Cadence(20, 60), 0.0, True, 20.0),
        (Cadence(20, 30), 0.0, False, 30.0),
        (Cadence(20, 30), 30.0, True, 40.0),
        (Cadence(15, 20), 20.0, True, 30.0),
        (Cadence(15, 20), 40.0, True, None),
    ],
    ids=[
        "quiet-every-20-s",
        "last-of-the-minute",
        "quiet-once-a-minute",
        "active-every-20-s",
        "quiet-every-30-s",
        "back-on-the-20-s-grid",
        "active-15-s-grid",
        "none-starts-too-late-to-finish",
    ],
)
def test_the_next_cycle_sits_on_the_grid_of_its_step(cadence, offset, lingering, expected):
    assert cadence.next_offset(offset, lingering) == expected


def test_the_shipped_cadence_never_leaves_a_quiet_stack_unlooked_at_longer_than_20_s():
    settings = Settings()
    cadence = Cadence(settings.poll_interval_seconds, settings.poll_quiet_interval_seconds)

    starts, now = [0.0], 0.0
    while now < 600:
        now = cadence.next_cycle_at(now, lingering=False)
        starts.append(now)

    assert max(b - a for a, b in itertools.pairwise(starts)) <= 20.0
    assert cadence.quiet_interval_seconds == QUIET_INTERVAL_SECONDS == 20.0


@settings_(max_examples=60, deadline=None)
@given(
    active=st.lists(st.booleans(), min_size=1, max_size=40),
    interval=st.sampled_from([10, 15, 20, 30]),
    quiet=st.sampled_from([10, 15, 20, 30, 60]),
    linger=st.sampled_from([0, 30, 100]),
)
def test_the_poller_and_the_simulator_cycle_at_the_same_instants(active, interval, quiet, linger):
    # GIVEN a stack whose n-th cycle sees activity or not, the poller's invocations one
    # minute apart, and the simulator's policy driven by the same answers
    clock = Clock(10_000, 0.5)
    cadence = Cadence(interval, quiet)
    activity = Activity(linger_seconds=linger)
    states = [BUSY if flag else QUIET for flag in active]
    polled: list[float] = []
    invocation = 0.0
    while len(polled) < len(states):
        clock.now = invocation
        clock.polls.clear()
        remaining = states[len(polled) :]
        run_cycles(
            FakePoller(clock, [], remaining + [QUIET] * 10),
            cadence,
            lambda start=invocation: 55 - (clock.now - start),
            activity,
            sleep=clock.sleep,
            monotonic=clock.monotonic,
            wall_clock=clock.monotonic,
        )
        polled += clock.polls[: len(states) - len(polled)]
        invocation += 60.0

    # WHEN the simulator's adoscale policy plans its polls from the same activity
    sim_activity = Activity(linger_seconds=linger)
    planned, now = [0.0], 0.0
    for state in states[:-1]:
        lingering = sim_activity.observe({"queues": {"q": state}, "errors": []}, now)
        now = cadence.next_cycle_at(now, lingering)
        planned.append(now)

    # THEN both cycle at the same instants
    assert polled == pytest.approx(planned)
