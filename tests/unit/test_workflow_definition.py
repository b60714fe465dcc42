"""The state machine definition: structure, error handling, and its tie to STEPS."""

from __future__ import annotations

import json

import pytest

from adoscale.core.steps import STEP_NAMES, STEPS
from adoscale.workflow import definition
from adoscale.workflow.definition import (
    LAMBDA_TRANSIENT_ERRORS,
    STEP_TRANSIENT_ERRORS,
    build_definition,
    placeholder_arns,
)

ARNS = placeholder_arns()


@pytest.fixture
def states():
    return build_definition(ARNS)["States"]


def tasks(states):
    return {name: state for name, state in states.items() if state["Type"] == "Task"}


def test_every_task_state_calls_a_registered_step_lambda(states):
    by_arn = {arn: name for name, arn in ARNS.items()}
    used = {by_arn[state["Resource"]] for state in tasks(states).values()}
    assert used == set(STEP_NAMES)
    assert {step.handler for step in STEPS} == {
        f"adoscale.handlers.{name}.handler" for name in STEP_NAMES
    }


def test_every_task_state_retries_throttling_and_catches_everything(states):
    for name, state in tasks(states).items():
        retried = {error for rule in state["Retry"] for error in rule["ErrorEquals"]}
        assert set(LAMBDA_TRANSIENT_ERRORS) <= retried, name
        for rule in state["Retry"]:
            assert rule["BackoffRate"] >= 2, name
            assert rule["MaxAttempts"] >= 3, name
        assert state["Catch"] == [
            {
                "ErrorEquals": ["States.ALL"],
                "ResultPath": "$.error",
                "Next": state["Catch"][0]["Next"],
            }
        ], name
        if name != "Alert":
            assert set(STEP_TRANSIENT_ERRORS) <= retried, name


@pytest.mark.parametrize(
    ("state", "catch_to"),
    [
        ("Validate", "Alert"),
        ("Launch", "Alert"),
        ("Verify", "Alert"),
        ("Drain", "Alert"),
        ("Retire", "Alert"),
        ("Reap", "Alert"),
        ("Release", "Alert"),
        ("Alert", "ReleaseAfterFailure"),
        ("ReleaseAfterFailure", "Failed"),
    ],
    ids=lambda value: value,
)
def test_failures_flow_to_an_alert_then_release_then_fail(states, state, catch_to):
    assert states[state]["Catch"][0]["Next"] == catch_to
    assert states["Alert"]["Next"] == "ReleaseAfterFailure"
    assert states["ReleaseAfterFailure"]["Next"] == "Failed"
    assert states["Failed"]["Type"] == "Fail"


def test_every_transition_lands_on_a_state_and_every_state_is_reachable(states):
    document = build_definition(ARNS)
    seen, todo = set(), [document["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        state = states[name]
        targets = [state.get("Next"), state.get("Default")]
        targets += [choice["Next"] for choice in state.get("Choices", [])]
        targets += [catch["Next"] for catch in state.get("Catch", [])]
        for target in filter(None, targets):
            assert target in states, f"{name} -> {target}"
            todo.append(target)
    assert seen == set(states)


@pytest.mark.parametrize(
    ("action", "path"),
    [
        ("scale_out", ["Launch", "ReleaseAfterLaunch", "CheckLaunch", "BootWait", "Verify"]),
        ("scale_in", ["Drain", "CheckDrained", "ConfirmWait", "Retire", "Release", "Done"]),
        ("reap", ["Reap", "Release", "Done"]),
    ],
    ids=["scale_out", "scale_in", "reap"],
)
def test_each_action_takes_its_branch(states, action, path):
    choice = next(c for c in states["ChooseAction"]["Choices"] if c["StringEquals"] == action)
    current = choice["Next"]
    walked = [current]
    while current != path[-1]:
        state = states[current]
        current = state.get("Next") or state.get("Default")
        walked.append(current)
    assert walked == path


def test_the_lease_is_released_before_the_boot_wait(states):
    assert states["Launch"]["Next"] == "ReleaseAfterLaunch"
    assert states["CheckLaunch"]["Default"] == "BootWait"
    assert states["CheckRegistered"]["Choices"][0]["Next"] == "BootWait"


def test_waits_are_parameters():
    states = build_definition(ARNS, boot_wait_seconds=0, confirm_wait_seconds=1)["States"]
    assert states["BootWait"]["Seconds"] == 0
    assert states["ConfirmWait"]["Seconds"] == 1
    default = build_definition(ARNS)["States"]
    assert default["BootWait"]["Seconds"] == 90
    assert default["ConfirmWait"]["Seconds"] == 15


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"step_arns": {k: v for k, v in ARNS.items() if k != "retire"}}, "retire"),
        ({"step_arns": ARNS, "boot_wait_seconds": -1}, "boot_wait_seconds"),
        ({"step_arns": ARNS, "confirm_wait_seconds": 1.5}, "confirm_wait_seconds"),
        ({"step_arns": ARNS, "confirm_wait_seconds": True}, "confirm_wait_seconds"),
    ],
    ids=["missing-step", "negative-wait", "fractional-wait", "bool-wait"],
)
def test_bad_arguments_name_themselves(arguments, message):
    step_arns = arguments.pop("step_arns")
    with pytest.raises(ValueError, match=message):
        build_definition(step_arns, **arguments)


def test_the_module_prints_the_definition(capsys, tmp_path):
    definition.main([])
    printed = json.loads(capsys.readouterr().out)
    assert printed == build_definition(ARNS)

    target = tmp_path / "machine.json"
    definition.main(["--out", str(target)])
    assert json.loads(target.read_text()) == printed

    with pytest.raises(SystemExit):
        definition.main(["--bogus"])
