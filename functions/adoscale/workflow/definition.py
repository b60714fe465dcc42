"""The scaling state machine (Amazon States Language), built by one pure function.

Shape (every Task state retries transient errors and catches everything else)::

    Validate (input, queue item, per-queue lease) -> CheckLease
      lease held by another execution / queue gone / a scale_out decided before the
      queue's last launch finished -> Skipped (Succeed)
    ChooseAction
      scale_out: Launch -> ReleaseAfterLaunch -> CheckLaunch
                   nothing started -> LaunchFailed (Fail)
                   -> BootWait -> Verify -> CheckRegistered (pending -> BootWait) -> Done
      scale_in:  Drain -> CheckDrained (none -> Release) -> ConfirmWait -> Retire -> Release -> Done
      reap:      Reap -> Release -> Done
    any Task failure: Alert (workflow_failed) -> ReleaseAfterFailure -> Failed (Fail)

The lease is released before the boot wait, so a long verify never holds back the next
scale-out; the tasks it still watches count as starting for the poller meanwhile, and the
release records when the launch ended, so a scale-out decided before then is skipped.

Every Lambda receives ``{"execution": <execution ARN>, "input": <state>}`` and its result
lands in the state under its own key (``$.context``, ``$.launch``, ...); a caught error
lands in ``$.error``. ``python -m adoscale.workflow.definition`` prints the definition with
placeholder ARNs (``make lint`` validates it with asl-validator).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

from adoscale.core.actions import Action
from adoscale.core.steps import STEP_NAMES

LAMBDA_TRANSIENT_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
# Our own transient errors (class names, as Lambda reports them in errorType).
STEP_TRANSIENT_ERRORS = ("AdoUnavailableError", "AdoRateLimitedError", "AwsUnavailableError")
FAILURE_STATE = "Alert"
PLACEHOLDER_ACCOUNT = "123456789012"
PLACEHOLDER_REGION = "eu-west-1"


def build_definition(
    step_arns: Mapping[str, str], *, boot_wait_seconds: int = 90, confirm_wait_seconds: int = 15
) -> dict[str, Any]:
    """The ASL document for the Lambda ARNs of ``STEPS`` (by step name)."""
    missing = [name for name in STEP_NAMES if not step_arns.get(name)]
    if missing:
        raise ValueError(f"step_arns: missing ARNs for {', '.join(missing)}")
    for name, value in (
        ("boot_wait_seconds", boot_wait_seconds),
        ("confirm_wait_seconds", confirm_wait_seconds),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name}: must be a whole number of seconds >= 0, got {value!r}")

    def task(step: str, next_state: str, *, catch_to: str = FAILURE_STATE) -> dict[str, Any]:
        return _task(step_arns[step], step, next_state, catch_to)

    states: dict[str, Any] = {
        "Validate": task("validate", "CheckLease") | {"ResultPath": "$.context"},
        "CheckLease": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.context.proceed", "BooleanEquals": False, "Next": "Skipped"}
            ],
            "Default": "ChooseAction",
        },
        "Skipped": {
            "Type": "Succeed",
            "Comment": (
                "another execution holds the queue's lease, the queue is gone, or a"
                " scale_out was decided before the queue's last launch finished"
            ),
        },
        "ChooseAction": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.action", "StringEquals": Action.SCALE_OUT, "Next": "Launch"},
                {"Variable": "$.action", "StringEquals": Action.SCALE_IN, "Next": "Drain"},
                {"Variable": "$.action", "StringEquals": Action.REAP, "Next": "Reap"},
            ],
            "Default": "Release",
        },
        "Launch": task("launch", "ReleaseAfterLaunch"),
        "ReleaseAfterLaunch": task("release", "CheckLaunch") | {"ResultPath": "$.release"},
        "CheckLaunch": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.launch.requested", "NumericGreaterThan": 0},
                        {"Variable": "$.launch.launched", "NumericEquals": 0},
                    ],
                    "Next": "LaunchFailed",
                }
            ],
            "Default": "BootWait",
        },
        "LaunchFailed": {
            "Type": "Fail",
            "Error": "LaunchFailed",
            "Cause": "ECS started none of the agents (a launch_failed alert has the reasons)",
        },
        "BootWait": {"Type": "Wait", "Seconds": boot_wait_seconds, "Next": "Verify"},
        "Verify": task("verify", "CheckRegistered"),
        "CheckRegistered": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.verify.pending_count", "NumericGreaterThan": 0, "Next": "BootWait"}
            ],
            "Default": "Done",
        },
        "Drain": task("drain", "CheckDrained"),
        "CheckDrained": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.drain.drained_count", "NumericEquals": 0, "Next": "Release"}
            ],
            "Default": "ConfirmWait",
        },
        "ConfirmWait": {"Type": "Wait", "Seconds": confirm_wait_seconds, "Next": "Retire"},
        "Retire": task("retire", "Release"),
        "Reap": task("reap", "Release"),
        "Release": task("release", "Done"),
        "Done": {"Type": "Succeed"},
        "Alert": task("alert", "ReleaseAfterFailure", catch_to="ReleaseAfterFailure")
        | {"ResultPath": "$.alert"},
        "ReleaseAfterFailure": task("release", "Failed", catch_to="Failed")
        | {"ResultPath": "$.release"},
        "Failed": {
            "Type": "Fail",
            "Error": "ScalingFailed",
            "Cause": "a step failed (a workflow_failed alert has the error and the execution)",
        },
    }
    return {
        "Comment": "adoscale: one scaling action (scale_out, scale_in or reap) for one queue",
        "StartAt": "Validate",
        "States": states,
    }


def _task(arn: str, step: str, next_state: str, catch_to: str) -> dict[str, Any]:
    """A Lambda Task with the shared Retry/Catch policy; the result lands in ``$.<step>``."""
    retry: list[dict[str, Any]] = [
        {
            "ErrorEquals": list(LAMBDA_TRANSIENT_ERRORS),
            "IntervalSeconds": 2,
            "MaxAttempts": 6,
            "BackoffRate": 2,
        }
    ]
    if step != "alert":
        retry.append(
            {
                "ErrorEquals": list(STEP_TRANSIENT_ERRORS),
                "IntervalSeconds": 5,
                "MaxAttempts": 3,
                "BackoffRate": 2,
            }
        )
    return {
        "Type": "Task",
        "Resource": arn,
        "Parameters": {"execution.$": "$$.Execution.Id", "input.$": "$"},
        "ResultPath": f"$.{step}",
        "Retry": retry,
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": catch_to}],
        "Next": next_state,
    }


def placeholder_arns(
    account: str = PLACEHOLDER_ACCOUNT, region: str = PLACEHOLDER_REGION
) -> dict[str, str]:
    return {
        name: f"arn:aws:lambda:{region}:{account}:function:adoscale-{name}" for name in STEP_NAMES
    }


def main(argv: list[str] | None = None) -> None:
    """Print the definition with placeholder ARNs (``--out FILE`` writes it instead)."""
    args = list(sys.argv[1:] if argv is None else argv)
    text = json.dumps(build_definition(placeholder_arns()), indent=2, sort_keys=True) + "\n"
    if len(args) == 2 and args[0] == "--out":
        with open(args[1], "w", encoding="utf-8") as handle:
            handle.write(text)
        return
    if args:
        raise SystemExit("usage: python -m adoscale.workflow.definition [--out FILE]")
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
