"""`adoscale simulate --capacity`: an ec2 agent profile's start-up includes instance boot."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from adoscale.simulate.cli import simulate
from adoscale.simulate.params import STARTUP_BY_CAPACITY

# Hand-computed: one job queued 10 s in, polls once a minute, no launch delay or teardown.
FIXED = [
    *("--startup-sigma", "0", "--launch-delay", "0", "--teardown", "0"),
    *("--poll-interval", "60", "--quiet-interval", "60"),
]


@pytest.mark.parametrize(
    ("options", "startup"),
    [
        ([], 60),
        (["--capacity", "fargate"], 60),
        (["--capacity", "ec2"], 210),
        (["--capacity", "ec2", "--startup-median", "100"], 100),
    ],
    ids=["default", "fargate", "ec2", "ec2-overridden"],
)
def test_the_capacity_sets_the_start_up_a_job_waits_for(tmp_path, options, startup) -> None:
    trace = tmp_path / "one.csv"
    trace.write_text("queue_time,duration,demands\n10,300,\n")

    result = CliRunner().invoke(
        simulate, [str(trace), *FIXED, *options, "--policies", "adoscale,oracle"]
    )

    # THEN adoscale waits for the poll at 60 s plus the start-up; the oracle for the start-up
    assert result.exit_code == 0, result.output
    wait = 50 + startup
    assert f"| adoscale | {wait} | {wait} | {wait} |" in result.output
    assert f"| oracle | {startup} | {startup} | {startup} |" in result.output


def test_an_unknown_capacity_is_refused_naming_the_option(tmp_path) -> None:
    result = CliRunner().invoke(simulate, ["bursty", "--capacity", "lambda"])
    assert result.exit_code == 2
    assert "--capacity" in result.output


@pytest.mark.parametrize(
    ("capacity", "p5", "p95"), [("fargate", 40, 90), ("ec2", 130, 340)], ids=["fargate", "ec2"]
)
def test_the_documented_quantiles_are_the_distributions(capacity, p5, p95) -> None:
    startup = STARTUP_BY_CAPACITY[capacity]
    assert abs(startup.quantile(0.05) - p5) / p5 < 0.05
    assert abs(startup.quantile(0.95) - p95) / p95 < 0.05
