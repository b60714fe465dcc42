"""Harness for the agent image's scripts: a stub agent directory, tool shims, metadata.

The stub config.sh and run.sh record every call (arguments NUL-separated, environment as
``env -0``) in numbered files, so a test sees the order of configure, run and remove and
what each one was given. Their behaviour is steered by ``STUB_*`` variables.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
START_SH = REPO / "agent" / "start.sh"
SHIMS = Path(__file__).parent / "shims"
TOKEN = "pat-0Secret7token9XyZ"  # distinctive, so any leak is found by a plain search

CONFIG_STUB = r"""#!/usr/bin/env bash
# Stand-in for the agent's config.sh: records its call, then succeeds or fails on request.
set -u
rec=${STUB_RECORD_DIR:?}
n=$(( $(cat "$rec/seq" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$rec/seq"
kind=config; [[ ${1:-} == remove ]] && kind=remove
printf '%s\0' "$@" > "$rec/$(printf %03d "$n")-$kind.args"
env -0 > "$rec/$(printf %03d "$n")-$kind.env"
if [[ $kind == remove ]]; then
    k=$(( $(cat "$rec/removes" 2>/dev/null || echo 0) + 1 )); echo "$k" > "$rec/removes"
    (( k > ${STUB_REMOVE_FAILURES:-0} )) || exit 1
    exit 0
fi
exit "${STUB_CONFIG_EXIT:-0}"
"""

RUN_STUB = r"""#!/usr/bin/env bash
# Stand-in for the agent's run.sh: records its call; exits with the next STUB_RUN_EXITS
# code, or with STUB_RUN_BLOCK=1 "runs a job" until it is sent SIGTERM (=stubborn: a job
# that ignores SIGTERM).
set -u
rec=${STUB_RECORD_DIR:?}
n=$(( $(cat "$rec/seq" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$rec/seq"
printf '%s\0' "$@" > "$rec/$(printf %03d "$n")-run.args"
env -0 > "$rec/$(printf %03d "$n")-run.env"
r=$(( $(cat "$rec/runs" 2>/dev/null || echo 0) + 1 )); echo "$r" > "$rec/runs"
read -r -a codes <<< "${STUB_RUN_EXITS:-0}"
if [[ -n ${STUB_WORK_DIR:-} ]]; then
    # what the job found in the work directory, then leftovers of its own (a hidden one too)
    (cd "$STUB_WORK_DIR" && find . -mindepth 1 | sort) > "$rec/$(printf %03d "$n")-run.work"
    mkdir -p "$STUB_WORK_DIR/s/$r"
    echo "secret of job $r" > "$STUB_WORK_DIR/s/$r/.env"; touch "$STUB_WORK_DIR/.job-$r"
fi
if (( r < ${STUB_RUN_BLOCK_FROM:-1} )); then
    # an earlier job of a reusable agent: done at once (optionally signalling start.sh
    # right after it, i.e. between two jobs)
    if [[ ${STUB_TERM_PARENT_AFTER:-} == "$r" ]]; then kill -TERM "$PPID"; fi
    exit "${codes[r-1]:-0}"
fi
if [[ ${STUB_RUN_BLOCK:-0} == stubborn ]]; then
    trap 'echo TERM >> "$rec/run-signals"' TERM
    touch "$rec/running"
    for ((i = 0; i < 300; i++)); do sleep 0.1; done
    exit 99
fi
if [[ ${STUB_RUN_BLOCK:-0} == 1 ]]; then
    trap 'echo TERM >> "$rec/run-signals"; kill "$job" 2>/dev/null; wait "$job"; exit 0' TERM
    sleep 30 & job=$!
    touch "$rec/running"
    wait "$job"
    exit 99
fi
exit "${codes[r-1]:-0}"
"""


@dataclass(frozen=True)
class Call:
    """One recorded call of the stub agent."""

    kind: str  # config | remove | run
    args: list[str]
    env: dict[str, str]


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str
    calls: list[Call]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def kinds(self) -> list[str]:
        return [call.kind for call in self.calls]

    def only(self, kind: str) -> Call:
        matches = [call for call in self.calls if call.kind == kind]
        assert len(matches) == 1, f"expected one {kind} call, got {self.kinds()}"
        return matches[0]


def _read_env(path: Path) -> dict[str, str]:
    env = {}
    for entry in path.read_bytes().split(b"\0"):
        if entry:
            name, _, value = entry.decode().partition("=")
            env[name] = value
    return env


def read_calls(record_dir: Path) -> list[Call]:
    calls = []
    for args_file in sorted(record_dir.glob("*.args")):
        kind = args_file.stem.split("-", 1)[1]
        raw = args_file.read_bytes()
        args = [arg.decode() for arg in raw.split(b"\0")[:-1]] if raw else []
        env_file = args_file.with_suffix(".env")
        calls.append(Call(kind, args, _read_env(env_file) if env_file.exists() else {}))
    return calls


def install_shims(bin_dir: Path, tools: tuple[str, ...]) -> None:
    """Put the Python stand-ins for ``tools`` in ``bin_dir`` under the tools' names."""
    for tool in tools:
        target = bin_dir / tool
        source = (SHIMS / f"{tool}.py").read_text()
        target.write_text(f"#!{sys.executable}\n{source}")
        target.chmod(0o755)


class Agent:
    """A stub agent home plus a way to run start.sh against it."""

    def __init__(self, root: Path, forced_shims: tuple[str, ...] = ()) -> None:
        self.home = root / "agent"
        self.records = root / "records"
        self.bin = root / "bin"
        for directory in (self.home, self.records, self.bin):
            directory.mkdir()
        for name, text in (("config.sh", CONFIG_STUB), ("run.sh", RUN_STUB)):
            (self.home / name).write_text(text)
            (self.home / name).chmod(0o755)
        missing = tuple(tool for tool in ("jq", "curl") if shutil.which(tool) is None)
        install_shims(self.bin, tuple(sorted(set(missing) | set(forced_shims))))
        self.root = root

    def environment(self, overrides: Mapping[str, str | None]) -> dict[str, str]:
        env = {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(self.root),
            "AGENT_HOME": str(self.home),
            "STUB_RECORD_DIR": str(self.records),
            "AZP_URL": "https://dev.azure.com/contoso",
            "AZP_POOL": "linux-pool",
            "AZP_TOKEN": TOKEN,
            "AZP_AGENT_NAME": "adoscale-web-0123456789ab",
            "AZP_REMOVE_RETRY_SECONDS": "0",
            "AZP_RELAUNCH_DELAY_SECONDS": "0",
        }
        for name, value in overrides.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return env

    def _result(self, returncode: int, stdout: str, stderr: str) -> Result:
        result = Result(returncode, stdout, stderr, read_calls(self.records))
        assert TOKEN not in result.output, "start.sh printed the token"
        return result

    def run(self, **overrides: str | None) -> Result:
        completed = subprocess.run(
            ["bash", str(START_SH)],
            env=self.environment(overrides),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return self._result(completed.returncode, completed.stdout, completed.stderr)

    def run_and_signal(
        self, signum: signal.Signals, block: str = "1", **overrides: str | None
    ) -> Result:
        """Start a blocking job, send ``signum`` to start.sh once the job runs."""
        env = self.environment({"STUB_RUN_BLOCK": block, **overrides})
        with subprocess.Popen(
            ["bash", str(START_SH)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            deadline = time.monotonic() + 10
            while not (self.records / "running").exists():
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the stub job never started"
                time.sleep(0.02)
            process.send_signal(signum)
            stdout, stderr = process.communicate(timeout=20)
        return self._result(process.returncode, stdout, stderr)

    def run_signals(self) -> list[str]:
        path = self.records / "run-signals"
        return path.read_text().split() if path.exists() else []


class MetadataServer:
    """A local ECS task metadata endpoint (v4) that answers ``GET <base>/task``."""

    def __init__(self) -> None:
        self.status = 200
        self.body: object = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                payload = json.dumps(server.body).encode()
                code = server.status if self.path.endswith("/task") else 404
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        host, port = self.httpd.server_address[:2]
        self.base_url = f"http://{host}:{port}/v4/0123abcd-metadata"

    def __enter__(self) -> MetadataServer:
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def tool_variants() -> list[str]:
    """``system`` where the real jq and curl exist, ``shims`` always."""
    have_tools = all(shutil.which(tool) for tool in ("jq", "curl"))
    return (["system"] if have_tools else []) + ["shims"]
