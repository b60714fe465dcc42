"""What each Lambda may touch and which Lambda environment variables it gets, from the
``needs`` of a step.

``adoscale.core.steps`` says what each step needs (``ado``, ``ecs_read``, ...) and, in
its ``NEEDS`` table, which variables and IAM actions each need brings; this module turns
that table into IAM statements (scoped to the stack's resources) and variable values, so
the poller and every step get the same, minimal, translation:

- ``ado``: secretsmanager:GetSecretValue on the PAT secrets of the listed organisations
  and kms:Decrypt through Secrets Manager; ADOSCALE_ORG_URL, ADOSCALE_PAT_SECRET_ARN,
  ADOSCALE_ORGANIZATIONS (the organisations a PAT may be sent to).
- ``ecs_read``: ecs:ListTasks (bound by the ecs:cluster condition) and ecs:DescribeTasks
  on the cluster's tasks; ADOSCALE_CLUSTER, ADOSCALE_PROFILE_LAUNCH (boot timeouts).
- ``ecs_run``: ecs:RunTask on the agent task-definition families (on this cluster),
  ecs:TagResource during RunTask, iam:PassRole of the agent execution and task roles to
  ecs-tasks only; ADOSCALE_CLUSTER, _SUBNETS, _SECURITY_GROUPS, _TASK_DEFINITIONS,
  _CONTAINER_NAME, _ASSIGN_PUBLIC_IP, _PROFILE_LAUNCH (capacity providers of ec2 profiles),
  and the organisation list of ``ado`` (no secret access: each task is only told which
  organisation's PAT its init container hands over).
- ``ecs_stop``: ecs:StopTask on the cluster's tasks; ADOSCALE_CLUSTER.
- ``alerts``: sns:Publish on the topic (+ KMS through SNS) and the ``state`` grants for
  dedupe marks; ADOSCALE_ALERT_TOPIC_ARN, ADOSCALE_STATE_TABLE.
- ``state``: dynamodb Get/Put/Update/DeleteItem on the state table (+ KMS through
  DynamoDB); ADOSCALE_STATE_TABLE.
- ``queues``: dynamodb:GetItem on the queue table (+ KMS through DynamoDB); ADOSCALE_TABLE.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import pulumi

from adoscale.core import steps
from adoscale.core.organizations import Organization, dump_organizations
from components import iam
from components.iam import AwsContext

STATE_ITEM_ACTIONS = (
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)
KMS_READ = ("kms:Decrypt", "kms:DescribeKey")
KMS_WRITE = ("kms:Encrypt", "kms:GenerateDataKey")
ECS_TASKS_SERVICE = "ecs-tasks.amazonaws.com"


@dataclass(frozen=True)
class RuntimeResources:
    """The deployed things the Lambdas work with, as Inputs."""

    context: AwsContext
    kms_key_arn: pulumi.Input[str]
    table_name: pulumi.Input[str]
    table_arn: pulumi.Input[str]
    state_table_name: pulumi.Input[str]
    state_table_arn: pulumi.Input[str]
    topic_arn: pulumi.Input[str]
    organization_url: str
    pat_secret_arn: pulumi.Input[str]
    other_organizations: Sequence[Organization]
    metric_namespace: str
    cluster_name: pulumi.Output[str]
    cluster_arn: pulumi.Input[str]
    task_family_arns: Sequence[pulumi.Input[str]]
    task_definition_arns: pulumi.Output[dict[str, str]]
    execution_role_arn: pulumi.Input[str]
    task_role_arn: pulumi.Input[str]
    container_name: str
    subnet_ids: pulumi.Output[list[str]]
    security_group_ids: pulumi.Output[list[str]]
    assign_public_ip: bool
    # adoscale.core.capacity's table: per-profile capacity provider and boot timeout
    profile_launch: pulumi.Input[str] = "{}"

    def cluster_tasks(self) -> pulumi.Output[str]:
        return self.context.arn("ecs", pulumi.Output.concat("task/", self.cluster_name, "/*"))

    def on_cluster(self) -> dict[str, object]:
        return {"ArnEquals": {"ecs:cluster": self.cluster_arn}}


class Grants:
    """Collects statements by purpose, so two needs asking for the same thing grant it once."""

    def __init__(self, resources: RuntimeResources) -> None:
        self.r = resources
        self._statements: dict[str, iam.Statement] = {}
        self._dynamodb_kms: set[str] = set()

    def add(self, purpose: str, statement: iam.Statement) -> None:
        self._statements.setdefault(purpose, statement)

    def start_executions(self, machines: list[pulumi.Input[str]]) -> None:
        """Start scaling executions; their data is encrypted with the stack key, so starting
        one encrypts its input (the key only through Step Functions)."""
        self.add("start", iam.allow(["states:StartExecution"], machines))
        self.add(
            "start-kms",
            iam.kms_via(
                self.r.context, self.r.kms_key_arn, "states", ["kms:Decrypt", "kms:GenerateDataKey"]
            ),
        )

    def need(self, need: str) -> None:
        r = self.r
        if need == steps.ADO:
            self.add(
                "pat",
                iam.allow(
                    ["secretsmanager:GetSecretValue"],
                    [r.pat_secret_arn, *(o.pat_secret_arn for o in r.other_organizations)],
                ),
            )
            self.add(
                "pat-kms", iam.kms_via(r.context, r.kms_key_arn, "secretsmanager", ["kms:Decrypt"])
            )
        elif need == steps.ECS_READ:
            # ListTasks has no task resource: "*" is the only form, bound by ecs:cluster.
            self.add("ecs-list", iam.allow(["ecs:ListTasks"], ["*"], condition=r.on_cluster()))
            self.add(
                "ecs-describe",
                iam.allow(["ecs:DescribeTasks"], [r.cluster_tasks()], condition=r.on_cluster()),
            )
        elif need == steps.ECS_RUN:
            self.add(
                "ecs-run",
                iam.allow(["ecs:RunTask"], list(r.task_family_arns), condition=r.on_cluster()),
            )
            self.add(
                "ecs-tag",
                iam.allow(
                    ["ecs:TagResource"],
                    [r.cluster_tasks()],
                    condition={"StringEquals": {"ecs:CreateAction": "RunTask"}},
                ),
            )
            self.add(
                "pass-roles",
                iam.allow(
                    ["iam:PassRole"],
                    [r.execution_role_arn, r.task_role_arn],
                    condition={"StringEquals": {"iam:PassedToService": ECS_TASKS_SERVICE}},
                ),
            )
        elif need == steps.ECS_STOP:
            self.add(
                "ecs-stop",
                iam.allow(["ecs:StopTask"], [r.cluster_tasks()], condition=r.on_cluster()),
            )
        elif need == steps.ALERTS:
            self.add("publish", iam.allow(["sns:Publish"], [r.topic_arn]))
            self.add(
                "publish-kms",
                iam.kms_via(r.context, r.kms_key_arn, "sns", (*KMS_WRITE, "kms:Decrypt")),
            )
            self.need(steps.STATE)
        elif need == steps.STATE:
            self.add("state", iam.allow(list(STATE_ITEM_ACTIONS), [r.state_table_arn]))
            self.table_key(KMS_READ + KMS_WRITE)
        elif need == steps.QUEUES:
            self.add("queue-item", iam.allow(["dynamodb:GetItem"], [r.table_arn]))
            self.table_key(KMS_READ)
        else:
            raise ValueError(f"unknown need {need!r}: add it to components/permissions.py")

    def table_key(self, actions: Iterable[str]) -> None:
        """The tables share the stack key: one statement with the union of the actions."""
        self._dynamodb_kms.update(actions)

    def statements(self) -> list[iam.Statement]:
        result = list(self._statements.values())
        if self._dynamodb_kms:
            result.append(
                iam.kms_via(
                    self.r.context, self.r.kms_key_arn, "dynamodb", sorted(self._dynamodb_kms)
                )
            )
        return result


def step_statements(needs: Iterable[str], resources: RuntimeResources) -> list[iam.Statement]:
    grants = Grants(resources)
    for need in sorted(needs):
        grants.need(need)
    return grants.statements()


def poller_statements(
    resources: RuntimeResources,
    state_machine_arn: pulumi.Input[str],
    state_machine_name: pulumi.Input[str],
    express_state_machine_arn: pulumi.Input[str] | None = None,
) -> list[iam.Statement]:
    """The poller: read queues, report metrics, watch ECS, start scaling executions, alert."""
    r = resources
    grants = Grants(r)
    grants.add("queue-scan", iam.allow(["dynamodb:GetItem", "dynamodb:Scan"], [r.table_arn]))
    grants.table_key(KMS_READ)
    for need in (steps.ADO, steps.ECS_READ, steps.ALERTS, steps.STATE):
        grants.need(need)
    grants.add(
        "metrics",
        # PutMetricData has no resources; the namespace condition is its only scope.
        iam.allow(
            ["cloudwatch:PutMetricData"],
            ["*"],
            condition={"StringEquals": {"cloudwatch:namespace": r.metric_namespace}},
        ),
    )
    machines = [state_machine_arn]
    if express_state_machine_arn is not None:
        machines.append(express_state_machine_arn)
    grants.start_executions(machines)
    grants.add(
        "describe",
        iam.allow(
            ["states:DescribeExecution"],
            [r.context.arn("states", pulumi.Output.concat("execution:", state_machine_name, ":*"))],
        ),
    )
    return grants.statements()


def _joined(ids: pulumi.Output[list[str]]) -> pulumi.Output[str]:
    return ids.apply(lambda values: ",".join(values))


def _variable_values(r: RuntimeResources) -> dict[str, Callable[[], pulumi.Input[str]]]:
    """The value the stack gives each variable of the step needs table."""
    return {
        "ADOSCALE_ORG_URL": lambda: r.organization_url,
        "ADOSCALE_PAT_SECRET_ARN": lambda: r.pat_secret_arn,
        "ADOSCALE_ORGANIZATIONS": lambda: dump_organizations(r.other_organizations),
        "ADOSCALE_CLUSTER": lambda: r.cluster_name,
        "ADOSCALE_SUBNETS": lambda: _joined(r.subnet_ids),
        "ADOSCALE_SECURITY_GROUPS": lambda: _joined(r.security_group_ids),
        "ADOSCALE_TASK_DEFINITIONS": lambda: r.task_definition_arns.apply(
            lambda arns: json.dumps(arns, sort_keys=True)
        ),
        "ADOSCALE_CONTAINER_NAME": lambda: r.container_name,
        "ADOSCALE_ASSIGN_PUBLIC_IP": lambda: "true" if r.assign_public_ip else "false",
        "ADOSCALE_PROFILE_LAUNCH": lambda: r.profile_launch,
        "ADOSCALE_ALERT_TOPIC_ARN": lambda: r.topic_arn,
        "ADOSCALE_STATE_TABLE": lambda: r.state_table_name,
        "ADOSCALE_TABLE": lambda: r.table_name,
    }


def step_environment(
    needs: Iterable[str], resources: RuntimeResources
) -> dict[str, pulumi.Input[str]]:
    """The Lambda environment variables the step needs table lists for ``needs``."""
    values = _variable_values(resources)
    missing = [name for name in steps.need_variables(needs) if name not in values]
    if missing:
        raise ValueError(f"no stack value for {', '.join(missing)}: add it to _variable_values")
    return {name: values[name]() for name in steps.need_variables(needs)}


def poller_environment(
    resources: RuntimeResources,
    state_machine_arn: pulumi.Input[str],
    express_state_machine_arn: pulumi.Input[str] | None = None,
) -> dict[str, pulumi.Input[str]]:
    """The whole Lambda environment: the poller validates queue items against every profile."""
    env = step_environment(steps.NEEDS, resources)
    env["ADOSCALE_METRIC_NAMESPACE"] = resources.metric_namespace
    env["ADOSCALE_STATE_MACHINE_ARN"] = state_machine_arn
    if express_state_machine_arn is not None:
        env["ADOSCALE_EXPRESS_STATE_MACHINE_ARN"] = express_state_machine_arn
    return env
