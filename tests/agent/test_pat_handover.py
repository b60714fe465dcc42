"""The PAT's way into an agent task, run as ECS would run it, and a job looking for it.

The init container (``agent/handover.sh``) receives the PATs as ECS secrets and writes
the named organisation's PAT to the task's volume; the agent container starts once it
exited 0, under its init process (here a stand-in whose environment is exactly what ECS
injects into the agent container), and ``start.sh`` registers and runs one job. The stub
job then searches every process's environment, command line and open files, and every
file under the agent's home, HOME, the temporary directory and the volume: the PAT must
be nowhere. Each test uses a fresh random PAT, so processes outside the test cannot
match by accident.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from adoscale.core import capability_rules
from tests.agent.harness import START_SH, Agent

HANDOVER_SH = START_SH.with_name("handover.sh")
SCANNER = Path(__file__).with_name("scan_for_pat.py")
# The stand-in for tini, the container's PID 1: starts start.sh and passes on its status.
INIT = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"


def new_pat() -> str:
    return "pat-" + secrets.token_urlsafe(24)


def hand_over(agent: Agent, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the init container's script with the environment ECS would give it."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AZP_AGENT_UID": str(os.getuid())}
    return subprocess.run(
        ["bash", str(HANDOVER_SH)],
        env={**base, "AZP_TOKEN_FILE": str(agent.token_file), **environment},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def run_task(agent: Agent, pat: str, **extra: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    """The whole task: init container, then the agent container under its init process."""
    agent.token_file.unlink(missing_ok=True)
    handed = hand_over(agent, {"AZP_ORGANIZATION": "contoso", "AZP_PAT_CONTOSO": pat})
    assert handed.returncode == 0, handed.stderr
    tmp = agent.root / "tmp"
    tmp.mkdir(exist_ok=True)
    scanner = agent.bin / "scan-for-pat"
    scanner.write_text(f"#!{sys.executable}\n{SCANNER.read_text()}")
    scanner.chmod(0o755)
    environment = agent.environment(
        {
            "TMPDIR": str(tmp),
            "AZP_CAPABILITIES": json.dumps({"docker": "", "java.version": "17"}),
            "STUB_SCAN": str(scanner),
            "STUB_SCAN_NEEDLE_REVERSED": pat[::-1],
            "STUB_SCAN_ROOTS": ":".join(
                str(path) for path in (agent.home, agent.root, tmp, agent.handover)
            ),
            **extra,
        }
    )
    completed = subprocess.run(
        [sys.executable, "-c", INIT, "bash", str(START_SH)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    scans = sorted(agent.records.glob("scan-*.json"))
    assert scans, completed.stderr
    return completed, json.loads(scans[-1].read_text())


def test_the_init_step_leaves_the_pat_readable_only_by_the_agent_user(agent: Agent) -> None:
    pat = new_pat()

    handed = hand_over(agent, {"AZP_ORGANIZATION": "my-org", "AZP_PAT_MY_ORG": pat})

    assert handed.returncode == 0, handed.stderr
    assert agent.token_file.read_text() == pat
    assert stat.S_IMODE(agent.token_file.stat().st_mode) == 0o400
    assert stat.S_IMODE(agent.handover.stat().st_mode) == 0o700
    assert agent.token_file.stat().st_uid == os.getuid()
    assert pat not in handed.stdout + handed.stderr
    assert [p.name for p in agent.handover.iterdir()] == ["pat"]  # no temporary left


@pytest.mark.parametrize(
    ("environment", "mentions"),
    [
        ({"AZP_PAT_CONTOSO": "x"}, "AZP_ORGANIZATION"),
        ({"AZP_ORGANIZATION": "../etc", "AZP_PAT_CONTOSO": "x"}, "AZP_ORGANIZATION"),
        ({"AZP_ORGANIZATION": "fabrikam", "AZP_PAT_CONTOSO": "x"}, "AZP_PAT_FABRIKAM"),
        ({"AZP_ORGANIZATION": "contoso", "AZP_PAT_CONTOSO": "x", "AZP_AGENT_UID": "me"}, "UID"),
    ],
    ids=["no-organisation", "bad-name", "organisation-not-listed", "bad-uid"],
)
def test_the_init_step_refuses_what_it_cannot_hand_over(
    agent: Agent, environment: dict[str, str], mentions: str
) -> None:
    handed = hand_over(agent, environment)

    assert handed.returncode == 2
    assert mentions in handed.stderr
    assert not agent.token_file.exists()


def test_no_process_or_file_holds_the_pat_while_the_job_runs(agent: Agent) -> None:
    pat = new_pat()

    completed, scan = run_task(agent, pat)

    # THEN the agent registered with this PAT, then the job ran and found it nowhere
    assert completed.returncode == 0, completed.stderr
    digest = hashlib.sha256(pat.encode()).hexdigest()
    assert agent_config_token(agent) == f"sha256:{digest}"
    assert scan["found"] == []
    assert scan["checked"]["environ"] >= 4  # at least init, start.sh, run.sh, the job
    assert scan["checked"]["cmdline"] >= 4
    assert scan["checked"]["file"] >= 3
    assert not agent.token_file.exists()
    assert pat not in completed.stdout + completed.stderr


def test_the_search_finds_a_pat_left_in_the_containers_environment(agent: Agent) -> None:
    """The design this replaces (the PAT as an ECS secret of the agent container): the
    same job finds it, so an empty search above means something."""
    pat = new_pat()

    completed, scan = run_task(agent, pat, AZP_PAT_CONTOSO=pat)

    assert completed.returncode == 0, completed.stderr
    assert any(place.startswith("environ:") for place in scan["found"]), scan


def agent_config_token(agent: Agent) -> str:
    (config_env,) = agent.records.glob("*-config.env")
    entries = config_env.read_bytes().split(b"\0")
    (token,) = [e for e in entries if e.startswith(b"VSTS_AGENT_INPUT_TOKEN=")]
    return token.decode().split("=", 1)[1]


def bash_array(name: str) -> list[str]:
    match = re.search(rf"^readonly {name}=\((.*)\)$", START_SH.read_text(), re.MULTILINE)
    assert match, name
    return match.group(1).split()


def test_start_sh_applies_the_schemas_capability_rules() -> None:
    """One rule in two languages: the deny-lists and the name pattern must not drift."""
    assert tuple(bash_array("DENIED_PREFIXES")) == capability_rules.DENIED_PREFIXES
    assert set(bash_array("DENIED_NAMES")) == capability_rules.DENIED_NAMES
    match = re.search(r"^readonly CAPABILITY_NAME_PATTERN='\^(.*)\$'$", START_SH.read_text(), re.M)
    assert match
    assert match.group(1) == capability_rules.NAME_PATTERN.pattern


@pytest.mark.parametrize(
    "name",
    [
        "BASH_FUNC_cat%%",
        "BASH_ENV",
        "LD_PRELOAD",
        "SHELLOPTS",
        "ENV",
        "IFS",
        "https_proxy",
        "Lc_all",
        "VSTS_AGENT_INPUT_TOKEN",
        "HOSTNAME",
        "-rf",
        "1abc",
    ],
)
def test_start_sh_refuses_names_the_schema_refuses(agent: Agent, name: str) -> None:
    assert capability_rules.name_problem(name) is not None

    result = agent.run(AZP_CAPABILITIES=json.dumps({name: "() { :; }"}))

    assert result.returncode == 2
    assert "AZP_CAPABILITIES" in result.stderr
    assert result.calls == []
