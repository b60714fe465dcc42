"""Reusable agents: start.sh with AZP_MAX_JOBS runs up to N jobs under one registration.

The stub run.sh takes one "job" per call; with ``STUB_WORK_DIR`` it records what it found
in the work directory and leaves files (a hidden secret too) for the next job to find.
Assertions ignore a final deregistration call, which is the control plane's business.
"""

from __future__ import annotations

import random
import signal
from pathlib import Path

import pytest

from tests.agent.harness import TOKEN, Agent, Result

SEED = 20261201
RANDOM_JOBS = random.Random(SEED).sample(range(4, 40), 2)


def calls_without_removal(result: Result) -> list[str]:
    return [kind for kind in result.kinds() if kind != "remove"]


def work_seen_by_each_job(agent: Agent) -> list[list[str]]:
    """Per run.sh call, in order: the work directory's entries when the job started."""
    return [
        [line for line in path.read_text().splitlines() if line]
        for path in sorted(agent.records.glob("*-run.work"))
    ]


@pytest.mark.parametrize("jobs", [1, 3, *RANDOM_JOBS], ids=lambda n: f"{n}-jobs")
def test_runs_up_to_n_jobs_registering_once_on_a_clean_work_directory(
    agent: Agent, tmp_path: Path, jobs: int
) -> None:
    # GIVEN a reusable agent allowed N jobs, each leaving files in the work directory
    work = tmp_path / "work"
    work.mkdir()
    (work / "from-the-image").touch()  # whatever was there before the first job stays

    result = agent.run(AZP_MAX_JOBS=str(jobs), AZP_WORK=str(work), STUB_WORK_DIR=str(work))

    # THEN it registered once, ran exactly N jobs, and exited 0 after the N-th
    assert result.returncode == 0, result.stderr
    assert calls_without_removal(result) == ["config"] + ["run"] * jobs
    assert all(call.args == ["--once"] for call in result.calls if call.kind == "run")
    # AND every job after the first found an empty work directory
    seen = work_seen_by_each_job(agent)
    assert seen[0] == ["./from-the-image"]
    assert all(entries == [] for entries in seen[1:]), seen
    # AND the PAT reached no job
    for call in result.calls:
        if call.kind == "run":
            assert not any(TOKEN in value for value in call.env.values())
    assert f"job {jobs} of {jobs}" in result.stderr


def test_one_job_is_the_default(agent: Agent) -> None:
    result = agent.run(AZP_MAX_JOBS=None)

    assert calls_without_removal(result) == ["config", "run"]


@pytest.mark.parametrize(
    ("run_exits", "jobs", "runs", "status"),
    [
        ("0 1 0", 3, 2, 1),
        ("0 0 0 42", 5, 4, 42),
        ("0 4 0 0", 3, 4, 0),
        ("4 4", 3, 2, 4),
    ],
    ids=["failed-listener-stops", "last-status-kept", "update-is-no-job", "update-loop-stops"],
)
def test_a_failing_listener_ends_the_agent_with_its_status(
    agent: Agent, run_exits: str, jobs: int, runs: int, status: int
) -> None:
    result = agent.run(AZP_MAX_JOBS=str(jobs), STUB_RUN_EXITS=run_exits)

    assert result.returncode == status
    assert calls_without_removal(result) == ["config"] + ["run"] * runs


def test_sigterm_between_jobs_starts_no_further_job(agent: Agent, tmp_path: Path) -> None:
    # GIVEN a reusable agent whose second job ends just as start.sh is told to stop
    work = tmp_path / "work"
    result = agent.run(
        AZP_MAX_JOBS="5",
        AZP_WORK=str(work),
        STUB_WORK_DIR=str(work),
        STUB_RUN_BLOCK_FROM="99",
        STUB_TERM_PARENT_AFTER="2",
    )

    # THEN no third job is taken and start.sh exits 143
    assert calls_without_removal(result) == ["config", "run", "run"]
    assert result.returncode == 143
    assert agent.run_signals() == []


@pytest.mark.parametrize(
    ("signum", "status"),
    [(signal.SIGTERM, 143), (signal.SIGINT, 130)],
    ids=["SIGTERM", "SIGINT"],
)
def test_signal_during_a_later_job_stops_that_job_and_the_agent(
    agent: Agent, signum: signal.Signals, status: int
) -> None:
    # GIVEN two jobs done and a third running WHEN start.sh is signalled
    result = agent.run_and_signal(signum, AZP_MAX_JOBS="5", STUB_RUN_BLOCK_FROM="3")

    # THEN the running job's process group got SIGTERM and no fourth job was started
    assert agent.run_signals() == ["TERM"]
    assert calls_without_removal(result) == ["config", "run", "run", "run"]
    assert result.returncode == status


@pytest.mark.parametrize("value", ["0", "1001", "two", "-3", "1.5", " "], ids=repr)
def test_bad_max_jobs_is_named_and_registers_nothing(agent: Agent, value: str) -> None:
    result = agent.run(AZP_MAX_JOBS=value)

    assert result.returncode == 2
    assert "AZP_MAX_JOBS" in result.stderr
    assert result.kinds() == []


@pytest.mark.parametrize("work", [".", "/"], ids=["agent-home", "root"])
def test_a_work_directory_that_is_the_agent_or_root_is_never_emptied(
    agent: Agent, work: str
) -> None:
    # GIVEN a misconfigured work directory WHEN the first job ends
    result = agent.run(AZP_MAX_JOBS="3", AZP_WORK=work)

    # THEN nothing is deleted and the agent takes no further job
    assert calls_without_removal(result) == ["config", "run"]
    assert "refusing to clean" in result.stderr
    assert (agent.home / "run.sh").exists()
