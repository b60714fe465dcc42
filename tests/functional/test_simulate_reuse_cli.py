"""`adoscale simulate` with reusable agents: the options, the reuse sweep, bad input."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from adoscale.simulate.cli import simulate

FIXED = ["--startup-sigma", "0", "--launch-delay", "0", "--teardown", "0", "--poll-interval", "60"]


def run(*args: str):
    return CliRunner().invoke(simulate, list(args))


def test_two_jobs_on_one_reusable_agent_as_computed_by_hand(tmp_path):
    # GIVEN two 100 s jobs queued at once and at most one agent
    trace = tmp_path / "two.csv"
    trace.write_text("queue_time,duration,demands\n0,100,\n0,100,\n")

    # WHEN adoscale replays it with agents that may run two jobs, the second 30 % faster
    result = run(
        str(trace),
        *FIXED,
        "--max-agents",
        "1",
        "--max-jobs-per-agent",
        "2",
        "--warm-speedup",
        "0.7",
        "--policies",
        "adoscale",
        "--json",
        str(tmp_path / "out.json"),
    )

    # THEN one agent runs both: waits 60 s and 60 + 100 (+5 s between the jobs) s
    assert result.exit_code == 0, result.output
    (row,) = json.loads((tmp_path / "out.json").read_text())["results"]
    assert row["agents_launched"] == 1
    assert row["max_wait_s"] == 165.0
    assert row["busy_minutes"] == pytest.approx((100 + 70) / 60, abs=0.05)


def test_the_reuse_sweep_prints_every_point_beside_the_peers(tmp_path):
    out = tmp_path / "reuse.json"

    result = run(
        "--generate",
        "short-jobs",
        "--jobs-per-day",
        "300",
        "--days",
        "0.5",
        "--sweep-reuse",
        "--max-jobs-values",
        "1,20",
        "--idle-values",
        "2,5",
        "--json",
        str(out),
    )

    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    grid = {(p["max_jobs_per_agent"], p["idle_minutes"]) for p in document["points"]}
    assert grid == {(1, 2), (1, 5), (20, 2), (20, 5)}
    assert [peer["policy"] for peer in document["peers"]] == [
        "keda-like",
        "scale-set-like",
        "oracle",
    ]
    assert "| 20 jobs | 5 |" in result.output
    assert "| oracle (one-job) |" in result.output


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--max-jobs-per-agent", "0"], "--max-jobs-per-agent"),
        (["--max-jobs-per-agent", "1001"], "--max-jobs-per-agent"),
        (["--warm-speedup", "0"], "--warm-speedup"),
        (["--warm-speedup", "1.2"], "--warm-speedup"),
        (["--sweep-reuse", "--max-jobs-values", "0,5"], "--max-jobs-values"),
        (["--sweep-reuse", "--idle-values", "two"], "--idle-values"),
        (["--sweep-reuse", "--sweep"], "--sweep-reuse"),
        (["--sweep-reuse", "--png", "x.png"], "--png"),
    ],
    ids=[
        "jobs-0",
        "jobs-1001",
        "speedup-0",
        "speedup-above-1",
        "values",
        "idle",
        "two-sweeps",
        "png",
    ],
)
def test_bad_reuse_options_exit_2_naming_the_option(args, named):
    result = run(*args)

    assert result.exit_code == 2, result.output
    assert named in result.output
    assert "Traceback" not in result.output


def test_a_comparison_with_reusable_agents_says_so():
    result = run(
        "bursty", "--max-jobs-per-agent", "5", "--warm-speedup", "0.8", "--policies", "adoscale"
    )

    assert result.exit_code == 0, result.output
    assert "agents run up to 5 jobs (warm speed-up 0.8)" in result.output
