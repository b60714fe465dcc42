"""Behaviour of agent/start.sh against a stub agent directory."""

from __future__ import annotations

import hashlib
import json
import signal
import time

import pytest

from tests.agent.harness import TOKEN, TOKEN_SHA256, Agent, MetadataServer

EXPECTED_CONFIG_ARGS = [
    "--unattended",
    "--url",
    "https://dev.azure.com/contoso",
    "--auth",
    "pat",
    "--pool",
    "linux-pool",
    "--agent",
    "adoscale-web-0123456789ab",
    "--work",
    "_work",
    "--replace",
    "--acceptTeeEula",
]


def test_normal_run_configures_runs_once_and_leaves_deletion_to_the_control_plane(
    agent: Agent,
) -> None:
    result = agent.run()

    assert result.returncode == 0, result.stderr
    assert result.kinds() == ["config", "run"]
    assert result.only("config").args == EXPECTED_CONFIG_ARGS
    assert result.only("run").args == ["--once"]


def test_work_directory_comes_from_azp_work(agent: Agent) -> None:
    result = agent.run(AZP_WORK="/scratch/work")

    args = result.only("config").args
    assert args[args.index("--work") + 1] == "/scratch/work"


@pytest.mark.parametrize("code", [1, 2, 42, 255], ids=["1", "2", "42", "255"])
def test_job_exit_status_is_propagated(agent: Agent, code: int) -> None:
    result = agent.run(STUB_RUN_EXITS=str(code))

    assert result.returncode == code
    assert result.kinds() == ["config", "run"]


@pytest.mark.parametrize(
    ("run_exits", "runs", "status"),
    [("4 0", 2, 0), ("4 7", 2, 7), ("4 4", 2, 4)],
    ids=["update-then-success", "update-then-failure", "relaunched-only-once"],
)
def test_exit_code_4_relaunches_the_agent_once(
    agent: Agent, run_exits: str, runs: int, status: int
) -> None:
    result = agent.run(STUB_RUN_EXITS=run_exits)

    assert result.returncode == status
    assert result.kinds() == ["config"] + ["run"] * runs
    assert all(call.args == ["--once"] for call in result.calls if call.kind == "run")


@pytest.mark.parametrize(
    ("signum", "status"),
    [(signal.SIGTERM, 143), (signal.SIGINT, 130)],
    ids=["SIGTERM", "SIGINT"],
)
def test_signal_during_a_job_stops_the_agent(
    agent: Agent, signum: signal.Signals, status: int
) -> None:
    # GIVEN a job running under run.sh WHEN start.sh is signalled
    result = agent.run_and_signal(signum)

    # THEN the agent's process group got SIGTERM and start.sh exits with 128 + the signal
    # number, without deregistering (that would need the PAT)
    assert agent.run_signals() == ["TERM"]
    assert result.kinds() == ["config", "run"]
    assert result.returncode == status


def test_job_ignoring_sigterm_is_killed_after_the_grace_period(agent: Agent) -> None:
    # GIVEN a job that ignores SIGTERM and a one-second grace period
    started = time.monotonic()
    result = agent.run_and_signal(signal.SIGTERM, block="stubborn", AZP_STOP_GRACE_SECONDS="1")

    # THEN start.sh kills the agent's group and exits 143 promptly
    assert "TERM" in agent.run_signals()
    assert "did not stop within 1s" in result.stderr
    assert result.kinds() == ["config", "run"]
    assert result.returncode == 143
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"AZP_URL": None}, "AZP_URL"),
        ({"AZP_URL": "dev.azure.com/contoso"}, "AZP_URL"),
        ({"AZP_URL": "http://dev.azure.com/contoso"}, "AZP_URL"),
        ({"AZP_URL": "https://user@evil.example/contoso"}, "AZP_URL"),
        ({"AZP_POOL": None}, "AZP_POOL"),
        ({"AZP_TOKEN_FILE": None}, "AZP_TOKEN_FILE"),
        ({"AZP_TOKEN": "pat-in-the-environment"}, "AZP_TOKEN"),
        ({"AZP_TOKEN_FILE": "/nonexistent/pat"}, "AZP_TOKEN_FILE"),
        ({"AZP_PLACEHOLDER": "yes"}, "AZP_PLACEHOLDER"),
        ({"AZP_AGENT_NAME": ""}, "AZP_AGENT_NAME"),
        ({"AZP_AGENT_NAME": None}, "AZP_AGENT_NAME"),
        ({"AZP_STOP_GRACE_SECONDS": "soon"}, "AZP_STOP_GRACE_SECONDS"),
        ({"AGENT_HOME": "/nonexistent/agent"}, "AGENT_HOME"),
    ],
    ids=[
        "no-url",
        "url-without-scheme",
        "url-plain-http",
        "url-with-user",
        "no-pool",
        "no-token-file",
        "token-in-environment-refused",
        "token-file-missing",
        "placeholder-not-0-or-1",
        "agent-name-empty",
        "no-agent-name-off-ecs",
        "grace-not-a-number",
        "agent-home-without-agent",
    ],
)
def test_bad_environment_names_the_variable_and_registers_nothing(
    agent: Agent, overrides: dict[str, str | None], variable: str
) -> None:
    result = agent.run(**overrides)

    assert result.returncode == 2
    assert variable in result.stderr
    assert result.calls == []
    if overrides.get("AZP_TOKEN"):
        assert overrides["AZP_TOKEN"] not in result.output


