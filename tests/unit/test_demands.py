"""Demand matching against a queue's capabilities."""

from __future__ import annotations

import pytest

from adoscale.core.demands import demands_met

CAPS = {"docker": "", "Agent.OS": "Linux", "java": "17"}


@pytest.mark.parametrize(
    ("demands", "capabilities", "met"),
    [
        ((), CAPS, True),
        (("docker",), CAPS, True),
        (("DOCKER",), CAPS, True),
        (("  docker  ",), CAPS, True),
        (("maven",), CAPS, False),
        (("Agent.OS -equals Linux",), CAPS, True),
        (("agent.os -equals linux",), CAPS, True),
        (("Agent.OS -equals Windows_NT",), CAPS, False),
        (("java -equals 17", "docker"), CAPS, True),
        (("java -equals 17", "maven"), CAPS, False),
        (("java -gtVersion 11",), CAPS, False),
        (("Agent.Version -gtVersion 2.182.1",), CAPS, True),
        (("Agent.Version -gtVersion 2.182.1",), {}, True),
        (("docker",), {}, False),
        ((), {}, True),
        (("anything", "Agent.OS -equals Plan9"), None, True),
        (("",), {}, True),
        (("name -equals value with spaces",), {"name": "Value With Spaces"}, True),
    ],
    ids=[
        "no-demands",
        "present",
        "case-insensitive-name",
        "blanks-ignored",
        "absent",
        "equals",
        "equals-case-insensitive",
        "equals-other-value",
        "all-met",
        "one-unmet",
        "other-operator-unmet",
        "agent-version-ignored",
        "agent-version-ignored-empty-map",
        "empty-map-rejects-demands",
        "empty-map-accepts-plain-jobs",
        "no-capabilities-takes-all",
        "blank-demand-ignored",
        "value-with-spaces",
    ],
)
def test_demands_against_capabilities(demands, capabilities, met):
    assert demands_met(demands, capabilities) is met
