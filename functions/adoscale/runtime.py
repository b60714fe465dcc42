"""Wiring: boto3 clients and collaborators built once per Lambda container.

boto3 honours ``AWS_ENDPOINT_URL`` itself, so the same wiring runs against AWS, moto in
tests, and the local mode.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adoscale.alerts import Alerter, DedupeStore
from adoscale.connections import AdoConnections, Deadline
from adoscale.cycles import Activity
from adoscale.ecs import AgentTasks
from adoscale.executions import ExecutionStarter
from adoscale.metrics import MetricsPublisher
from adoscale.pat import PatCache
from adoscale.poll import Poller
from adoscale.settings import POLLER_REQUIRED, Settings, load_settings
from adoscale.shards import OrgScheduler, PaceStore
from adoscale.store import QueueStore

SDK_WIRE_LOGGERS = ("botocore", "boto3", "urllib3")


def quiet_sdk_wire_logs() -> None:
    """The SDKs' DEBUG logs print request and response bodies, and GetSecretValue's body is
    the PAT: they never go below INFO, whatever level the function logs at."""
    for name in SDK_WIRE_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.INFO)


def aws_clients(
    session: Any | None, services: tuple[str, ...], max_workers: int, region: str | None = None
) -> dict[str, Any]:
    """Clients with bounded timeouts and botocore's standard retry mode.

    botocore, not boto3: the handlers need no resources or S3 transfers, and boto3's
    import costs a cold start tens of milliseconds for them. A boto3 session (tests, the
    local mode) is accepted too.
    """
    from botocore.config import Config  # the SDK loads on first use, not at import

    quiet_sdk_wire_logs()
    config = Config(
        region_name=region,
        connect_timeout=3,
        read_timeout=10,
        retries={"mode": "standard", "max_attempts": 4},
        max_pool_connections=max(10, max_workers),
    )
    if session is None:
        from botocore.session import get_session

        core = get_session()
        return {service: core.create_client(service, config=config) for service in services}
    return {service: session.client(service, config=config) for service in services}


def build_alerter(settings: Settings, clients: Mapping[str, Any]) -> Alerter:
    dedupe = (
        DedupeStore(clients["dynamodb"], settings.state_table) if settings.state_table else None
    )
    return Alerter(
        clients["sns"],
        settings.alert_topic_arn,
        dedupe,
        window_seconds=settings.alert_dedupe_seconds,
    )


@dataclass(frozen=True)
class PollerRuntime:
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
