"""Scenario files of the local mode, and the local report's verdict (pure)."""

from __future__ import annotations

import pytest

from adoscale.core.exceptions import InputError
from adoscale.local.fargate import BusyStop
from adoscale.local.organisation import JobOutcome
from adoscale.local.report import LocalReport, QueueEnd, percentile
from adoscale.local.scenario import parse_scenario, parse_seconds

QUEUES = """\
queues:
  - {queue: ci, pool: Build, max_agents: 4, standby_agents: 1, capabilities: {}}
  - {queue: ci-docker, pool: Build, max_agents: 2, capabilities: {docker: ""}}
"""


def scenario(body: str, queues: str = QUEUES):
    return parse_scenario(f"name: t\n{queues}{body}", "t.yaml")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0),
        (1.5, 1.5),
        ("90s", 90.0),
        ("90", 90.0),
        ("3m", 180.0),
        ("1m30s", 90.0),
        ("1.5m", 90.0),
        ("2h", 7200.0),
        (" 1h 2m 3s ", 3723.0),
    ],
    ids=["int", "float", "seconds", "bare", "minutes", "mixed", "fraction", "hours", "spaced"],
)
def test_times_parse(text, seconds):
    assert parse_seconds(text) == seconds


@pytest.mark.parametrize(
    "text",
    ["soon", "", "5 minutes", "m", -1, True, None, [1]],
    ids=["word", "empty", "words", "unit-only", "negative", "bool", "none", "list"],
)
def test_bad_times_are_refused(text):
    with pytest.raises(ValueError, match=r"not a time|negative"):
        parse_seconds(text)


def test_jobs_expand_from_bursts_steady_load_and_single_jobs_minus_quiet_windows():
    loaded = scenario(
        "jobs:\n"
        "  - {kind: burst, at: 1m, count: 3, duration: 2m}\n"
        "  - {kind: steady, from: 5m, to: 9m, every: 1m, duration: 30s}\n"
        "  - {kind: quiet, from: 7m, to: 8m}\n"
        "  - {kind: job, at: 10m, duration: 90s, demands: [docker]}\n"
    )

    assert [(j.at, j.duration, j.demands) for j in loaded.jobs] == [
        (60.0, 120.0, ()),
        (60.0, 120.0, ()),
        (60.0, 120.0, ()),
        (300.0, 30.0, ()),
        (360.0, 30.0, ()),
        (480.0, 30.0, ()),
        (540.0, 30.0, ()),
        (600.0, 90.0, ("docker",)),
    ]
    assert {j.pool for j in loaded.jobs} == {"Build"}
    assert loaded.last_arrival == 600.0
    assert [q.queue for q in loaded.queues] == ["ci", "ci-docker"]


def test_duration_ranges_are_drawn_reproducibly_from_the_seed():
    body = "seed: 3\njobs:\n  - {kind: burst, at: 0, count: 20, duration: [1m, 2m]}\n"

    first, second = scenario(body), scenario(body)

    durations = [j.duration for j in first.jobs]
    assert durations == [j.duration for j in second.jobs]
    assert all(60 <= d <= 120 for d in durations)
    assert len(set(durations)) > 1


def test_defaults_and_faults():
    loaded = scenario("faults:\n  - {from: 1m, to: 2m, mode: status_500}\n")

    assert (loaded.speed, loaded.poll_interval, loaded.boot_window, loaded.confirm_window) == (
        20.0,
        60.0,
        60.0,
        15.0,
    )
    assert [(f.start, f.end, f.target, f.mode) for f in loaded.faults] == [
        (60.0, 120.0, "jobrequests", "status_500")
    ]
    assert "queue: ci" in loaded.queue_document


BAD = [
    ("unknown-key", "colour: red\n", QUEUES, ["t.yaml: colour: Unknown field."]),
    ("bad-speed", "speed: 0\n", QUEUES, ["t.yaml: speed: Must be greater than or equal to 1"]),
    ("bad-time", "poll_interval: soon\n", QUEUES, ["t.yaml: poll_interval: not a time: 'soon'"]),
    (
        "unknown-job-kind",
        "jobs:\n  - {kind: storm, at: 1m}\n",
        QUEUES,
        ["t.yaml: jobs[0].kind: must be one of burst, steady, job, quiet"],
    ),
    (
        "job-field",
        "jobs:\n  - {kind: burst, at: 1m, count: 0, duration: 1m, colour: red}\n",
        QUEUES,
        ["t.yaml: jobs[0].count: Must be greater than or equal to 1", "jobs[0].colour: Unknown"],
    ),
    (
        "steady-backwards",
        "jobs:\n  - {kind: steady, from: 5m, to: 1m, every: 1m, duration: 1m}\n",
        QUEUES,
        ["t.yaml: jobs[0].to: must be after from"],
    ),
    (
        "fault-mode",
        "faults:\n  - {from: 1m, to: 2m, mode: explode}\n",
        QUEUES,
        ["t.yaml: faults[0].mode: must be one of"],
    ),
    (
        "invalid-queue",
        "",
        "queues:\n  - {queue: Bad_Name, pool: P, max_agents: 1}\n",
        ["t.yaml: queues: Bad_Name: queue: String does not match expected pattern."],
    ),
    ("no-queues", "", "", ["t.yaml: queues: Missing data for required field."]),
    (
        "unmet-demands",
        "jobs:\n  - {kind: job, at: 1m, duration: 1m, demands: [gpu]}\n",
        QUEUES,
        ["no queue of pool Build meets them"],
    ),
    (
        "demands-counted-by-a-queue-without-capabilities",
        "jobs:\n  - {kind: job, at: 1m, duration: 1m, demands: [docker]}\n",
        "queues:\n  - {queue: a, pool: P, max_agents: 1}\n"
        "  - {queue: b, pool: P, max_agents: 1, capabilities: {docker: ''}}\n",
        ["count for queue a, which declares no capabilities"],
    ),
    (
        "reusable-agents-out-of-range",
        "",
        "queues:\n  - {queue: a, pool: P, max_agents: 1, max_jobs_per_agent: 0}\n",
        ["t.yaml: queues: a: max_jobs_per_agent: Must be greater than or equal to 1"],
    ),
]


