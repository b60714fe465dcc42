"""Local mode with the service hook: the simulated organisation posts real webhooks (over
HTTP, with the stack's credentials) to the hook's code behind a local endpoint."""

from __future__ import annotations

from tests.e2e.test_local import run_local

HOOK_LATENCY_P95_TARGET_S = 3.0  # real seconds, webhook sent -> RunTask


def test_webhooks_launch_within_seconds_for_100_jobs_in_bursts(tmp_path):
    # GIVEN 100 jobs queued in four bursts, each posting a job-waiting webhook
    # WHEN the local mode runs them against the real control plane and the hook
    result, report = run_local("hook.yaml", tmp_path)

    # THEN every webhook was accepted, every job ran, no busy agent was stopped, and the
    # hook's p95 from webhook to RunTask is within the target in real seconds
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["jobs"]["succeeded"] == 100
    assert report["busy_agents_stopped"] == 0
    assert "service hook: 100 webhooks, 0 not accepted" in report["notes"]
    latency = report["hook_latency_seconds"]
    assert latency["webhooks"] == 100
    assert latency["p50"] <= latency["p95"] <= latency["max"]
    assert latency["p95"] <= HOOK_LATENCY_P95_TARGET_S
