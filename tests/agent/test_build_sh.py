"""Argument handling of agent/build.sh with stub docker, aws, pulumi and git on PATH.

No container engine runs here: these tests check what build.sh would ask docker buildx
to do, never that an image was built.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.agent.harness import REPO, Call, read_calls

BUILD_SH = REPO / "agent" / "build.sh"
DOCKERFILE = REPO / "agent" / "Dockerfile"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
ECR_URL = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/adoscale-agent"
ECR_PASSWORD = "ecr-login-secret-42"
SHA_A = "a" * 64
SHA_B = "b" * 64

# Named by start time and pid: aws and docker login run at the same time in a pipeline.
RECORDER = r"""#!/usr/bin/env bash
rec=${STUB_RECORD_DIR:?}
base="$rec/$(date +%s%N)_$$-$(basename "$0")"
printf '%s\0' "$@" > "$base.args"
"""
STUBS = {
    "docker": RECORDER
    + r"""
if [[ ${1:-} == login ]]; then cat > "$base.stdin"; fi
if [[ ${1:-} == buildx && ${2:-} == version ]]; then
    [[ ${STUB_NO_BUILDX:-0} == 1 ]] && exit 1
    echo "github.com/docker/buildx v0.0.0-stub"
fi
exit 0
""",
    "aws": RECORDER + 'echo "${STUB_ECR_PASSWORD:?}"\n',
    "pulumi": RECORDER + '[[ -n ${STUB_PULUMI_URL:-} ]] || exit 1\necho "$STUB_PULUMI_URL"\n',
    "git": RECORDER
    + r"""
case "$*" in
    *"rev-parse HEAD"*) echo "${STUB_GIT_COMMIT:?}" ;;
    *"status --porcelain"*) printf '%s' "${STUB_GIT_STATUS:-}" ;;
