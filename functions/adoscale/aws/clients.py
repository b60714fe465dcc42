"""AWS clients as every Lambda builds them, and the alerter they share.

boto3 honours ``AWS_ENDPOINT_URL`` itself, so the same clients reach AWS, moto in tests
and the local mode. The poller's wiring and each step's runtime both build through here,
so a step Lambda never loads the poller to get a client.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from adoscale.aws.alerts import Alerter, DedupeStore
from adoscale.core.settings import Settings

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
    """The alerter of the Lambda environment: dedupe marks in the state table when set."""
    dedupe = (
        DedupeStore(clients["dynamodb"], settings.state_table) if settings.state_table else None
    )
    return Alerter(
        clients["sns"],
        settings.alert_topic_arn,
        dedupe,
        window_seconds=settings.alert_dedupe_seconds,
    )
