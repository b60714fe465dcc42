"""QueueTable: the queue definitions and the small state table beside them.

The state table holds alert dedupe marks and per-queue leases; they must survive cold
starts and expire by themselves, hence DynamoDB with TTL on ``expires_at``. Both tables
are on-demand (a handful of items, read every minute), encrypted with the stack key,
with point-in-time recovery.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

QUEUE_KEY = "queue"
STATE_KEY = "pk"
STATE_TTL_ATTRIBUTE = "expires_at"


@dataclass
class QueueTableArgs:
    kms_key_arn: pulumi.Input[str]
    deletion_protection: bool
    tags: Mapping[str, str]


class QueueTable(pulumi.ComponentResource):
    table: aws.dynamodb.Table
    state_table: aws.dynamodb.Table
    name: pulumi.Output[str]
    arn: pulumi.Output[str]
    state_name: pulumi.Output[str]
    state_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: QueueTableArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("adoscale:table:QueueTable", name, None, opts)
        self.table = self._table(f"{name}-queues", QUEUE_KEY, None, args)
        self.state_table = self._table(f"{name}-state", STATE_KEY, STATE_TTL_ATTRIBUTE, args)
        self.name, self.arn = self.table.name, self.table.arn
        self.state_name, self.state_arn = self.state_table.name, self.state_table.arn
        self.register_outputs({"name": self.name, "arn": self.arn, "state_name": self.state_name})

    def _table(
        self, resource_name: str, hash_key: str, ttl: str | None, args: QueueTableArgs
    ) -> aws.dynamodb.Table:
        return aws.dynamodb.Table(
            resource_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key=hash_key,
            attributes=[aws.dynamodb.TableAttributeArgs(name=hash_key, type="S")],
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
                enabled=True, kms_key_arn=args.kms_key_arn
            ),
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            deletion_protection_enabled=args.deletion_protection,
            ttl=aws.dynamodb.TableTtlArgs(attribute_name=ttl, enabled=True) if ttl else None,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
