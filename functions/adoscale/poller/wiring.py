"""The poller's wiring: its clients and collaborators, built once per Lambda container.

boto3 honours ``AWS_ENDPOINT_URL`` itself, so the same wiring runs against AWS, moto in
tests, and the local mode. The clients come from ``adoscale.aws.clients``, which the step
Lambdas share without loading the poller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adoscale.ado.connections import AdoConnections
from adoscale.aws.clients import aws_clients, build_alerter
from adoscale.aws.ecs import AgentTasks
from adoscale.aws.executions import ExecutionStarter
from adoscale.aws.metrics import MetricsPublisher
from adoscale.aws.pat import PatCache
from adoscale.aws.store import QueueStore
from adoscale.core.deadline import Deadline
from adoscale.core.settings import POLLER_REQUIRED, Settings, load_settings
from adoscale.poller.cycles import Activity
from adoscale.poller.poll import Poller
from adoscale.poller.shards import OrgScheduler, PaceStore


@dataclass(frozen=True)
class PollerRuntime:
    """The poller and what a warm container keeps for it between invocations."""

    settings: Settings
    poller: Poller
    deadline: Deadline
    activity: Activity


POLLER_SERVICES = ("dynamodb", "ecs", "cloudwatch", "sns", "stepfunctions", "secretsmanager")


def build_poller(
    settings: Settings,
    *,
    session: Any | None = None,
    clock: Callable[[], datetime] | None = None,
    sharded: bool = True,
) -> PollerRuntime:
    """The poller and its collaborators; ``clock`` lets the local mode compress time."""
    clients = aws_clients(session, POLLER_SERVICES, settings.max_workers)
    deadline = Deadline()
    alerter = build_alerter(settings, clients)
    connections = AdoConnections(
        settings, PatCache(clients["secretsmanager"]), deadline, on_secret=alerter.add_secret
    )
    poller = Poller(
        settings,
        store=QueueStore(clients["dynamodb"], settings.table),
        tasks=AgentTasks(clients["ecs"], settings.cluster),
        connections=connections,
        metrics=MetricsPublisher(clients["cloudwatch"], settings.metric_namespace),
        alerter=alerter,
        starter=ExecutionStarter(
            clients["stepfunctions"], settings.state_machine_arn, settings.express_state_machine_arn
        ),
        sharded=sharded,
        scheduler=OrgScheduler(
            PaceStore(clients["dynamodb"], settings.state_table) if settings.state_table else None
        ),
        **({"clock": clock} if clock is not None else {}),
    )
    return PollerRuntime(
        settings=settings,
        poller=poller,
        deadline=deadline,
        activity=Activity(linger_seconds=settings.poll_linger_seconds),
    )


def poller_from_environment(environ: Mapping[str, str]) -> PollerRuntime:
    return build_poller(load_settings(environ, POLLER_REQUIRED))
