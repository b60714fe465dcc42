"""ScheduledPoller: the Lambda that watches every queue, and the schedule that runs it each minute.

Reserved concurrency 1: two overlapping polls would count the same waiting jobs twice.
A missed or failed poll is not retried (neither by the scheduler nor by Lambda's async
retries): the next one a minute later sees fresher state than a retry would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from adoscale.poller.cycles import POLLER_TIMEOUT_SECONDS
from components import iam
from components.function import ScopedFunction, ScopedFunctionArgs
from components.permissions import RuntimeResources, poller_environment, poller_statements

HANDLER = "adoscale.handlers.poller.handler"
TIMEOUT_SECONDS = POLLER_TIMEOUT_SECONDS  # cycles on the cadence, done before the next invocation


@dataclass
class PollerArgs:
    resources: RuntimeResources
    state_machine_arn: pulumi.Input[str]
    state_machine_name: pulumi.Input[str]
    code: pulumi.Archive
    code_hash: str
    schedule: str
    poll_interval_seconds: int
    poll_linger_seconds: int
    poll_quiet_interval_seconds: int
    memory_mb: int
    log_group_name: str
    log_retention_days: int
    tracing: bool
    tags: Mapping[str, str]
    express_state_machine_arn: pulumi.Input[str] | None = None  # scale-ins and reaps


COMPONENT_TYPE = "adoscale:poller:ScheduledPoller"
PREVIOUS_COMPONENT_TYPE = "adoscale:poller:Poller"


class ScheduledPoller(pulumi.ComponentResource):
    """The poller Lambda and its schedule.

    Stacks deployed before the class had this name know it as ``adoscale:poller:Poller``:
    the alias lets Pulumi carry those resources over instead of replacing them.
    """

    function: ScopedFunction
    schedule: aws.scheduler.Schedule
    function_name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: PollerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        renamed = pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=PREVIOUS_COMPONENT_TYPE)])
        super().__init__(COMPONENT_TYPE, name, None, pulumi.ResourceOptions.merge(opts, renamed))
        child = pulumi.ResourceOptions(parent=self)
        resources = args.resources
        self.function = ScopedFunction(
            f"{name}",
            ScopedFunctionArgs(
                description="polls Azure DevOps queues and starts scaling executions",
                handler=HANDLER,
                code=args.code,
                code_hash=args.code_hash,
                environment={
                    **poller_environment(
                        resources, args.state_machine_arn, args.express_state_machine_arn
                    ),
                    "ADOSCALE_POLL_INTERVAL_SECONDS": str(args.poll_interval_seconds),
                    "ADOSCALE_POLL_LINGER_SECONDS": str(args.poll_linger_seconds),
                    "ADOSCALE_POLL_QUIET_INTERVAL_SECONDS": str(args.poll_quiet_interval_seconds),
                },
                statements=poller_statements(
                    resources,
                    args.state_machine_arn,
                    args.state_machine_name,
                    args.express_state_machine_arn,
                ),
                log_group_name=args.log_group_name,
                log_retention_days=args.log_retention_days,
                kms_key_arn=resources.kms_key_arn,
                tags=args.tags,
                timeout_seconds=TIMEOUT_SECONDS,
                memory_mb=args.memory_mb,
                reserved_concurrency=1,
                tracing=args.tracing,
                source_account=resources.context.account_id,
            ),
            opts=child,
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-async",
            function_name=self.function.function_name,
            maximum_retry_attempts=0,
            maximum_event_age_in_seconds=60,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-scheduler",
            description="adoscale schedule: invoke the poller",
            assume_role_policy=iam.assume_role_policy(
                "scheduler.amazonaws.com", source_account=resources.context.account_id
            ),
            tags=dict(args.tags),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-scheduler",
            role=role.id,
            policy=iam.document([iam.allow(["lambda:InvokeFunction"], [self.function.arn])]),
            opts=child,
        )
        self.schedule = aws.scheduler.Schedule(
            f"{name}-schedule",
            description="adoscale: poll Azure DevOps queues",
            schedule_expression=args.schedule,
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            target=aws.scheduler.ScheduleTargetArgs(
                arn=self.function.arn,
                role_arn=role.arn,
                input="{}",
                retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                    maximum_retry_attempts=0, maximum_event_age_in_seconds=60
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.function_name = self.function.function_name
        self.arn = self.function.arn
        self.register_outputs({"function_name": self.function_name})
