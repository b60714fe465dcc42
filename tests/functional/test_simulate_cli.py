"""`adoscale simulate` end to end: files, bundled traces, the sweep, PNGs, bad input, and
`--from-ado` reading a pool's history from the fake Azure DevOps over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from adoscale.ado.client import AdoClient
from adoscale.cli.main import cli
from adoscale.local.ado_server import FakeAdoServer
from adoscale.simulate.cli import simulate
from adoscale.simulate.history import job_history

PAT = "sim-history-pat-7d1f0c9e2b4a6583"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Hand-computed cases poll once a minute (the deployment polls every 20 s by default).
FIXED = [
    *("--startup-sigma", "0", "--launch-delay", "0", "--teardown", "0"),
    *("--poll-interval", "60", "--quiet-interval", "60"),
]


@pytest.fixture(autouse=True)
def no_ado_env(monkeypatch):
    for name in ("ADOSCALE_PAT", "AZURE_DEVOPS_EXT_PAT", "ADOSCALE_ORG_URL"):
        monkeypatch.delenv(name, raising=False)


def run(*args: str):
    return CliRunner().invoke(simulate, list(args))


def test_a_one_job_trace_file_gives_the_hand_computed_table(tmp_path):
    # GIVEN one job queued 10 s in, running 300 s
    trace = tmp_path / "one.csv"
    trace.write_text("queue_time,duration,demands\n10,300,\n")

    # WHEN the four policies replay it with a fixed 60 s start-up
    result = run(str(trace), *FIXED, "--json", str(tmp_path / "out.json"))

    # THEN adoscale waits for the 60 s poll + 60 s, KEDA for its 30 s poll + 60 s, the
    # scale-set's standby agent is still starting (ready at 60 s), the oracle 60 s
    assert result.exit_code == 0, result.output
    assert "| adoscale | 110 | 110 | 110 | 6 | 1.00 |" in result.output
    assert "| keda-like | 80 | 80 | 80 | 6 | 1.00 |" in result.output
    assert "| scale-set-like | 50 |" in result.output
    assert "| oracle | 60 | 60 | 60 | 6 | 1.00 |" in result.output
    document = json.loads((tmp_path / "out.json").read_text())
    rows = {row["policy"]: row for row in document["results"]}
    assert rows["adoscale"]["p95_wait_s"] == 110.0
    assert rows["oracle"]["agent_minutes"] == 6.0
    assert document["params"]["poll_interval_s"] == 60.0


def test_the_bundled_trace_and_a_png_through_the_adoscale_group(tmp_path):
    figure = tmp_path / "cmp.png"

    result = CliRunner().invoke(
        cli, ["simulate", "steady", "--policies", "adoscale,oracle", "--png", str(figure)]
    )

    assert result.exit_code == 0, result.output
    assert "trace `steady`: 398 jobs" in result.output
    assert figure.read_bytes().startswith(PNG_MAGIC)


def test_a_sweep_prints_the_front_and_a_recommendation_and_draws_it(tmp_path):
    trace = tmp_path / "tiny.json"
    trace.write_text(
        json.dumps(
            {
                "span_s": 600,
                "jobs": [{"queue_time": 30, "duration": 100}, {"queue_time": 400, "duration": 100}],
            }
        )
    )
    figure = tmp_path / "sweep.png"

    result = run(
        str(trace),
        *FIXED,
        "--sweep",
        "--standby-values",
        "0,1",
        "--idle-values",
        "5",
        "--png",
        str(figure),
        "--json",
        str(tmp_path / "sweep.json"),
    )

    assert result.exit_code == 0, result.output
    assert "| 0 | 5 | 85 | 90 | 5 | 1.00 | **recommended** |" in result.output
    assert "| 1 | 5 | 15 | 28 | 13 | 2.44 | yes |" in result.output
    assert "recommended: standby_agents=0, idle_timeout_minutes=5" in result.output
    assert figure.read_bytes().startswith(PNG_MAGIC)
    assert json.loads((tmp_path / "sweep.json").read_text())["recommended"] == {
        "standby_agents": 0,
        "idle_timeout_minutes": 5,
    }


def test_a_generated_trace_can_be_saved_and_replayed(tmp_path):
    saved = tmp_path / "gen.csv"

    first = run("--generate", "bursty", "--jobs-per-day", "50", "--save-trace", str(saved))
    again = run(str(saved))

    assert first.exit_code == 0, first.output
    assert again.exit_code == 0, again.output
    table = [line for line in first.output.splitlines() if line.startswith("| ")]
    assert table == [line for line in again.output.splitlines() if line.startswith("| ")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bad.csv"], "trace: no such file 'bad.csv'"),
        (["steady", "--generate", "steady"], "give one of TRACE, --generate and --from-ado"),
        (["--policies", "adoscale,karpenter"], "--policies: unknown karpenter"),
        (["--standby", "5", "--max-agents", "2"], "standby_agents: must be 0..max_agents"),
        (["--capabilities", "{docker}"], "--capabilities: not JSON"),
        (["--capabilities", '{"docker": 1}'], "--capabilities: expected an object of strings"),
        (["--sweep", "--idle-values", "5,x"], "--idle-values: 'x' is not a whole number"),
        (["--from-ado", "linux"], "--org-url: required with --from-ado"),
        (
            ["--from-ado", "linux", "--org-url", "http://127.0.0.1:9/org"],
            "ADOSCALE_PAT: not set",
        ),
    ],
    ids=[
        "missing-file",
        "two-sources",
        "unknown-policy",
        "standby-above-max",
        "capabilities-json",
        "capabilities-type",
        "sweep-values",
        "org-url",
        "pat",
    ],
)
def test_bad_input_exits_2_naming_the_option(args, message):
    result = run(*args)

    assert result.exit_code == 2, result.output
    assert message in result.output


def test_a_broken_trace_file_reports_every_bad_line(tmp_path):
    trace = tmp_path / "broken.csv"
    trace.write_text("queue_time,duration\n1,x\n-2,5\n")

    result = run(str(trace))

    assert result.exit_code == 2
    assert "error: broken line 2: duration: not a number: 'x'" in result.output
    assert "error: broken line 3: queue_time: must be >= 0, got -2" in result.output


@pytest.fixture
def history():
    """A pool whose history holds two jobs that ran, one cancelled and one too old."""
    now = datetime.now(UTC).replace(microsecond=0)
    clock = {"now": now - timedelta(hours=2)}
    with FakeAdoServer(pat=PAT, now=lambda: clock["now"]) as ado:
        pool = ado.add_pool("linux")
        agent_a = ado.register_agent(pool, "adoscale-q-00000000000a")
        agent_b = ado.register_agent(pool, "adoscale-q-00000000000b")
        start = clock["now"]

        def at(seconds: float) -> None:
            clock["now"] = start + timedelta(seconds=seconds)

        ado.queue_job(pool, queue_time=now - timedelta(days=3))  # outside --days 1
        first = ado.queue_job(pool, ["docker"], queue_time=start)
        second = ado.queue_job(pool, queue_time=start + timedelta(seconds=60))
        cancelled = ado.queue_job(pool, queue_time=start + timedelta(seconds=70))
        at(30)
        ado.assign_job(first, agent_a)
        ado.start_job(first)  # waited 30 s
        at(100)
        ado.finish_job(cancelled, "canceled")
        at(150)
        ado.assign_job(second, agent_b)
        ado.start_job(second)  # waited 90 s
        at(270)
        ado.finish_job(second)  # ran 120 s
        at(630)
        ado.finish_job(first)  # ran 600 s
        clock["now"] = now
        yield ado, pool


def test_from_ado_replays_the_pools_finished_jobs(history, monkeypatch, tmp_path):
    ado, _pool = history
    monkeypatch.setenv("ADOSCALE_PAT", PAT)
    saved = tmp_path / "history.csv"

    result = run(
        "--from-ado",
        "linux",
        "--days",
        "1",
        "--org-url",
        ado.base_url,
        *FIXED,
        "--policies",
        "adoscale,oracle",
        "--save-trace",
        str(saved),
    )

    # THEN the two jobs that ran are the trace (offsets 0 and 60 s, 600 and 120 s long),
    # the oracle gives each 60 s, and the observed waits (30, 90) are shown beside it
    assert result.exit_code == 0, result.output
    assert "trace `linux-history`: 2 jobs" in result.output
    assert "| oracle | 60 | 60 | 60 | 14 | 1.00 |" in result.output
    assert "| observed (history, 2 jobs) | 60 | 87 | 90 | - | - | - |" in result.output
    assert "1 jobs never ran" in result.output
    assert saved.read_text().splitlines()[-2:] == ["0.0,600.0,docker,30.0", "60.0,120.0,,90.0"]
    assert PAT not in result.output


def test_job_history_reads_finished_jobs_with_top(history):
    ado, pool = history
    ado.reset_log()

    jobs = job_history(AdoClient(ado.base_url, PAT), pool)

    assert len(jobs) == 4
    assert sum(1 for job in jobs if job.finished) == 3
    assert ado.count("jobrequests") == 1


def test_from_ado_with_a_wrong_pat_exits_1_without_the_pat(history, monkeypatch):
    ado, _pool = history
    monkeypatch.setenv("AZURE_DEVOPS_EXT_PAT", "wrong-pat-0000")

    result = run("--from-ado", "linux", "--org-url", ado.base_url)

    assert result.exit_code == 1
    assert "error: ado_auth" in result.output
    assert "wrong-pat-0000" not in result.output


def test_python_dash_m_runs_the_same_command():
    completed = subprocess.run(
        [sys.executable, "-m", "adoscale.simulate", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert completed.returncode == 0, completed.stderr
    assert "Usage: python -m adoscale.simulate [OPTIONS] [TRACE]" in completed.stdout
    assert "--from-ado POOL" in completed.stdout