esac
""",
}


def dockerfile_arg(name: str) -> str:
    match = re.search(rf"^ARG {name}=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert match, name
    return match.group(1)


class Build:
    def __init__(self, root: Path) -> None:
        self.bin = root / "bin"
        self.records = root / "records"
        self.bin.mkdir()
        self.records.mkdir()
        for name, text in STUBS.items():
            (self.bin / name).write_text(text)
            (self.bin / name).chmod(0o755)

    def run(self, **overrides: str | None) -> tuple[subprocess.CompletedProcess[str], list[Call]]:
        env = {
            # Only the stubs and the base system: a real docker elsewhere is never reached.
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "HOME": str(self.records),
            "STUB_RECORD_DIR": str(self.records),
            "STUB_ECR_PASSWORD": ECR_PASSWORD,
            "STUB_GIT_COMMIT": COMMIT,
        }
        env.update({key: value for key, value in overrides.items() if value is not None})
        completed = subprocess.run(
            ["bash", str(BUILD_SH)],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert ECR_PASSWORD not in completed.stdout + completed.stderr
        return completed, read_calls(self.records)


def build_call(calls: list[Call]) -> list[str]:
    builds = [call.args for call in calls if call.args[:2] == ["buildx", "build"]]
    assert len(builds) == 1, [call.args for call in calls]
    return builds[0]


def option_values(args: list[str], option: str) -> list[str]:
    return [args[index + 1] for index, arg in enumerate(args) if arg == option]


@pytest.fixture
def build(tmp_path: Path) -> Build:
    return Build(tmp_path)


def test_pinned_agent_release_is_well_formed() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", dockerfile_arg("AGENT_VERSION"))
    for name in ("AGENT_SHA256_X64", "AGENT_SHA256_ARM64"):
        assert re.fullmatch(r"[0-9a-f]{64}", dockerfile_arg(name)), name
    assert dockerfile_arg("AGENT_DOWNLOAD_URL") == "https://download.agent.dev.azure.com/agent"


def test_default_build_targets_both_platforms_with_the_pinned_agent(build: Build) -> None:
    completed, calls = build.run()

    assert completed.returncode == 0, completed.stderr
    version = dockerfile_arg("AGENT_VERSION")
    image = f"adoscale-agent:{version}-{COMMIT[:12]}"
    assert completed.stdout == f"{image}\n"
    args = build_call(calls)
    assert option_values(args, "--platform") == ["linux/amd64,linux/arm64"]
    assert option_values(args, "--file") == [str(REPO / "agent" / "Dockerfile")]
    assert option_values(args, "--tag") == [image]
    assert set(option_values(args, "--build-arg")) >= {
        f"AGENT_VERSION={version}",
        f"AGENT_SHA256_X64={dockerfile_arg('AGENT_SHA256_X64')}",
        f"AGENT_SHA256_ARM64={dockerfile_arg('AGENT_SHA256_ARM64')}",
        f"VCS_REF={COMMIT}",
    }
    assert any(
        label.startswith("org.opencontainers.image.created=")
        for label in option_values(args, "--label")
    )
    assert "--push" not in args
    assert "--load" not in args
    assert args[-1] == str(REPO / "agent")
    assert not [call for call in calls if call.kind in {"aws", "pulumi"}]


def test_dirty_tree_marks_tag_and_revision(build: Build) -> None:
    completed, calls = build.run(STUB_GIT_STATUS=" M agent/start.sh\n")

    assert completed.returncode == 0, completed.stderr
    args = build_call(calls)
    assert option_values(args, "--tag")[0].endswith(f"-{COMMIT[:12]}-dirty")
    assert f"VCS_REF={COMMIT}-dirty" in option_values(args, "--build-arg")


def test_push_logs_in_to_ecr_with_the_password_on_stdin(build: Build) -> None:
    # GIVEN PUSH=1 and the repository URL in the environment
    completed, calls = build.run(PUSH="1", ECR_REPOSITORY_URL=ECR_URL, IMAGE_TAG="v1")

    # THEN the ECR password goes from aws to docker login through stdin, then buildx pushes
    assert completed.returncode == 0, completed.stderr
    steps = [call for call in calls if call.kind != "git"]
    assert [call.args for call in steps if call.kind == "aws"] == [
        ["ecr", "get-login-password", "--region", "eu-west-1"]
    ]
    logins = [call.args for call in steps if call.args[:1] == ["login"]]
    assert logins == [
        [
            "login",
            "--username",
            "AWS",
            "--password-stdin",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        ]
    ]
    assert steps[-1].args[:2] == ["buildx", "build"]
    stdin_file = next(build.records.glob("*-docker.stdin"))
    assert stdin_file.read_text() == f"{ECR_PASSWORD}\n"
    args = build_call(calls)
    assert "--push" in args
    assert option_values(args, "--tag") == [f"{ECR_URL}:v1"]
    assert all(ECR_PASSWORD not in arg for call in calls for arg in call.args)
    assert completed.stdout == f"{ECR_URL}:v1\n"


@pytest.mark.parametrize(
    ("stack", "pulumi_args"),
    [
        (None, ["stack", "output", "ecr_repository_url"]),
        ("prod", ["stack", "output", "--stack", "prod", "ecr_repository_url"]),
    ],
    ids=["current-stack", "named-stack"],
)
def test_push_reads_the_repository_from_the_stack_output(
    build: Build, stack: str | None, pulumi_args: list[str]
) -> None:
    completed, calls = build.run(PUSH="1", STUB_PULUMI_URL=ECR_URL, PULUMI_STACK=stack)

    assert completed.returncode == 0, completed.stderr
    assert [call.args for call in calls if call.kind == "pulumi"] == [pulumi_args]
    assert option_values(build_call(calls), "--tag")[0].startswith(f"{ECR_URL}:")


def test_overridden_version_uses_its_own_checksums(build: Build) -> None:
    completed, calls = build.run(
        AGENT_VERSION="4.999.0", AGENT_SHA256_X64=SHA_A, AGENT_SHA256_ARM64=SHA_B.upper()
    )

    assert completed.returncode == 0, completed.stderr
    build_args = option_values(build_call(calls), "--build-arg")
    assert {
        "AGENT_VERSION=4.999.0",
        f"AGENT_SHA256_X64={SHA_A}",
        f"AGENT_SHA256_ARM64={SHA_B}",
    } <= set(build_args)


def test_load_builds_one_platform_into_docker(build: Build) -> None:
    completed, calls = build.run(
        LOAD="1", PLATFORMS="linux/arm64", IMAGE_REPOSITORY="team/agent", IMAGE_TAG="dev"
    )

    assert completed.returncode == 0, completed.stderr
    args = build_call(calls)
    assert "--load" in args
    assert option_values(args, "--platform") == ["linux/arm64"]
    assert option_values(args, "--tag") == ["team/agent:dev"]


@pytest.mark.parametrize(
    ("overrides", "mentions"),
    [
        ({"PUSH": "1"}, "ECR_REPOSITORY_URL"),
        ({"PUSH": "1", "ECR_REPOSITORY_URL": "docker.io/library/agent"}, "ECR_REPOSITORY_URL"),
        ({"PUSH": "yes"}, "PUSH"),
        ({"AGENT_VERSION": "4.999.0"}, "AGENT_SHA256_X64"),
        ({"AGENT_VERSION": "4.999.0", "AGENT_SHA256_X64": SHA_A}, "AGENT_SHA256_ARM64"),
        ({"AGENT_SHA256_ARM64": ""}, "AGENT_SHA256_ARM64"),
        ({"AGENT_SHA256_X64": "abc123"}, "AGENT_SHA256_X64"),
        ({"AGENT_VERSION": "latest"}, "AGENT_VERSION"),
        ({"PLATFORMS": "linux/386"}, "PLATFORMS"),
        ({"LOAD": "1"}, "LOAD=1"),
        ({"IMAGE_TAG": "bad tag"}, "IMAGE_TAG"),
        ({"STUB_NO_BUILDX": "1"}, "buildx"),
    ],
    ids=[
        "push-without-repository",
        "push-to-non-ecr",
        "push-not-0-or-1",
        "version-without-x64-sha",
        "version-without-arm64-sha",
        "empty-sha-fails-closed",
        "malformed-sha",
        "version-not-semver",
        "unsupported-platform",
        "load-two-platforms",
        "bad-tag",
        "no-buildx",
    ],
)
def test_bad_settings_fail_before_building(
    build: Build, overrides: dict[str, str], mentions: str
) -> None:
    completed, calls = build.run(**overrides)

    assert completed.returncode == 2
    assert mentions in completed.stderr
    assert not [call for call in calls if call.args[:2] == ["buildx", "build"]]
    assert not [call for call in calls if call.args[:1] == ["login"]]