def test_all_missing_variables_are_reported_at_once(agent: Agent) -> None:
    result = agent.run(AZP_URL=None, AZP_POOL=None, AZP_TOKEN_FILE=None)

    assert result.returncode == 2
    for variable in ("AZP_URL", "AZP_POOL", "AZP_TOKEN_FILE"):
        assert variable in result.stderr


def test_token_reaches_only_config_sh_and_only_through_its_environment(agent: Agent) -> None:
    # GIVEN a run whose job fails (the harness checks stdout and stderr of every run)
    result = agent.run(STUB_RUN_EXITS="3")

    # THEN config.sh got the PAT in VSTS_AGENT_INPUT_TOKEN, no command line carried it,
    # no other call's environment has it, and its file is gone
    assert result.returncode == 3
    config = result.only("config")
    assert config.env["VSTS_AGENT_INPUT_TOKEN"] == f"sha256:{TOKEN_SHA256}"
    for call in result.calls:
        assert TOKEN not in call.args
        assert "AZP_TOKEN" not in call.env
        assert "AZP_TOKEN_FILE" not in call.env
        assert all(TOKEN not in value for value in call.env.values()), call.kind
    assert "VSTS_AGENT_INPUT_TOKEN" not in result.only("run").env
    assert not agent.token_file.exists()


def test_failed_configuration_exits_with_its_status_without_running(agent: Agent) -> None:
    result = agent.run(STUB_CONFIG_EXIT="9")

    assert result.returncode == 9
    assert result.kinds() == ["config"]
    assert "config.sh failed" in result.stderr


def test_placeholder_registers_and_exits_without_running_or_removing(agent: Agent) -> None:
    result = agent.run(AZP_PLACEHOLDER="1", AZP_AGENT_NAME="adoscale-placeholder-web")

    assert result.returncode == 0
    assert result.kinds() == ["config"]
    args = result.only("config").args
    assert args[args.index("--agent") + 1] == "adoscale-placeholder-web"
    assert "--replace" in args


def test_placeholder_0_runs_a_job_as_usual(agent: Agent) -> None:
    result = agent.run(AZP_PLACEHOLDER="0")

    assert result.kinds() == ["config", "run"]


@pytest.mark.parametrize(
    "content",
    ["file-token-1\n", "  file-token-1 \r\n", "file-token-1"],
    ids=["trailing-newline", "surrounding-blanks", "bare"],
)
def test_token_file_is_read_trimmed_and_deleted(agent: Agent, content: str) -> None:
    agent.hand_over(content)

    result = agent.run()

    assert result.returncode == 0, result.stderr
    digest = hashlib.sha256(b"file-token-1").hexdigest()
    assert result.only("config").env["VSTS_AGENT_INPUT_TOKEN"] == f"sha256:{digest}"
    assert "file-token-1" not in result.output
    assert not agent.token_file.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [("\n", "empty"), ("two words", "more than one word")],
    ids=["empty", "two-words"],
)
def test_unusable_token_file_is_rejected_and_still_deleted(
    agent: Agent, content: str, message: str
) -> None:
    agent.hand_over(content)

    result = agent.run()

    assert result.returncode == 2
    assert message in result.stderr
    assert result.calls == []
    assert not agent.token_file.exists()
    assert "words" not in result.output.replace(message, "")


def test_a_token_file_that_cannot_be_deleted_stops_everything(agent: Agent) -> None:
    # GIVEN a readable file nobody can delete, not even root (it would outlive configure)
    result = agent.run(AZP_TOKEN_FILE="/proc/version")

    assert result.returncode == 2
    assert "could not delete the PAT file" in result.stderr
    assert result.calls == []


def test_agent_is_named_after_the_ecs_task_id(any_agent: Agent, metadata: MetadataServer) -> None:
    # GIVEN no AZP_AGENT_NAME and an ECS task metadata endpoint
    task_id = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    metadata.body = {
        "Cluster": "adoscale",
        "TaskARN": f"arn:aws:ecs:eu-west-1:123456789012:task/adoscale/{task_id}",
    }

    # WHEN start.sh runs
    result = any_agent.run(AZP_AGENT_NAME=None, ECS_CONTAINER_METADATA_URI_V4=metadata.base_url)

    # THEN it asked the endpoint for /task and registered under the task id
    assert result.returncode == 0, result.stderr
    assert metadata.requests == ["/v4/0123abcd-metadata/task"]
    args = result.only("config").args
    assert args[args.index("--agent") + 1] == task_id


