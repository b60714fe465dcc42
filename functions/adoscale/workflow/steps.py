"""The step Lambdas of the scaling state machine and what each may touch.

The Pulumi Workflow component turns ``needs`` into one scoped IAM role per step, and
the state machine definition refers to steps by ``name``: one registry keeps the two
in step.
"""

from __future__ import annotations

from dataclasses import dataclass

# What a step may need; the infrastructure maps each to IAM statements and env vars.
ADO = "ado"  # read the PAT secret, call Azure DevOps
ECS_READ = "ecs_read"  # ListTasks / DescribeTasks on the cluster
ECS_RUN = "ecs_run"  # RunTask on the agent task definitions (+ iam:PassRole, ecs:TagResource)
ECS_STOP = "ecs_stop"  # StopTask on the cluster
ALERTS = "alerts"  # Publish to the alert topic (+ the state table for dedupe)
STATE = "state"  # the state table: per-queue leases
QUEUES = "queues"  # GetItem on the queue table


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
