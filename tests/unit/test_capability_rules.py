"""Capability names and values: what a queue item may put into the agent's environment."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adoscale.core import capability_rules
from adoscale.core.exceptions import QueueConfigError
from adoscale.core.schema import parse_queue

VALID = {"queue": "linux-docker", "pool": "Linux", "max_agents": 10}
# Names the shell, the loader or the image give meaning to, as an attacker would write them.
ATTACKS = [
    "BASH_FUNC_cat%%",
    "BASH_ENV",
    "bash_env",
    "LD_PRELOAD",
    "LD_AUDIT",
    "SHELLOPTS",
    "BASHOPTS",
    "ENV",
    "IFS",
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "AGENT_TOOLSDIRECTORY",
    "AZP_URL",
    "VSTS_AGENT_INPUT_TOKEN",
    "VSO_AGENT_IGNORE",
    "HOSTNAME",
    "PS4",
    "HTTPS_PROXY",
    "https_proxy",
    "NODE_OPTIONS",
    "DOTNET_STARTUP_HOOKS",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "ECS_CONTAINER_METADATA_URI_V4",
    "GIT_SSH_COMMAND",
    "SSL_CERT_FILE",
    "JAVA_TOOL_OPTIONS",
    "PROMPT_COMMAND",
]


@pytest.mark.parametrize("name", ATTACKS)
def test_names_with_a_meaning_to_the_shell_or_the_image_are_refused(name: str) -> None:
    with pytest.raises(QueueConfigError) as caught:
        parse_queue({**VALID, "capabilities": {name: "x"}})

    assert f"capabilities.{name}" in caught.value.errors


@pytest.mark.parametrize(
    "name", ["docker", "java.version", "maven-3", "Agent.OS", "nodejs.18", "gpu", "JDK_11_x64"]
)
def test_ordinary_capability_names_are_accepted(name: str) -> None:
    queue = parse_queue({**VALID, "capabilities": {name: "1"}})

    assert queue.capabilities == {name: "1"}


NAME_CHARACTERS = string.ascii_letters + string.digits + "._-"


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_property_an_accepted_name_is_a_plain_identifier_outside_the_deny_list(name: str) -> None:
    """Whatever a name is made of, an accepted one uses only the allowed characters,
    starts with a letter and is neither a denied name nor under a denied prefix."""
    problem = capability_rules.name_problem(name)
    if problem is None:
        assert name[0].isascii()
        assert name[0].isalpha()
        assert set(name) <= set(NAME_CHARACTERS)
        assert name.upper() not in capability_rules.DENIED_NAMES
        assert not name.upper().startswith(capability_rules.DENIED_PREFIXES)
    else:
        assert problem


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_property_values_with_control_characters_are_refused(value: str) -> None:
    problem = capability_rules.value_problem(value)
    has_control = any(ord(c) < 32 or ord(c) == 127 for c in value)
    assert (problem is not None) == has_control


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=20), st.integers(min_value=0, max_value=1023))
def test_property_the_whole_override_stays_within_the_ecs_limit(count: int, length: int) -> None:
    capabilities = {f"cap{i}": "v" * length for i in range(count)}
    try:
        queue = parse_queue({**VALID, "capabilities": capabilities})
    except QueueConfigError as error:
        assert list(error.errors) == ["capabilities"]
        assert capability_rules.override_size(capabilities) > (
            capability_rules.OVERRIDE_LIMIT - capability_rules.OVERRIDE_RESERVE
        )
    else:
        assert queue.capabilities is not None
        size = capability_rules.override_size(queue.capabilities)
        assert size + capability_rules.OVERRIDE_RESERVE <= capability_rules.OVERRIDE_LIMIT
