"""IAM building blocks shared by the components: statements, documents, ARNs.

Policies are plain dicts with ``pulumi.Input`` leaves, turned into JSON once every ARN is
known; keeping them as data lets the infra tests read every statement back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

Statement = dict[str, Any]


@dataclass(frozen=True)
class AwsContext:
    """Where the stack deploys; every hand-built ARN takes its parts from here."""

    account_id: pulumi.Output[str]
    region: pulumi.Output[str]
    partition: pulumi.Output[str]

    @classmethod
    def current(cls) -> AwsContext:
        return cls(
            account_id=aws.get_caller_identity_output().account_id,
            region=aws.get_region_output().region,
            partition=aws.get_partition_output().partition,
        )

    def arn(
        self, service: str, resource: pulumi.Input[str], *, regional: bool = True
    ) -> pulumi.Output[str]:
        """``arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE``."""
        region: pulumi.Input[str] = self.region if regional else ""
        return pulumi.Output.concat(
            "arn:", self.partition, ":", service, ":", region, ":", self.account_id, ":", resource
        )

    def service_endpoint(self, service: str) -> pulumi.Output[str]:
        """The ``kms:ViaService`` value of a regional service."""
        return pulumi.Output.concat(service, ".", self.region, ".amazonaws.com")


def allow(
    actions: Sequence[str],
    resources: Sequence[pulumi.Input[str]],
    *,
    condition: Mapping[str, Any] | None = None,
    sid: str | None = None,
) -> Statement:
    """One Allow statement; actions are sorted so documents compare stably."""
    statement: Statement = {
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": list(resources),
    }
    if condition:
        statement["Condition"] = dict(condition)
    if sid:
        statement["Sid"] = sid
    return statement


def document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def assume_role_policy(
    service: str,
    *,
    source_account: pulumi.Input[str] | None = None,
    source_arn: pulumi.Input[str] | None = None,
) -> pulumi.Output[str]:
    """Trust ``service``; with ``source_account``, only on behalf of this account, and with
    ``source_arn`` (a pattern), only for those resources (confused-deputy protection)."""
    statement: Statement = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    condition: dict[str, Any] = {}
    if source_account is not None:
        condition["StringEquals"] = {"aws:SourceAccount": source_account}
    if source_arn is not None:
        condition["ArnLike"] = {"aws:SourceArn": source_arn}
    if condition:
        statement["Condition"] = condition
    return document([statement])


def kms_via(
    context: AwsContext, key_arn: pulumi.Input[str], service: str, actions: Sequence[str]
) -> Statement:
    """Use of the stack key, only through ``service`` (DynamoDB, SNS, Secrets Manager)."""
    return allow(
        actions,
        [key_arn],
        condition={"StringEquals": {"kms:ViaService": context.service_endpoint(service)}},
    )


def log_writer(log_group_arn: pulumi.Input[str]) -> Statement:
    """Write to one log group's streams (the group itself is created by the stack)."""
    return allow(
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        [pulumi.Output.concat(log_group_arn, ":*")],
    )


XRAY_WRITER = allow(
    # X-Ray has no resource-level permissions: these actions only accept "*".
    [
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    ],
    ["*"],
)
