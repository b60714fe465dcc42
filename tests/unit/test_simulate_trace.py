"""Traces: the file formats, their errors (naming line and field), bundled and generated traces."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest

from adoscale.core.exceptions import InputError
from adoscale.core.models import JobRequest
from adoscale.simulate.generate import DAY, WORK_END, WORK_START, Shape, generate
from adoscale.simulate.history import history_trace
from adoscale.simulate.trace import BUNDLED, load_trace, parse_csv, parse_json, to_csv

CSV = """# a comment
# span_s=7200
queue_time,duration,demands
30,120.5,docker;Agent.Version -gtVersion 2.1
0,60,
"""


def test_csv_jobs_are_read_sorted_with_their_demands_and_span():
    trace = parse_csv(CSV, "t")

    assert [(j.queue_time, j.duration) for j in trace.jobs] == [(0.0, 60.0), (30.0, 120.5)]
    assert trace.jobs[1].demands == ("docker", "Agent.Version -gtVersion 2.1")
    assert trace.jobs[0].demands == ()
    assert trace.span_s == 7200.0


def test_json_list_and_object_forms():
    listed = parse_json(json.dumps([{"queue_time": 5, "duration": 10}]), "l")
    wrapped = parse_json(
        json.dumps(
            {
                "name": "w",
                "span_s": 100,
                "jobs": [{"queue_time": 1, "duration": 2, "demands": ["x"], "observed_wait": 3}],
            }
        ),
        "file",
    )

    assert listed.jobs[0].queue_time == 5.0
    assert (wrapped.name, wrapped.span_s) == ("w", 100.0)
    assert wrapped.observed_waits() == [3.0]
    assert wrapped.jobs[0].demands == ("x",)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("queue_time,duration\n1,abc\n", "t line 2: duration: not a number: 'abc'"),
        ("queue_time,duration\n-1,5\n", "t line 2: queue_time: must be >= 0, got -1"),
        ("queue_time,duration\n1,\n", "t line 2: duration: required"),
        ("queue_time,demands\n1,x\n", "t line 1: missing column 'duration'"),
        ("queue_time,duration,colour\n1,2,red\n", "t line 1: unknown column 'colour'"),
        ("queue_time,duration\n1,2,3\n", "t line 2: 3 values for 2 columns"),
        ("queue_time,duration\n", "t: the trace has no jobs"),
        ("", "t: empty trace (expected a header queue_time,duration,demands)"),
        ("# span_s=soon\nqueue_time,duration\n1,2\n", "t line 1: span_s: expected a number >= 0"),
        ("queue_time,duration\n1,nan\n", "t line 2: duration: not a number: 'nan'"),
    ],
    ids=[
        "not-a-number",
        "negative",
        "missing-value",
        "missing-column",
        "unknown-column",
        "too-many-values",
        "no-jobs",
        "empty",
        "bad-span",
        "nan",
    ],
)
def test_csv_errors_name_the_line_and_field(text, problem):
    with pytest.raises(InputError) as caught:
        parse_csv(text, "t")

    assert problem in caught.value.problems


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("[1]", "t.jobs[0]: expected an object"),
        ('[{"queue_time": 1}]', "t.jobs[0]: duration: required"),
        ('[{"queue_time": 1, "duration": true}]', "t.jobs[0]: duration: not a number: True"),
        ('[{"queue_time": 1, "duration": 2, "who": 1}]', "t.jobs[0]: unknown field 'who'"),
        (
            '[{"queue_time": 1, "duration": 2, "demands": "x"}]',
            "t.jobs[0]: demands: expected a list of strings",
        ),
        ('{"jobs": 3}', "t.jobs: expected a list of jobs"),
        ('{"jobs": [], "extra": 1}', "t: unknown field 'extra'"),
        ('{"span_s": -5, "jobs": []}', "t.span_s: expected a number >= 0"),
        ("{", "t: not JSON: Expecting property name enclosed in double quotes at line 1"),
    ],
    ids=[
        "not-object",
        "missing",
        "bool",
        "unknown-field",
        "demands-type",
        "jobs-type",
        "unknown-top",
        "bad-span",
        "not-json",
    ],
)
def test_json_errors_name_the_index_and_field(document, problem):
    with pytest.raises(InputError) as caught:
        parse_json(document, "t")

    assert problem in caught.value.problems


def test_a_file_with_many_bad_lines_reports_the_first_twenty():
    text = "queue_time,duration\n" + "x,1\n" * 30

    with pytest.raises(InputError) as caught:
        parse_csv(text, "t")

    assert len(caught.value.problems) == 21
    assert caught.value.problems[-1] == "... and 10 more"


def test_missing_file_names_the_bundled_alternatives(tmp_path):
    with pytest.raises(InputError) as caught:
        load_trace(str(tmp_path / "nope.csv"))

    assert "bursty, steady" in caught.value.problems[0]


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_traces_load_and_cover_a_day(name):
    trace = load_trace(name)

    assert len(trace.jobs) > 300
    assert trace.span_s == DAY
    assert all(0 <= job.queue_time < DAY and job.duration >= 30 for job in trace.jobs)


def test_files_load_by_suffix_and_csv_round_trips(tmp_path):
    original = parse_csv(CSV, "t")
    path = tmp_path / "mine.csv"
    path.write_text(to_csv(original))
    as_json = tmp_path / "mine.json"
    as_json.write_text(json.dumps([{"queue_time": 1, "duration": 2}]))

    assert load_trace(str(path)).jobs == original.jobs
    assert load_trace(str(path)).span_s == original.span_s
    assert load_trace(str(as_json)).name == "mine"


@pytest.mark.parametrize("kind", ["steady", "bursty", "working-hours"])
def test_generators_are_seeded_and_near_the_asked_rate(kind):
    shape = Shape(jobs_per_day=300, days=5, seed=11)

    first, again = generate(kind, shape), generate(kind, shape)

    assert first.jobs == again.jobs
    assert 0.8 * 1500 < len(first.jobs) < 1.2 * 1500
    assert first.span_s == 5 * DAY
    assert all(30.0 <= job.duration <= 3 * 3600.0 for job in first.jobs)


def test_bursty_jobs_come_in_bursts_during_working_hours():
    trace = generate("bursty", Shape(jobs_per_day=500, days=1, seed=5))
    times = [job.queue_time for job in trace.jobs]

    close = sum(1 for a, b in itertools.pairwise(times) if b - a <= 20.0)
    working = sum(1 for t in times if WORK_START <= t < WORK_END)

    assert close > len(times) / 2  # most jobs have a sibling queued within 20 s
    assert working > 0.75 * len(times)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("per_day", [20, 50])
def test_sparse_jobs_mostly_arrive_after_a_quiet_spell(per_day, seed):
    # GIVEN a sparse day (the gap must outlast the poller's 600 s linger)
    shape = Shape(jobs_per_day=per_day, days=1, seed=seed)
    trace = generate("sparse", shape)

    # WHEN each job is checked against the end of every job queued before it
    after_quiet, busy_until = 0, float("-inf")
    for job in trace.jobs:
        if job.queue_time - busy_until >= shape.quiet_gap_s:
            after_quiet += 1
        busy_until = max(busy_until, job.queue_time + job.duration)

    # THEN most jobs come after a quiet spell, the rest within seconds of one that did
    assert after_quiet > 0.5 * len(trace.jobs)
    assert 0.5 * per_day < len(trace.jobs) < 1.5 * per_day
    assert trace.jobs == generate("sparse", shape).jobs
    assert shape.quiet_gap_s > 600


def test_generator_shape_is_validated_by_name():
    with pytest.raises(ValueError, match="jobs_per_day"):
        Shape(jobs_per_day=0)
    with pytest.raises(ValueError, match="kind"):
        generate("spiky", Shape())
    with pytest.raises(ValueError, match="quiet_gap_s"):
        Shape(quiet_gap_s=-1)


def finished_job(n: int, queued: datetime, wait: float, ran: float) -> JobRequest:
    return JobRequest(
        request_id=n,
        queue_time=queued,
        receive_time=queued + timedelta(seconds=wait),
        finish_time=queued + timedelta(seconds=wait + ran),
        result="succeeded",
    )


def test_history_keeps_the_jobs_that_ran_in_the_window_with_their_observed_waits():
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    jobs = [
        finished_job(1, now - timedelta(hours=3), 30, 600),
        finished_job(2, now - timedelta(hours=3) + timedelta(seconds=60), 90, 120),
        JobRequest(3, now - timedelta(hours=2), result="canceled", finish_time=now),
        finished_job(4, now - timedelta(days=2), 10, 10),  # before the window
    ]

    history = history_trace(jobs, now, 1, "pool")

    assert [(j.queue_time, j.duration, j.observed_wait) for j in history.trace.jobs] == [
        (0.0, 600.0, 30.0),
        (60.0, 120.0, 90.0),
    ]
    assert history.skipped == 1
    assert history.covered_s == 3 * 3600
    assert not history.capped


def test_history_says_when_the_answer_does_not_reach_back_far_enough():
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    jobs = [finished_job(n, now - timedelta(minutes=n), 5, 60) for n in range(1, 201)]

    history = history_trace(jobs, now, 7, "pool")

    assert history.capped
    assert len(history.trace.jobs) == 200
    with pytest.raises(ValueError, match="days"):
        history_trace(jobs, now, 0, "pool")
