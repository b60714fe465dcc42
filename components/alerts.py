"""Alerts: the SNS topic every alert and every alarm goes to.

adoscale's own alerts carry the message attributes ``kind`` and ``queue``; CloudWatch
alarm notifications carry none. A subscription from config with ``kinds`` therefore
filters on ``kind`` and, unless ``alarms`` is false, also matches messages without a
``kind`` (``{"exists": false}``) so alarms still arrive.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import AlertSubscription
from components.iam import AwsContext


def filter_policy(kinds: Sequence[str], *, alarms: bool = True) -> str | None:
    """The subscription filter on ``kind``; None delivers everything."""
    if not kinds:
        return None if alarms else json.dumps({"kind": [{"exists": True}]})
    values: list[object] = sorted(kinds)
    if alarms:
        values.append({"exists": False})
    return json.dumps({"kind": values})


@dataclass
class AlertsArgs:
    context: AwsContext
    kms_key_arn: pulumi.Input[str]
    subscriptions: Sequence[AlertSubscription]
    tags: Mapping[str, str]


class Alerts(pulumi.ComponentResource):
    topic: aws.sns.Topic
    arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: AlertsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("adoscale:alerts:Alerts", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.topic = aws.sns.Topic(
            f"{name}-topic",
            display_name="adoscale alerts",
            kms_master_key_id=args.kms_key_arn,
            tags=dict(args.tags),
            opts=child,
        )
        self.arn = self.topic.arn
        aws.sns.TopicPolicy(
            f"{name}-policy",
            arn=self.topic.arn,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AlarmsAndEventsPublish",
                            "Effect": "Allow",
                            "Principal": {
                                "Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
                            },
                            "Action": "sns:Publish",
                            "Resource": self.topic.arn,
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": args.context.account_id}
                            },
                        },
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": ["sns:Publish", "sns:Subscribe"],
                            "Resource": self.topic.arn,
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        },
                    ],
                }
            ),
            opts=child,
        )
        for index, subscription in enumerate(args.subscriptions):
            policy = filter_policy(subscription.kinds, alarms=subscription.alarms)
            aws.sns.TopicSubscription(
                f"{name}-subscription-{index}",
                topic=self.topic.arn,
                protocol=subscription.protocol,
                endpoint=subscription.endpoint,
                filter_policy=policy,
                filter_policy_scope="MessageAttributes" if policy else None,
                opts=child,
            )
        self.register_outputs({"arn": self.arn})