def test_scenario_queues_may_have_reusable_agents():
    loaded = scenario(
        "", "queues:\n  - {queue: a, pool: P, max_agents: 2, max_jobs_per_agent: 20}\n"
    )

    assert loaded.queues[0].max_jobs_per_agent == 20


@pytest.mark.parametrize(
    ("body", "queues", "expected"), [c[1:] for c in BAD], ids=[c[0] for c in BAD]
)
def test_bad_scenarios_name_each_problem(body, queues, expected):
    with pytest.raises(InputError) as caught:
        scenario(body, queues)

    for fragment in expected:
        assert any(fragment in line for line in caught.value.problems), caught.value.problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "expected one YAML mapping"),
        ("- a\n- b\n", "expected one YAML mapping"),
        ("name: [\n", "YAML syntax error"),
    ],
    ids=["empty", "list", "syntax"],
)
def test_unreadable_scenarios(text, expected):
    with pytest.raises(InputError, match=expected):
        parse_scenario(text, "t.yaml")


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([], 50, None),
        ([5.0], 95, 5.0),
        ([1, 2, 3, 4], 50, 2),
        ([1, 2, 3, 4], 95, 4),
        (list(range(1, 101)), 95, 95),
    ],
    ids=["empty", "one", "median-even", "p95-small", "p95-hundred"],
)
def test_percentile_is_nearest_rank(values, p, expected):
    assert percentile(values, p) == expected


def job(request_id: int, result: str | None, assigned: float | None = 10.0) -> JobOutcome:
    return JobOutcome(request_id, "Build", (), 0.0, 60.0, assigned, 70.0, result, "a")


def report(jobs, busy_stops=(), expected=None) -> LocalReport:
    return LocalReport(
        scenario="t",
        speed=20,
        real_seconds=1,
        sim_seconds=60,
        settled=True,
        jobs_expected=len(jobs) if expected is None else expected,
        jobs=list(jobs),
        agent_minutes=1.0,
        busy_stops=list(busy_stops),
        busy_deletes_refused=0,
        alerts=[],
        executions={},
        final={"ci": QueueEnd(idle=1, busy=0, starting=0, offline=0, standby=1, placeholder=True)},
        poll_cycles=1,
    )


@pytest.mark.parametrize(
    ("built", "ok"),
    [
        (report([job(1, "succeeded"), job(2, "succeeded")]), True),
        (report([job(1, "succeeded"), job(2, "failed", None)]), False),
        (report([job(1, "succeeded"), job(2, None, None)]), False),
        (report([job(1, "succeeded")], [BusyStop(5.0, "adoscale-ci-x", "ci", 1)]), False),
        (report([job(1, "succeeded")], expected=2), False),
    ],
    ids=["all-ran", "failed-at-once", "still-waiting", "busy-agent-stopped", "job-never-queued"],
)
def test_the_verdict_needs_every_job_run_and_no_busy_agent_stopped(built, ok):
    assert built.ok is ok
    assert built.to_dict()["ok"] is ok


def test_report_dict_carries_waits_and_standby():
    data = report([job(1, "succeeded", 10.0), job(2, "succeeded", 40.0)]).to_dict()

    assert data["wait_seconds"] == {"p50": 10.0, "p95": 40.0, "max": 40.0}
    assert data["final"]["ci"]["at_standby"] is True
    assert data["busy_agents_stopped"] == 0


@pytest.mark.parametrize(
    ("body", "expected"),
    [("", False), ("service_hook: true\n", True), ("service_hook: false\n", False)],
    ids=["default-off", "on", "off"],
)
def test_service_hook_is_a_scenario_switch(body, expected):
    assert scenario(body).service_hook is expected


@pytest.mark.parametrize("value", ["maybe", "2", '"true"'], ids=["word", "two", "quoted"])
def test_service_hook_takes_only_a_yaml_boolean(value):
    with pytest.raises(InputError) as caught:
        scenario(f"service_hook: {value}\n")

    assert any("service_hook" in line for line in caught.value.problems)


def test_webhook_latency_is_measured_to_the_next_run_task_and_scaled_to_real_seconds():
    from adoscale.local.hook_endpoint import latencies

    # webhooks at 10 and 30 simulated s; tasks started at 5, 40, 42; at x10 speed
    assert latencies([30.0, 10.0], [42.0, 5.0, 40.0], 10.0) == pytest.approx([3.0, 1.0])
    assert latencies([50.0], [40.0], 10.0) == []  # no RunTask after it: not counted
