"""`adoscale local` end to end: moto, the real workflow and handlers, the simulated organisation.

Each run is its own process (as `make demo` runs it): the step Lambdas cache their
settings and clients per process, exactly like warm Lambda containers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCENARIOS = Path(__file__).parent / "scenarios"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.slow  # still part of `make test`


def run_local(scenario: str, report_dir: Path) -> tuple[subprocess.CompletedProcess, dict]:
    command = [
        sys.executable,
        "-m",
        "adoscale.cli.main",
        "local",
        "--scenario",
        str(SCENARIOS / scenario),
        "--no-view",
        "--report-dir",
        str(report_dir),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    report_file = report_dir / "report.json"
    assert report_file.exists(), result.stdout + result.stderr
    return result, json.loads(report_file.read_text())


def assert_back_at_standby(report: dict) -> None:
    assert report["settled"], report["notes"]
    for queue, end in report["final"].items():
        assert end["placeholder"], f"{queue}: placeholder missing"
        assert end["at_standby"], f"{queue}: {end}"
        assert end["idle"] == end["standby"]


def test_short_scenario_runs_every_job_stops_no_busy_agent_and_returns_to_standby(tmp_path):
    # GIVEN a burst, a job with demands on its own queue and a straggler
    # WHEN the local mode runs it against the real control plane
    result, report = run_local("short.yaml", tmp_path)

    # THEN every job ran, nothing busy was stopped, and the fleet is back at standby
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert report["ok"] is True
    assert report["jobs"]["expected"] == 6
    assert report["jobs"]["succeeded"] == 6
    assert report["jobs"]["not_run"] == []
    assert report["busy_agents_stopped"] == 0
    assert report["busy_agent_stops"] == []
    assert report["alerts"] == []
    assert report["poll_failures"] == []
    assert_back_at_standby(report)
    # the burst needed a scale-out, and every execution succeeded
    assert report["executions"]["scale_out"].keys() == {"SUCCEEDED"}
    assert all(set(statuses) == {"SUCCEEDED"} for statuses in report["executions"].values())
    assert report["wait_seconds"]["p95"] is not None
    assert report["agent_minutes"] > 0
    assert Path(report["timeline_png"]).read_bytes()[:8] == PNG_MAGIC
    assert "jobs run" in result.stdout


def test_fault_scenario_raises_one_alert_and_recovers(tmp_path):
    # GIVEN Azure DevOps answering 500 to the job listing for three simulated minutes
    # WHEN jobs keep arriving through the fault
    result, report = run_local("fault.yaml", tmp_path)

    # THEN exactly one alert (deduplicated across the failing cycles) ...
    assert [(a["kind"], a["queue"], a["source"]) for a in report["alerts"]] == [
        ("ado_unavailable", "ci", "adoscale")
    ]
    # ... and the queue caught up: every job ran, one of them only after the fault
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["jobs"]["succeeded"] == report["jobs"]["expected"] == 4
    assert report["wait_seconds"]["max"] > 60
    assert report["busy_agents_stopped"] == 0
    assert_back_at_standby(report)


def test_reusable_agents_run_several_jobs_each_and_retire_after_their_idle_time(tmp_path):
    # GIVEN a queue whose agents may run five jobs each: a burst, then a trickle of jobs
    # WHEN the local mode runs it against the real control plane
    result, report = run_local("reuse.yaml", tmp_path)

    # THEN every job ran on fewer agents than jobs, nothing busy was stopped, and the
    # surplus agents retired after their idle time: back to standby (none)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert report["ok"] is True
    assert report["jobs"]["succeeded"] == report["jobs"]["expected"] >= 6
    assert report["jobs"]["agents"] < report["jobs"]["succeeded"]
    assert report["busy_agents_stopped"] == 0
    assert report["alerts"] == []
    assert_back_at_standby(report)
    assert report["executions"]["scale_in"].keys() == {"SUCCEEDED"}


def test_an_ec2_profile_starts_its_agents_after_the_instance_boot(tmp_path):
    # GIVEN a queue on an agent profile whose start-up includes an instance boot (3m30s)
    # WHEN two jobs arrive
    result, report = run_local("ec2.yaml", tmp_path)

    # THEN both ran on agents the workflow launched for that profile, neither agent was
    # stopped as "not registering" while its instance booted, and each job waited the boot
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["jobs"]["succeeded"] == 2
    assert report["alerts"] == []
    assert report["busy_agents_stopped"] == 0
    assert report["wait_seconds"]["p50"] >= 210
    assert_back_at_standby(report)
