"""Workflow: the scaling state machine and one scoped Lambda per step.

The steps come from ``adoscale.core.steps.STEPS`` (name, handler, needs, timeout,
memory) and the definition from ``adoscale.workflow.definition.build_definition``: the
registry is the single source for both the IAM of each step and the ASL that calls it.
The state machine's role may invoke exactly those Lambdas. Logging: level ERROR without
execution data, so inputs and outputs (queue names, agent ids) stay out of the logs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from adoscale.core.steps import Step
from components import iam
from components.function import ScopedFunction, ScopedFunctionArgs
from components.permissions import RuntimeResources, step_environment, step_statements

DefinitionBuilder = Callable[[Mapping[str, str]], dict[str, Any]]
# CloudWatch Logs delivery (vended logs) has no resource-level permissions.
LOG_DELIVERY_ACTIONS = (
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
)


@dataclass
class WorkflowArgs:
    steps: Sequence[Step]
    definition: DefinitionBuilder
    resources: RuntimeResources
    code: pulumi.Archive
    code_hash: str
    step_log_group_prefix: str  # + step name
    state_machine_log_group: str
    log_retention_days: int
    tracing: bool
    tags: Mapping[str, str]


class Workflow(pulumi.ComponentResource):
    functions: dict[str, ScopedFunction]
    state_machine: aws.sfn.StateMachine
    express_state_machine: aws.sfn.StateMachine
    arn: pulumi.Output[str]
    express_arn: pulumi.Output[str]
    state_machine_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: WorkflowArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("adoscale:workflow:Workflow", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        resources = args.resources
        self.functions = {
            step.name: ScopedFunction(
                f"{name}-{step.name}",
                ScopedFunctionArgs(
                    description=f"scaling step {step.name}",
                    handler=step.handler,
                    code=args.code,
                    code_hash=args.code_hash,
                    environment=step_environment(step.needs, resources),
                    statements=step_statements(step.needs, resources),
                    log_group_name=f"{args.step_log_group_prefix}{step.name}",
                    log_retention_days=args.log_retention_days,
                    kms_key_arn=resources.kms_key_arn,
                    tags=args.tags,
                    timeout_seconds=step.timeout_seconds,
                    memory_mb=step.memory_mb,
                    tracing=args.tracing,
                    source_account=resources.context.account_id,
                ),
                opts=child,
            )
            for step in args.steps
        }
        step_arns = [function.arn for function in self.functions.values()]
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=args.state_machine_log_group,
            retention_in_days=args.log_retention_days,
            kms_key_id=resources.kms_key_arn,
            tags=dict(args.tags),
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-role",
            description="adoscale scaling state machine: invoke its steps, deliver logs",
            assume_role_policy=iam.assume_role_policy(
                "states.amazonaws.com",
                source_account=resources.context.account_id,
                source_arn=resources.context.arn("states", "stateMachine:*"),
            ),
            tags=dict(args.tags),
            opts=child,
        )
        statements = [
            iam.allow(["lambda:InvokeFunction"], step_arns),
            iam.allow(list(LOG_DELIVERY_ACTIONS), ["*"]),
            # the execution data is encrypted with the stack key (see encryption below)
            iam.kms_via(
                resources.context,
                resources.kms_key_arn,
                "states",
                ["kms:Decrypt", "kms:GenerateDataKey"],
            ),
        ]
        if args.tracing:
            statements.append(iam.XRAY_WRITER)
        policy = aws.iam.RolePolicy(
            f"{name}-policy", role=role.id, policy=iam.document(statements), opts=child
        )
        definition = pulumi.Output.all(
            **{step: function.arn for step, function in self.functions.items()}
        ).apply(lambda arns: json.dumps(args.definition(arns), indent=2, sort_keys=True))

        def state_machine(suffix: str, kind: str) -> aws.sfn.StateMachine:
            return aws.sfn.StateMachine(
                f"{name}-{suffix}",
                type=kind,
                role_arn=role.arn,
                definition=definition,
                logging_configuration=aws.sfn.StateMachineLoggingConfigurationArgs(
                    log_destination=pulumi.Output.concat(log_group.arn, ":*"),
                    include_execution_data=False,
                    level="ERROR",
                ),
                tracing_configuration=aws.sfn.StateMachineTracingConfigurationArgs(
                    enabled=args.tracing
                ),
                # Execution input, output and history (queue names, agent ids, alert
                # details) encrypted with the stack's key rather than an AWS-owned one.
                encryption_configuration=aws.sfn.StateMachineEncryptionConfigurationArgs(
                    type="CUSTOMER_MANAGED_KMS_KEY",
                    kms_key_id=resources.kms_key_arn,
                    kms_data_key_reuse_period_seconds=300,
                ),
                tags=dict(args.tags),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
            )

        self.state_machine = state_machine("state-machine", "STANDARD")
        # The same definition as Express, for scale-ins and reaps: their runs are short
        # (the confirm wait, a few steps), so per-execution and duration billing costs a
        # tenth of their state transitions; scale-outs stay Standard (their boot wait may
        # outlast Express' 5 minutes).
        self.express_state_machine = state_machine("express-state-machine", "EXPRESS")
        self.arn = self.state_machine.arn
        self.express_arn = self.express_state_machine.arn
        self.state_machine_name = self.state_machine.name
        self.register_outputs({"arn": self.arn, "express_arn": self.express_arn})
