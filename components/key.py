"""StackKey: the customer managed KMS key that encrypts the stack's data at rest.

One rotating key for the tables, the topic, the PAT secret, the log groups and the image
repository. The key policy only enables IAM (so each role names exactly what it may do
with the key) and lets the two services that act without an IAM role use it: CloudWatch
Logs, for this stack's log groups only, and CloudWatch alarms / EventBridge, to publish to
the encrypted topic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.iam import AwsContext

LOG_ACTIONS = (
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
)


@dataclass
class StackKeyArgs:
    context: AwsContext
    alias: str  # without the "alias/" prefix
    log_group_patterns: Sequence[str]  # the stack's log group names, "*" wildcards allowed
    tags: Mapping[str, str]


class StackKey(pulumi.ComponentResource):
    key: aws.kms.Key
    arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: StackKeyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("adoscale:key:StackKey", name, None, opts)
        context = args.context
        log_groups = [
            context.arn("logs", f"log-group:{pattern}") for pattern in args.log_group_patterns
        ]
        policy = pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "EnableIamPolicies",
                        "Effect": "Allow",
                        "Principal": {
                            "AWS": pulumi.Output.concat(
                                "arn:", context.partition, ":iam::", context.account_id, ":root"
                            )
                        },
                        "Action": "kms:*",
                        "Resource": "*",
                    },
                    {
                        "Sid": "StackLogGroups",
                        "Effect": "Allow",
                        "Principal": {
                            "Service": pulumi.Output.concat(
                                "logs.", context.region, ".amazonaws.com"
                            )
                        },
                        "Action": list(LOG_ACTIONS),
                        "Resource": "*",
                        "Condition": {
                            "ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}
                        },
                    },
                    {
                        "Sid": "AlarmsAndEventsPublishToTopic",
                        "Effect": "Allow",
                        "Principal": {
                            "Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
                        },
                        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                        "Resource": "*",
                    },
                ],
            }
        )
        self.key = aws.kms.Key(
            f"{name}-key",
            description="adoscale: tables, alert topic, PAT secret, logs, agent images",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=policy,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/{args.alias}",
            target_key_id=self.key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = self.key.arn
        self.register_outputs({"arn": self.arn})
