"""ScopedFunction: one Lambda with its own role, policy and log group.

Each function gets exactly the statements its caller lists, plus writing to its own log
group; nothing is shared between functions, so a step that only releases leases cannot
launch tasks. python3.12 on arm64, JSON logs, the Lambda environment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import iam

RUNTIME = "python3.12"
ARCHITECTURE = "arm64"


@dataclass
class ScopedFunctionArgs:
    description: str
    handler: str
    code: pulumi.Archive
    code_hash: str  # base64 SHA-256 of the archive
    environment: Mapping[str, pulumi.Input[str]]
    statements: Sequence[iam.Statement]
    log_group_name: str
    log_retention_days: int
    kms_key_arn: pulumi.Input[str]
    tags: Mapping[str, str]
    timeout_seconds: int = 60
    memory_mb: int = 256
    reserved_concurrency: int | None = None
    tracing: bool = False
    # Confused-deputy protection: Lambda assumes the role only for functions of this account.
    source_account: pulumi.Input[str] | None = None


class ScopedFunction(pulumi.ComponentResource):
    function: aws.lambda_.Function
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    arn: pulumi.Output[str]
    function_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: ScopedFunctionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("adoscale:function:ScopedFunction", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=args.log_group_name,
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=dict(args.tags),
            opts=child,
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            description=f"adoscale {name}: {args.description}",
            assume_role_policy=iam.assume_role_policy(
                "lambda.amazonaws.com", source_account=args.source_account
            ),
            tags=dict(args.tags),
            opts=child,
        )
        statements = [iam.log_writer(self.log_group.arn), *args.statements]
        if args.tracing:
            statements.append(iam.XRAY_WRITER)
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            policy=iam.document(statements),
            opts=child,
        )
        self.function = aws.lambda_.Function(
            f"{name}-function",
            description=args.description,
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            handler=args.handler,
            code=args.code,
            source_code_hash=args.code_hash,
            role=self.role.arn,
            timeout=args.timeout_seconds,
            memory_size=args.memory_mb,
            reserved_concurrent_executions=args.reserved_concurrency,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=dict(args.environment)),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="JSON",
                log_group=self.log_group.name,
                application_log_level="INFO",
                system_log_level="WARN",
            ),
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(
                mode="Active" if args.tracing else "PassThrough"
            ),
            tags=dict(args.tags),
            # The policy must exist before the first invocation can log.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.arn = self.function.arn
        self.function_name = self.function.name
        self.register_outputs({"arn": self.arn, "function_name": self.function_name})
