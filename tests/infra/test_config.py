"""Stack config: bad or missing keys stop the program with one line per key, naming it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import StackConfigError
from tests.infra.conftest import PAT, ROOT, config_values, run_program


def _failure(overrides: dict[str, Any], *, with_pat: bool = True) -> StackConfigError:
    with pytest.raises(StackConfigError) as caught:
        run_program(config_values(overrides, with_pat=with_pat))
    return caught.value


@pytest.mark.parametrize(
    ("overrides", "with_pat", "key"),
    [
        ({"adoscale:organizationUrl": None}, True, "adoscale:organizationUrl"),
        ({"adoscale:agentImageTag": None}, True, "adoscale:agentImageTag"),
        ({}, False, "adoscale:pat"),
        ({"adoscale:pat": "   "}, True, "adoscale:pat"),
    ],
    ids=["organization-url", "image-tag", "pat", "blank-pat"],
)
def test_a_missing_required_key_fails_with_one_line_naming_it(
    overrides: dict[str, Any], with_pat: bool, key: str
) -> None:
    error = _failure(overrides, with_pat=with_pat)
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"{key}: required")
    assert "pulumi config set" in message


@pytest.mark.parametrize(
    ("overrides", "line_start"),
    [
        (
            {"adoscale:organizationUrl": "dev.azure.com/contoso"},
            "adoscale:organizationUrl: not an http(s) URL",
        ),
        ({"adoscale:network": {"mode": "vpn"}}, "adoscale:network.mode: Must be one of"),
        (
            {"adoscale:network": {"mode": "existing"}},
            "adoscale:network.subnetIds: required when mode is existing",
        ),
        (
            {"adoscale:network": {"mode": "existing", "subnetIds": ["subnet-0aaaaaaaaaaaaaaa1"]}},
            "adoscale:network.vpcId: required when mode is existing",
        ),
        (
            {"adoscale:network": {"vpcCidr": "10.0.0.0/8"}},
            "adoscale:network.vpcCidr: prefix length",
        ),
        ({"adoscale:network": {"subnets": []}}, "adoscale:network.subnets: Unknown field"),
        (
            {"adoscale:agentProfiles": [{"name": "big"}]},
            "adoscale:agentProfiles: must include a profile named 'default'",
        ),
        (
            {"adoscale:agentProfiles": [{"name": "default", "cpu": 256, "memory": 4096}]},
            "adoscale:agentProfiles[0].memory: 4096 MiB is not a Fargate size for 256 cpu",
        ),
        (
            {"adoscale:agentProfiles": [{"name": "default", "architecture": "arm"}]},
            "adoscale:agentProfiles[0].architecture: Must be one of",
        ),
        (
            {"adoscale:agentProfiles": [{"name": "default"}, {"name": "default"}]},
            "adoscale:agentProfiles: duplicate profile names: default",
        ),
        ({"adoscale:logRetentionDays": "8"}, "adoscale:logRetentionDays: must be one of"),
        (
            {"adoscale:deletionProtection": "yes"},
            "adoscale:deletionProtection: must be true or false",
        ),
        ({"adoscale:tags": {"aws:owner": "me"}}, "adoscale:tags: must map tag keys"),
        (
            {"adoscale:metricNamespace": "AWS/Lambda"},
            "adoscale:metricNamespace: must be a CloudWatch namespace",
        ),
        (
            {"adoscale:pollSchedule": "every minute"},
            "adoscale:pollSchedule: must be rate(N minutes)",
        ),
        (
            {
                "adoscale:alertSubscriptions": [
                    {"protocol": "https", "endpoint": "http://hooks.example.com"}
                ]
            },
            "adoscale:alertSubscriptions[0].endpoint: must be an https:// URL",
        ),
        (
            {
                "adoscale:alertSubscriptions": [
                    {"protocol": "email", "endpoint": "a@b.c", "kinds": ["Auth!"]}
                ]
            },
            "adoscale:alertSubscriptions[0].kinds[0]: not an alert kind",
        ),
        (
            {"adoscale:additionalPatSecretArns": ["not-an-arn"]},
            "adoscale:additionalPatSecretArns: not Secrets Manager",
        ),
        (
            {"adoscale:bootWaitSeconds": "ninety"},
            "adoscale:bootWaitSeconds: must be a whole number",
        ),
        ({"adoscale:network": "{not json"}, "adoscale:network: not valid JSON"),
        (
            {"adoscale:agentImageTag": "-latest"},
            "adoscale:agentImageTag: must be a Docker image tag",
        ),
    ],
    ids=[
        "url",
        "network-mode",
        "existing-subnets",
        "existing-vpc-or-groups",
        "cidr",
        "unknown-network-field",
        "no-default-profile",
        "fargate-size",
        "architecture",
        "duplicate-profile",
        "retention",
        "boolean",
        "aws-tag",
        "aws-namespace",
        "schedule",
        "https-endpoint",
        "alert-kind",
        "secret-arn",
        "number",
        "json",
        "image-tag",
    ],
)
def test_a_bad_value_fails_naming_the_key(overrides: dict[str, Any], line_start: str) -> None:
    error = _failure(overrides)
    assert len(error.problems) == 1, error.problems
    assert error.problems[0].startswith(line_start), error.problems


def test_every_problem_is_reported_at_once_and_nothing_is_declared() -> None:
    # GIVEN a config with three problems
    overrides = {
        "adoscale:organizationUrl": None,
        "adoscale:logRetentionDays": "2",
        "adoscale:tracing": "maybe",
    }
    # WHEN the program runs
    error = _failure(overrides, with_pat=False)
    # THEN each problem is one line naming its key
    keys = sorted(line.split(":")[1] for line in str(error).splitlines())
    assert keys == ["logRetentionDays", "organizationUrl", "pat", "tracing"]


def test_a_pat_with_blanks_is_rejected_without_echoing_it() -> None:
    error = _failure({"adoscale:pat": f"{PAT} {PAT}"})
    assert error.problems == ["adoscale:pat: must not contain blanks (value not shown)"]
    assert PAT not in str(error)


def _stack_file_config(path: Path) -> dict[str, Any]:
    """A stack file's config as the CLI hands it over: scalars as strings, objects as JSON."""
    config = yaml.safe_load(path.read_text())["config"]
    return {
        key: ("true" if value is True else "false" if value is False else str(value))
        if not isinstance(value, dict | list)
        else value
        for key, value in config.items()
    }


