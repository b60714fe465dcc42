"""The Lambda environment is read once, and a bad variable is named."""

from __future__ import annotations

import json

import pytest

from adoscale.core.exceptions import ConfigError
from adoscale.core.settings import POLLER_REQUIRED, load_settings

ARN = "arn:aws:{}:eu-west-1:123456789012:{}"
GOOD = {
    "ADOSCALE_TABLE": "queues",
    "ADOSCALE_STATE_TABLE": "state",
    "ADOSCALE_ALERT_TOPIC_ARN": ARN.format("sns", "alerts"),
    "ADOSCALE_ORG_URL": "https://dev.azure.com/contoso/",
    "ADOSCALE_PAT_SECRET_ARN": ARN.format("secretsmanager", "secret:pat-AbCdEf"),
    "ADOSCALE_CLUSTER": "agents",
    "ADOSCALE_STATE_MACHINE_ARN": ARN.format("states", "stateMachine:scaling"),
    "ADOSCALE_SUBNETS": "subnet-0123456789abcdef0, subnet-11111111",
    "ADOSCALE_SECURITY_GROUPS": "sg-0123456789abcdef0",
    "ADOSCALE_TASK_DEFINITIONS": json.dumps({"default": ARN.format("ecs", "task-definition/a:1")}),
}


def test_a_complete_environment_is_parsed():
    settings = load_settings(GOOD, POLLER_REQUIRED)

    assert settings.org_url == "https://dev.azure.com/contoso"
    assert settings.subnets == ("subnet-0123456789abcdef0", "subnet-11111111")
    assert settings.metric_namespace == "AdoAgentScaling"
    assert settings.task_definitions["default"].endswith("task-definition/a:1")


@pytest.mark.parametrize("variable", POLLER_REQUIRED)
def test_a_missing_required_variable_is_named(variable):
    env = {k: v for k, v in GOOD.items() if k != variable}

    with pytest.raises(ConfigError) as caught:
        load_settings(env, POLLER_REQUIRED)

    assert caught.value.variable == variable
    assert str(caught.value).startswith(variable)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ADOSCALE_ALERT_TOPIC_ARN", "alerts"),
        ("ADOSCALE_ORG_URL", "dev.azure.com/contoso"),
        ("ADOSCALE_SUBNETS", "subnet-xyz"),
        ("ADOSCALE_SECURITY_GROUPS", "default"),
        ("ADOSCALE_TASK_DEFINITIONS", "{not json"),
        ("ADOSCALE_TASK_DEFINITIONS", '["a"]'),
        ("ADOSCALE_METRIC_NAMESPACE", "has space"),
        ("ADOSCALE_ASSIGN_PUBLIC_IP", "maybe"),
        ("ADOSCALE_MAX_WORKERS", "0"),
        ("ADOSCALE_MAX_WORKERS", "many"),
        ("ADOSCALE_ADO_READ_TIMEOUT", "-1"),
        ("ADOSCALE_TABLE", "   "),
    ],
    ids=lambda v: v,
)
def test_a_malformed_variable_is_named(variable, value):
    with pytest.raises(ConfigError) as caught:
        load_settings({**GOOD, variable: value}, POLLER_REQUIRED)

    assert caught.value.variable == variable


def test_settings_are_frozen():
    settings = load_settings(GOOD)

    with pytest.raises(AttributeError):
        settings.table = "other"  # type: ignore[misc]
