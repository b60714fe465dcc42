"""HookEndpoint: the Azure DevOps service-hook endpoint, a Lambda function URL.

A function URL, not an API Gateway HTTP API: the handler authenticates (HTTP Basic, the
credentials generated here and kept in Secrets Manager) and answers everything itself, so
a gateway would add a service, a price per request and a 30 s integration timeout, and
nothing the endpoint needs. The URL's auth type is NONE (Azure DevOps cannot sign AWS
requests); the function's reserved concurrency bounds what unauthenticated traffic can
cost. Since October 2025 a public function URL needs both ``lambda:InvokeFunctionUrl`` and
``lambda:InvokeFunction`` in the function's resource policy: both are granted, to the URL
only.

The handler's role is the poller's minus metrics, plus reading the hook secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from adoscale.core import steps
from components import iam
from components.function import ScopedFunction, ScopedFunctionArgs
from components.permissions import Grants, RuntimeResources, poller_environment

HANDLER = "adoscale.handlers.hook.handler"
TIMEOUT_SECONDS = 30  # a 2 s debounce window and one poll; Azure DevOps waits about 20 s
MEMORY_MB = 512
RESERVED_CONCURRENCY = 10
USERNAME = "adoscale-hook"
PASSWORD_LENGTH = 40


@dataclass
class HookEndpointArgs:
    resources: RuntimeResources
    state_machine_arn: pulumi.Input[str]
    state_machine_name: pulumi.Input[str]
    code: pulumi.Archive
    code_hash: str
    poll_interval_seconds: int
    log_group_name: str
    log_retention_days: int
    tracing: bool
    tags: Mapping[str, str]
    reserved_concurrency: int = RESERVED_CONCURRENCY


def hook_statements(
    resources: RuntimeResources,
    state_machine_arn: pulumi.Input[str],
    secret_arn: pulumi.Input[str],
) -> list[iam.Statement]:
    """Read queues and the hook secret, ask Azure DevOps and ECS, mark the debounce window
    in the state table, start scaling executions, alert. No metrics: the poller's."""
    r = resources
    grants = Grants(r)
    grants.add("queue-scan", iam.allow(["dynamodb:GetItem", "dynamodb:Scan"], [r.table_arn]))
    grants.table_key(("kms:Decrypt", "kms:DescribeKey"))
    for need in (steps.ADO, steps.ECS_READ, steps.ALERTS, steps.STATE):
        grants.need(need)
    grants.add("hook-secret", iam.allow(["secretsmanager:GetSecretValue"], [secret_arn]))
    grants.start_executions([state_machine_arn])
    return grants.statements()


class HookEndpoint(pulumi.ComponentResource):
    function: ScopedFunction
    url: pulumi.Output[str]
    secret_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: HookEndpointArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("adoscale:hook:HookEndpoint", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        resources = args.resources
        password = random.RandomPassword(
            f"{name}-password", length=PASSWORD_LENGTH, special=False, opts=child
        )
        secret = aws.secretsmanager.Secret(
            f"{name}-secret",
            description="adoscale: Basic credentials Azure DevOps service hooks send",
            kms_key_id=resources.kms_key_arn,
            recovery_window_in_days=7,
            tags=dict(args.tags),
            opts=child,
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-credentials",
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(
                pulumi.Output.json_dumps({"username": USERNAME, "password": password.result})
            ),
            opts=child,
        )
        self.function = ScopedFunction(
            name,
            ScopedFunctionArgs(
                description="Azure DevOps service hook: a waiting job polls its organisation",
                handler=HANDLER,
                code=args.code,
                code_hash=args.code_hash,
                environment={
                    **poller_environment(resources, args.state_machine_arn),
                    "ADOSCALE_POLL_INTERVAL_SECONDS": str(args.poll_interval_seconds),
                    "ADOSCALE_HOOK_SECRET_ARN": secret.arn,
                },
                statements=hook_statements(resources, args.state_machine_arn, secret.arn),
                log_group_name=args.log_group_name,
                log_retention_days=args.log_retention_days,
                kms_key_arn=resources.kms_key_arn,
                tags=args.tags,
                timeout_seconds=TIMEOUT_SECONDS,
                memory_mb=MEMORY_MB,
                source_account=resources.context.account_id,
                reserved_concurrency=args.reserved_concurrency,
                tracing=args.tracing,
            ),
            opts=child,
        )
        function_url = aws.lambda_.FunctionUrl(
            f"{name}-url",
            function_name=self.function.function_name,
            authorization_type="NONE",
            opts=child,
        )
        aws.lambda_.Permission(
            f"{name}-invoke-url",
            function=self.function.function_name,
            action="lambda:InvokeFunctionUrl",
            principal="*",
            function_url_auth_type="NONE",
            opts=child,
        )
        aws.lambda_.Permission(
            f"{name}-invoke",
            function=self.function.function_name,
            action="lambda:InvokeFunction",
            principal="*",
            invoked_via_function_url=True,
            opts=child,
        )
        self.url = function_url.function_url
        self.secret_arn = secret.arn
        self.register_outputs({"url": self.url, "secret_arn": self.secret_arn})