def test_the_example_dev_stack_file_is_a_valid_stack() -> None:
    # GIVEN Pulumi.dev.yaml plus the PAT it tells the reader to set with --secret
    config = _stack_file_config(ROOT / "Pulumi.dev.yaml")
    assert "adoscale:pat" not in config  # never committed, not even encrypted
    # WHEN the program runs with it
    run = run_program(config_values(config))
    # THEN it declares the whole stack
    assert {"table_name", "state_machine_arn", "dashboard_url"} <= set(run.outputs)
    assert len(run.of_type("aws:ecs/taskDefinition:TaskDefinition")) == len(
        config.get("adoscale:agentProfiles", [{}])
    )


def test_configuration_page_documents_every_config_key() -> None:
    deploy = (ROOT / "docs" / "configuration.md").read_text()
    source = (ROOT / "components" / "config.py").read_text()
    keys = set(re.findall(r'read\.\w+\(\s*"(\w+)"', source)) | {
        "organizationUrl",
        "pat",
        "agentProfiles",
    }
    assert len(keys) > 15
    missing = sorted(key for key in keys if f"`adoscale:{key}`" not in deploy)
    assert not missing, f"docs/configuration.md lacks {missing}"


def test_the_project_runs_on_the_repository_virtualenv() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "adoscale"
    assert project["runtime"] == {
        "name": "python",
        "options": {"toolchain": "pip", "virtualenv": ".venv"},
    }
