"""PatSecret: the Azure DevOps PAT in Secrets Manager, the only place it is written.

The value comes from ``pulumi config set --secret adoscale:pat`` and stays a Pulumi secret
(encrypted in state). Lambdas read it at run time by ARN; agent containers get it through
ECS ``secrets``. Rotating the PAT is ``pulumi config set --secret`` + ``pulumi up``: a new
secret version, no other resource changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass
class PatSecretArgs:
    pat: pulumi.Input[str]  # a secret Output
    kms_key_arn: pulumi.Input[str]
    tags: Mapping[str, str]
    recovery_window_days: int = 7


class PatSecret(pulumi.ComponentResource):
    secret: aws.secretsmanager.Secret
    version: aws.secretsmanager.SecretVersion
    arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: PatSecretArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("adoscale:secret:PatSecret", name, None, opts)
        self.secret = aws.secretsmanager.Secret(
            f"{name}-secret",
            description="adoscale: Azure DevOps personal access token (Agent Pools read & manage)",
            kms_key_id=args.kms_key_arn,
            recovery_window_in_days=args.recovery_window_days,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.version = aws.secretsmanager.SecretVersion(
            f"{name}-version",
            secret_id=self.secret.id,
            secret_string=pulumi.Output.secret(args.pat),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = self.secret.arn
        self.register_outputs({"arn": self.arn})