@pytest.mark.parametrize(
    ("status", "body"),
    [(404, {}), (200, {"Cluster": "adoscale"}), (200, {"TaskARN": "not-an-arn"})],
    ids=["endpoint-fails", "no-task-arn", "malformed-arn"],
)
def test_unusable_task_metadata_names_the_variables(
    any_agent: Agent, metadata: MetadataServer, status: int, body: object
) -> None:
    metadata.status, metadata.body = status, body

    result = any_agent.run(AZP_AGENT_NAME=None, ECS_CONTAINER_METADATA_URI_V4=metadata.base_url)

    assert result.returncode == 2
    assert "ECS_CONTAINER_METADATA_URI_V4" in result.stderr
    assert "AZP_AGENT_NAME" in result.stderr
    assert result.calls == []


def test_capabilities_reach_the_agents_environment(any_agent: Agent) -> None:
    # GIVEN the queue's capabilities, including names that are not shell identifiers
    capabilities = {
        "docker": "",
        "java.version": "17",
        "maven-3": "yes",
        "nodejs_version": "20 LTS",
        "Agent.OS": "Linux",
        "agent.version": "4.0",
    }

    result = any_agent.run(AZP_CAPABILITIES=json.dumps(capabilities))

    # THEN config.sh and run.sh both see each one as an environment variable, empty values
    # included, and the Agent.* names the agent sets itself are left out
    assert result.returncode == 0, result.stderr
    for kind in ("config", "run"):
        env = result.only(kind).env
        assert env["docker"] == ""
        assert env["java.version"] == "17"
        assert env["maven-3"] == "yes"
        assert env["nodejs_version"] == "20 LTS"
        assert "Agent.OS" not in env
        assert "agent.version" not in env
        assert "AZP_CAPABILITIES" not in env
    assert "Agent.OS" in result.stderr


def test_capability_matching_the_containers_environment_is_accepted(agent: Agent) -> None:
    result = agent.run(
        AZP_CAPABILITIES=json.dumps({"java.home": "/opt/java"}), **{"java.home": "/opt/java"}
    )

    assert result.returncode == 0, result.stderr
    assert result.only("run").env["java.home"] == "/opt/java"


def test_empty_capabilities_object_adds_nothing(agent: Agent) -> None:
    baseline = set(agent.environment({})) | {"VSO_AGENT_IGNORE", "PWD", "SHLVL", "_", "OLDPWD"}

    result = agent.run(AZP_CAPABILITIES="{}")

    assert result.returncode == 0, result.stderr
    assert set(result.only("run").env) - baseline == set()


@pytest.mark.parametrize(
    ("capabilities", "mentions"),
    [
        ("[1, 2]", "not a JSON object"),
        ("docker", "AZP_CAPABILITIES"),
        ('{"docker": 1}', "docker"),
        ('{"docker": "a\\nb"}', "control character"),
        ('{"": "x"}', "empty"),
        ('{"a=b": "x"}', "a=b"),
        ('{"AZP_POOL": "other"}', "AZP_POOL"),
        ('{"PATH": "/evil"}', "PATH"),
        (json.dumps({"big": "x" * 1024}), "big"),
    ],
    ids=[
        "array",
        "not-json",
        "non-string-value",
        "newline-in-value",
        "empty-name",
        "equals-in-name",
        "reserved-azp-name",
        "overrides-container-variable",
        "value-too-long-for-agent",
    ],
)
def test_bad_capabilities_are_rejected_before_registering(
    any_agent: Agent, capabilities: str, mentions: str
) -> None:
    result = any_agent.run(AZP_CAPABILITIES=capabilities)

    assert result.returncode == 2
    assert "AZP_CAPABILITIES" in result.stderr
    assert mentions in result.stderr
    assert result.calls == []


def test_capability_value_just_under_the_agents_limit_is_kept(agent: Agent) -> None:
    value = "x" * 1023

    result = agent.run(AZP_CAPABILITIES=json.dumps({"big": value}))

    assert result.returncode == 0, result.stderr
    assert result.only("run").env["big"] == value


def test_jq_shim_encodes_like_start_sh_expects(shimmed_agent: Agent) -> None:
    # GIVEN a capability whose value has non-ASCII text and base64 padding
    result = shimmed_agent.run(AZP_CAPABILITIES=json.dumps({"region": "é=1"}))

    assert result.returncode == 0, result.stderr
    assert result.only("run").env["region"] == "é=1"
