"""Benchmark: one poll cycle of 200 queues against the fake Azure DevOps at 100 ms a request.

Targets (issue 2): at most 1.5 s a cycle, at most 2 Azure DevOps requests per queue, the
handler module's cold import at most 300 ms, peak memory under 128 MB.

Azure DevOps (the fake server) and AWS (moto) each run in a child process of their own, so
the measured process holds only what a Lambda container would: the handler, its clients
and its data. Each measured cycle is a new minute, so its executions really start.

Besides wall time, each cycle's CPU time in the measured process is recorded: on this
2-core machine the fake Azure DevOps and moto compete with the poller for the same cores,
which a Lambda talking to real services over the network does not.

Two shapes of cycle are measured: "typical" (of 200 queues, 20 have waiting jobs, 20 have
surplus idle agents, the rest are busy or quiet) and "burst" (every queue has waiting jobs
at once: 200 StartExecution calls in one cycle).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

QUEUES = 200
LATENCY_SECONDS = 0.1
WARM_CYCLES = 5
IMPORT_RUNS = 9
ROOT = Path(__file__).resolve().parent.parent
CREDENTIALS = {
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
}
PAT = "bench-pat-0123456789"

ADO_WORLD = textwrap.dedent(
    """
    import sys
    from adoscale.local.ado_server import FakeAdoServer
    from bench.poll_bench import add_queue
    queues, latency, shape = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    ado = FakeAdoServer(pat=sys.argv[4], parallel_jobs=100000).start()
    for n in range(queues):
        name = f"q{n:03d}"
        add_queue(ado, name, n, burst=shape == "burst")
    ado.latency_seconds = latency
    print(ado.base_url, flush=True)
    sys.stdin.read()
    """
)

AWS_WORLD = textwrap.dedent(
    """
    import json, logging, os, sys
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(AWS_ENDPOINT_URL=f"http://{host}:{port}", MOTO_PORT=str(port))
    sys.path.insert(0, sys.argv[3])
    from tests.support.stack import create_poller_stack
    from adoscale.aws.store import to_attribute_map
    stack = create_poller_stack(sys.argv[4], sys.argv[2])
    for n in range(int(sys.argv[1])):
        stack.client("dynamodb").put_item(TableName="queues", Item=to_attribute_map(
            {"queue": f"q{n:03d}", "pool": f"q{n:03d}", "max_agents": 10}))
    env = dict(stack.env, ADOSCALE_ADO_READ_TIMEOUT="10", ADOSCALE_ADO_CONNECT_TIMEOUT="3",
               AWS_ENDPOINT_URL=os.environ["AWS_ENDPOINT_URL"])
    print(json.dumps(env), flush=True)
    sys.stdin.read()
    """
)

CYCLE = textwrap.dedent(
    """
    import json, resource, sys, time
    from datetime import UTC, datetime, timedelta
    from adoscale.handlers import poller
    times, cpu_times, requests, started = [], [], [], []
    first_minute = datetime.now(UTC).replace(second=0, microsecond=0)
    runtime = poller.handler.built.runtime  # what the handler builds on its first invocation
    for cycle in range(1 + int(sys.argv[1])):
        if cycle:
            runtime.poller._clock = lambda c=cycle: first_minute + timedelta(minutes=c)
        began, cpu = time.perf_counter(), time.process_time()
        runtime.deadline.reset()
        report = runtime.poller.poll()  # one cycle (the handler runs several a minute)
        times.append(time.perf_counter() - began)
        cpu_times.append(time.process_time() - cpu)
        result = report.to_result()
        requests.append(report.ado_requests)
        started.append(len(report.started))
        assert not result["errors"], result["errors"][:3]
    print(json.dumps({
        "cycle_seconds": times,
        "cycle_cpu_seconds": cpu_times,
        "requests": requests,
        "executions_started": started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))
    """
)


def add_queue(ado: Any, name: str, n: int, *, burst: bool = False) -> None:
    """Queue ``n``'s pool in a fake organisation, shaped by its number: its placeholder, and
    a tenth with waiting jobs (every queue in a burst), a tenth with two surplus idle agents
    an hour old, four tenths busy, the rest quiet. Shared by the poll and scale benchmarks'
    organisations, which run it in their own processes."""
    from datetime import UTC, datetime, timedelta

    ado.add_pool(name)
    ado.register_agent(name, f"adoscale-placeholder-{name}", online=False)
    if burst or n % 10 == 0:
        for _ in range(1 + n % 3):
            ado.queue_job(name)
    elif n % 10 == 1:
        ado.now = lambda: datetime.now(UTC) - timedelta(hours=1)
        for k in range(2):
            ado.register_agent(name, f"adoscale-{name}-{n * 10 + k:012x}")
        ado.now = lambda: datetime.now(UTC)
    elif n % 10 < 6:
        agent = ado.register_agent(name, f"adoscale-{name}-{n * 10 + 5:012x}")
        ado.assign_job(ado.queue_job(name), agent)


def python_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a benchmark's child process: the repository's code, fake AWS
    credentials, and ``extra`` (endpoints the child must reach)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "functions"), str(ROOT)])
    env.update(CREDENTIALS)
    env.update(extra or {})
    return env


def child_python(script: str, *args: str) -> subprocess.Popen[str]:
    """``script`` in its own Python process (its own GIL, as each service would have)."""
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=python_env(),
        text=True,
    )


def measure_cycles(shape: str) -> dict[str, Any]:
    ado = child_python(ADO_WORLD, str(QUEUES), str(LATENCY_SECONDS), shape, PAT)
    aws = None
    try:
        assert ado.stdout is not None
        org_url = ado.stdout.readline().strip()
        aws = child_python(AWS_WORLD, str(QUEUES), org_url, str(ROOT), PAT)
        assert aws.stdout is not None
        env = json.loads(aws.stdout.readline())
        output = subprocess.check_output(
            [sys.executable, "-c", CYCLE, str(WARM_CYCLES)], env=python_env(env), text=True
        )
    finally:
        for child in (ado, aws):
            if child is not None and child.stdin:
                child.stdin.close()
                child.wait(timeout=30)
    cycles = json.loads(output)
    warm = cycles["cycle_seconds"][1:]
    warm_cpu = cycles["cycle_cpu_seconds"][1:]
    return {
        "cold_cycle_seconds": round(cycles["cycle_seconds"][0], 3),
        "warm_cycle_seconds_median": round(statistics.median(warm), 3),
        "warm_cycle_seconds_max": round(max(warm), 3),
        "warm_cycle_cpu_seconds_median": round(statistics.median(warm_cpu), 3),
        "executions_started_per_cycle": cycles["executions_started"][-1],
        "ado_requests_cold": cycles["requests"][0],
        "ado_requests_per_queue_warm": round(max(cycles["requests"][1:]) / QUEUES, 3),
        "peak_rss_mb": round(cycles["peak_rss_mb"], 1),
    }


def cold_import_ms() -> list[float]:
    """Import of the handler module in a fresh interpreter, as a Lambda cold start does."""
    code = (
        "import time; t = time.perf_counter(); import adoscale.handlers.poller; "
        "print((time.perf_counter() - t) * 1000)"
    )
    return [
        float(subprocess.check_output([sys.executable, "-c", code], env=python_env(), text=True))
        for _ in range(IMPORT_RUNS)
    ]


def run() -> dict[str, Any]:
    imports = cold_import_ms()
    return {
        "queues": QUEUES,
        "ado_latency_seconds": LATENCY_SECONDS,
        "typical": measure_cycles("typical"),
        "burst": measure_cycles("burst"),
        "cold_import_ms_median": round(statistics.median(imports), 1),
        "cold_import_ms_min": round(min(imports), 1),
        "targets": {
            "warm_cycle_seconds": 1.5,
            "ado_requests_per_queue": 2,
            "cold_import_ms": 300,
            "peak_rss_mb": 128,
        },
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
