"""The adoscale stack: what `pulumi up` deploys.

- a customer managed KMS key (rotating) that encrypts everything below at rest;
- the DynamoDB queue table and state table (alert dedupe, leases);
- the SNS alert topic, with optional email/https subscriptions filtered on ``kind``;
- the Azure DevOps PAT in Secrets Manager;
- the agents' network (existing subnets, or a new VPC with NAT or VPC endpoints);
- the ECS Fargate cluster, the agent image repository and one task definition per
  agent profile; for profiles on ec2 capacity, a launch template, an Auto Scaling group
  and an ECS capacity provider each;
- the scaling state machine and its step Lambdas;
- the poller Lambda, run every minute by EventBridge Scheduler;
- the service-hook endpoint (a Lambda function URL) and its generated credentials, unless
  ``serviceHook`` is false;
- alarms and a dashboard.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pulumi

from adoscale.core.steps import STEPS
from adoscale.workflow.definition import build_definition
from components.alerts import Alerts, AlertsArgs
from components.cluster import CONTAINER_NAME, AgentCluster, AgentClusterArgs
from components.config import StackConfigError, load_stack_config
from components.ec2_capacity import INTERFACE_ENDPOINTS as EC2_INTERFACE_ENDPOINTS
from components.hook import HookEndpoint, HookEndpointArgs
from components.iam import AwsContext
from components.key import StackKey, StackKeyArgs
from components.monitoring import Monitoring, MonitoringArgs
from components.network import Network, NetworkArgs
from components.packaging import ArchiveError, build_lambda_archive
from components.permissions import RuntimeResources
from components.poller import PollerArgs, ScheduledPoller
from components.secret import PatSecret, PatSecretArgs
from components.table import QueueTable, QueueTableArgs
from components.tagging import stack_tags
from components.workflow import Workflow, WorkflowArgs

ROOT = Path(__file__).resolve().parent

# --- configuration -------------------------------------------------------------------------
config = load_stack_config(pulumi.Config("adoscale"))
project, stack = pulumi.get_project(), pulumi.get_stack()
prefix = f"{project}-{stack}"
log_prefix = f"/{project}/{stack}/"
state_machine_logs = f"/aws/vendedlogs/states/{prefix}"
tags = stack_tags(project, stack, config.tags)
try:
    archive = build_lambda_archive(
        ROOT / "functions" / "adoscale",
        ROOT / "build" / "lambda-deps",
        ROOT / "build" / "lambda" / "adoscale-lambda.zip",
    )
except ArchiveError as error:
    raise StackConfigError([f"lambda archive: {error}"]) from None
# Relative to the project directory (Pulumi's working directory), so state does not record
# where this checkout happens to live.
code = pulumi.FileArchive(os.path.relpath(archive.path, ROOT))
context = AwsContext.current()

# --- components ----------------------------------------------------------------------------
key = StackKey(
    "key",
    StackKeyArgs(
        context=context,
        alias=prefix,
        log_group_patterns=[f"{log_prefix}*", state_machine_logs],
        tags=tags,
    ),
)
table = QueueTable(
    "table",
    QueueTableArgs(kms_key_arn=key.arn, deletion_protection=config.deletion_protection, tags=tags),
)
alerts = Alerts(
    "alerts",
    AlertsArgs(
        context=context,
        kms_key_arn=key.arn,
        subscriptions=config.alert_subscriptions,
        tags=tags,
    ),
)
pat = PatSecret("pat", PatSecretArgs(pat=config.pat, kms_key_arn=key.arn, tags=tags))
network = Network(
    "network",
    NetworkArgs(
        config=config.network,
        context=context,
        tags=tags,
        extra_interface_endpoints=(
            EC2_INTERFACE_ENDPOINTS
            if any(profile.on_ec2 for profile in config.agent_profiles)
            else ()
        ),
    ),
)
cluster = AgentCluster(
    "agents",
    AgentClusterArgs(
        context=context,
        resource_prefix=prefix,
        organization_url=config.organization_url,
        pat_secret_arn=pat.arn,
        kms_key_arn=key.arn,
        profiles=config.agent_profiles,
        log_group_name=f"{log_prefix}agents",
        log_retention_days=config.log_retention_days,
        container_insights=config.container_insights,
        ecr_keep_images=config.ecr_keep_images,
        task_role_policy_arns=config.agent_task_role_policy_arns,
        tags=tags,
        other_organizations=config.other_organizations,
        subnet_ids=network.subnet_ids,
        security_group_ids=network.security_group_ids,
    ),
)
resources = RuntimeResources(
    context=context,
    kms_key_arn=key.arn,
    table_name=table.name,
    table_arn=table.arn,
    state_table_name=table.state_name,
    state_table_arn=table.state_arn,
    topic_arn=alerts.arn,
    organization_url=config.organization_url,
    pat_secret_arn=pat.arn,
    other_organizations=config.other_organizations,
    metric_namespace=config.metric_namespace,
    cluster_name=cluster.cluster_name,
    cluster_arn=cluster.cluster_arn,
    task_family_arns=cluster.task_family_arns(),
    task_definition_arns=cluster.task_definition_arns,
    execution_role_arn=cluster.execution_role.arn,
    task_role_arn=cluster.task_role.arn,
    container_name=CONTAINER_NAME,
    subnet_ids=network.subnet_ids,
    security_group_ids=network.security_group_ids,
    assign_public_ip=config.network.assign_public_ip,
    profile_launch=cluster.profile_launch,
)
workflow = Workflow(
    "workflow",
    WorkflowArgs(
        steps=STEPS,
        definition=functools.partial(
            build_definition,
            boot_wait_seconds=config.boot_wait_seconds,
            confirm_wait_seconds=config.confirm_wait_seconds,
        ),
        resources=resources,
        code=code,
        code_hash=archive.sha256_base64,
        step_log_group_prefix=f"{log_prefix}steps/",
        state_machine_log_group=state_machine_logs,
        log_retention_days=config.log_retention_days,
        tracing=config.tracing,
        tags=tags,
    ),
)
poller = ScheduledPoller(
    "poller",
    PollerArgs(
        resources=resources,
        state_machine_arn=workflow.arn,
        state_machine_name=workflow.state_machine_name,
        express_state_machine_arn=workflow.express_arn,
        code=code,
        code_hash=archive.sha256_base64,
        schedule=config.poll_schedule,
        poll_interval_seconds=config.poll_interval_seconds,
        poll_linger_seconds=config.poll_linger_seconds,
        poll_quiet_interval_seconds=config.poll_quiet_interval_seconds,
        memory_mb=config.poller_memory_mb,
        log_group_name=f"{log_prefix}poller",
        log_retention_days=config.log_retention_days,
        tracing=config.tracing,
        tags=tags,
    ),
)
hook = (
    HookEndpoint(
        "hook",
        HookEndpointArgs(
            resources=resources,
            state_machine_arn=workflow.arn,
            state_machine_name=workflow.state_machine_name,
            code=code,
            code_hash=archive.sha256_base64,
            poll_interval_seconds=config.poll_interval_seconds,
            log_group_name=f"{log_prefix}hook",
            log_retention_days=config.log_retention_days,
            tracing=config.tracing,
            tags=tags,
        ),
    )
    if config.service_hook
    else None
)
monitoring = Monitoring(
    "monitoring",
    MonitoringArgs(
        namespace=config.metric_namespace,
        topic_arn=alerts.arn,
        poller_function_name=poller.function_name,
        state_machine_arn=workflow.arn,
        dashboard_name=prefix,
        alarm_prefix=prefix,
        oldest_job_age_seconds=config.alarm_oldest_job_age_seconds,
        rate_limit_remaining=config.alarm_rate_limit_remaining,
        region=context.region,
        tags=tags,
    ),
)

# --- outputs -------------------------------------------------------------------------------
pulumi.export("table_name", table.name)
pulumi.export("state_table_name", table.state_name)
pulumi.export("alert_topic_arn", alerts.arn)
pulumi.export("ecr_repository_url", cluster.repository_url)
pulumi.export("cluster_name", cluster.cluster_name)
pulumi.export("task_definition_arns", cluster.task_definition_arns)
pulumi.export("pat_secret_arn", pat.arn)
pulumi.export("state_machine_arn", workflow.arn)
pulumi.export("express_state_machine_arn", workflow.express_arn)
pulumi.export("poller_function_name", poller.function_name)
pulumi.export("dashboard_url", monitoring.dashboard_url)
if hook is not None:
    pulumi.export("hook_url", hook.url)
    pulumi.export("hook_secret_arn", hook.secret_arn)
