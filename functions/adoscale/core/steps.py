"""The step Lambdas of the scaling state machine and what each may touch.

The Pulumi Workflow component turns ``needs`` into one scoped IAM role per step, and
the state machine definition refers to steps by ``name``: one registry keeps the two
in step. ``NEEDS`` is the one table of what a need brings: the Lambda environment
variables the stack sets (and the step requires), the AWS services the step's runtime
builds clients for, and the IAM actions the stack grants. The infrastructure, the step
runtime, the local stack and the tests all read it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# What a step may need; the infrastructure maps each to IAM statements and env vars.
ADO = "ado"  # read the PAT secret, call Azure DevOps
ECS_READ = "ecs_read"  # ListTasks / DescribeTasks on the cluster
ECS_RUN = "ecs_run"  # RunTask on the agent task definitions (+ iam:PassRole, ecs:TagResource)
ECS_STOP = "ecs_stop"  # StopTask on the cluster
ALERTS = "alerts"  # Publish to the alert topic (+ the state table for dedupe)
STATE = "state"  # the state table: per-queue leases
QUEUES = "queues"  # GetItem on the queue table

_STATE_ITEMS = frozenset(
    {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
)
_KMS_READ_WRITE = frozenset(
    {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"}
)


@dataclass(frozen=True)
class Need:
    """What one need brings to a step Lambda."""

    required: tuple[str, ...]  # environment variables the step cannot run without
    optional: tuple[str, ...]  # environment variables the stack sets, with defaults in code
    services: tuple[str, ...]  # AWS services the step builds clients for
    actions: frozenset[str]  # IAM actions the stack grants for it

    @property
    def variables(self) -> tuple[str, ...]:
        return self.required + self.optional


NEEDS: Mapping[str, Need] = {
    # the organisations a PAT may go to: the stack's own, and the others it lists
    ADO: Need(
        ("ADOSCALE_ORG_URL", "ADOSCALE_PAT_SECRET_ARN"),
        ("ADOSCALE_ORGANIZATIONS",),
        ("secretsmanager",),
        frozenset({"secretsmanager:GetSecretValue", "kms:Decrypt"}),
    ),
    # the profile launch table: boot timeouts (read) and capacity providers (run) per profile
    ECS_READ: Need(
        ("ADOSCALE_CLUSTER",),
        ("ADOSCALE_PROFILE_LAUNCH",),
        ("ecs",),
        frozenset({"ecs:ListTasks", "ecs:DescribeTasks"}),
    ),
    # a launch names each task its organisation (and the PAT secret the task reads)
    ECS_RUN: Need(
        (
            "ADOSCALE_ORG_URL",
            "ADOSCALE_PAT_SECRET_ARN",
            "ADOSCALE_CLUSTER",
            "ADOSCALE_SUBNETS",
            "ADOSCALE_SECURITY_GROUPS",
            "ADOSCALE_TASK_DEFINITIONS",
        ),
        (
            "ADOSCALE_ORGANIZATIONS",
            "ADOSCALE_CONTAINER_NAME",
            "ADOSCALE_ASSIGN_PUBLIC_IP",
            "ADOSCALE_PROFILE_LAUNCH",
        ),
        ("ecs",),
        frozenset({"ecs:RunTask", "ecs:TagResource", "iam:PassRole"}),
    ),
    ECS_STOP: Need(("ADOSCALE_CLUSTER",), (), ("ecs",), frozenset({"ecs:StopTask"})),
    # alerts keep their dedupe marks in the state table, so they bring its grants too
    ALERTS: Need(
        ("ADOSCALE_ALERT_TOPIC_ARN", "ADOSCALE_STATE_TABLE"),
        (),
        ("sns", "dynamodb"),
        frozenset({"sns:Publish"}) | _STATE_ITEMS | _KMS_READ_WRITE,
    ),
    STATE: Need(("ADOSCALE_STATE_TABLE",), (), ("dynamodb",), _STATE_ITEMS | _KMS_READ_WRITE),
    QUEUES: Need(
        ("ADOSCALE_TABLE",),
        (),
        ("dynamodb",),
        frozenset({"dynamodb:GetItem", "kms:Decrypt", "kms:DescribeKey"}),
    ),
}


def required_variables(needs: Iterable[str]) -> tuple[str, ...]:
    """The Lambda environment variables these needs require, sorted."""
    return tuple(sorted({v for need in needs for v in NEEDS[need].required}))


def need_variables(needs: Iterable[str]) -> tuple[str, ...]:
    """Every Lambda environment variable the stack sets for these needs, sorted."""
    return tuple(sorted({v for need in needs for v in NEEDS[need].variables}))


def need_services(needs: Iterable[str]) -> tuple[str, ...]:
    """The AWS services a runtime with these needs builds clients for, sorted."""
    return tuple(sorted({s for need in needs for s in NEEDS[need].services}))


def need_actions(needs: Iterable[str]) -> frozenset[str]:
    """The IAM actions the stack grants for these needs."""
    return frozenset(a for need in needs for a in NEEDS[need].actions)


# Every variable some need brings: the rest of the Lambda environment (tuning) goes to all.
NEED_VARIABLES: frozenset[str] = frozenset(need_variables(NEEDS))


@dataclass(frozen=True)
class Step:
    name: str
    handler: str
    needs: frozenset[str]
    timeout_seconds: int = 60
    memory_mb: int = 256


STEPS: tuple[Step, ...] = (
    Step("validate", "adoscale.handlers.validate.handler", frozenset({QUEUES, STATE})),
    Step("launch", "adoscale.handlers.launch.handler", frozenset({ECS_RUN, ALERTS}), 120),
    Step(
        "verify", "adoscale.handlers.verify.handler", frozenset({ADO, ECS_READ, ECS_STOP, ALERTS})
    ),
    Step("drain", "adoscale.handlers.drain.handler", frozenset({ADO})),
    Step("retire", "adoscale.handlers.retire.handler", frozenset({ADO, ECS_READ, ECS_STOP})),
    Step(
        "reap",
        "adoscale.handlers.reap.handler",
        frozenset({ADO, ECS_READ, ECS_RUN, ECS_STOP, ALERTS}),
        120,
    ),
    Step("release", "adoscale.handlers.release.handler", frozenset({STATE})),
    # ado: reads the PAT only to scrub it out of the failure it reports
    Step("alert", "adoscale.handlers.alert.handler", frozenset({ALERTS, STATE, ADO})),
)

STEP_NAMES: tuple[str, ...] = tuple(step.name for step in STEPS)


def find_step(name: str) -> Step:
    """The registered step called ``name``; the error lists the known ones."""
    for step in STEPS:
        if step.name == name:
            return step
    raise ValueError(f"step: unknown {name!r}; one of {', '.join(STEP_NAMES)}")
