"""Local AWS for ``adoscale local``: a moto server in this process with the stack's resources.

moto runs as a real HTTP server on 127.0.0.1 (a free port), Step Functions executes
definitions (its engine calls back on ``MOTO_PORT``), and ``LambdaRouter`` runs the step
Lambdas' real handlers in process. The resources are the ones the Pulumi stack creates,
built by the workflow's own ``create_workflow_stack`` (network with DNS hostnames,
cluster and task definition, queue and state tables, alert topic with an SQS
subscription, PAT secret, one Lambda per step, the real state machine), plus the state
table's TTL. Every boto3 client of the process, the poller's and the handlers', reaches
moto through ``AWS_ENDPOINT_URL``; nothing can reach a real AWS account.
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass, field
from typing import Any

import boto3
import requests
from moto.server import ThreadedMotoServer

from adoscale.local.lambda_router import LambdaRouter
from adoscale.local.workflow_stack import (
    MOTO_CONFIG,
    WorkflowStack,
    create_workflow_stack,
    receive_alerts,
)

REGION = "eu-west-1"
NAMESPACE = "AdoAgentScaling"
_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}
# What the step handlers import: loaded before the clock starts, so a step's first (cold)
# invocation costs its own set-up only (each second of it is 20 simulated seconds at x20).
STEP_LIBRARIES = (
    "adoscale.workflow.admission",
    "adoscale.workflow.reaper",
    "adoscale.workflow.runtime",
    "adoscale.workflow.scale_in",
    "adoscale.workflow.scale_out",
)
TASKS_STAY_RUNNING = {"progression": "manual", "times": 10**9}
_DROPPED = re.compile(r"^AWS_(PROFILE|SESSION_TOKEN|ENDPOINT_URL_.+|CONTAINER_CREDENTIALS_.+)$")


@dataclass
class LocalStack:
    """The running moto server and what was created in it."""

    endpoint: str
    server: ThreadedMotoServer
    router: LambdaRouter
    workflow: WorkflowStack
    session: Any
    env: dict[str, str] = field(default_factory=dict)
    _saved_environ: dict[str, str | None] = field(default_factory=dict, repr=False)

    def client(self, service: str) -> Any:
        return self.session.client(service)

    @property
    def table(self) -> str:
        return self.env["ADOSCALE_TABLE"]

    def stop(self) -> None:
        """Uninstall the router, stop moto and give the process its environment back."""
        self.router.uninstall()
        self.server.stop()
        _restore(self._saved_environ)


def start_local_stack(
    *,
    org_url: str,
    pat: str,
    boot_wait_seconds: int,
    confirm_wait_seconds: int,
    namespace: str = NAMESPACE,
    extra_env: dict[str, str] | None = None,
    profiles: tuple[str, ...] = (),
) -> LocalStack:
    """A moto server with Step Functions execution on, the router installed, the resources made."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = _point_environment_at(endpoint, port)
    router = LambdaRouter()
    try:
        for library in STEP_LIBRARIES:
            importlib.import_module(library)
        requests.post(
            f"{endpoint}/moto-api/config", json=MOTO_CONFIG, timeout=10
        ).raise_for_status()
        router.install()
        session = boto3.session.Session(region_name=REGION)
        workflow = create_workflow_stack(
            session,
            org_url=org_url,
            pat=pat,
            boot_wait_seconds=boot_wait_seconds,
            confirm_wait_seconds=confirm_wait_seconds,
            extra_env={"ADOSCALE_METRIC_NAMESPACE": namespace, **(extra_env or {})},
            profiles=profiles,
        )
        session.client("dynamodb").update_time_to_live(
            TableName=workflow.env["ADOSCALE_STATE_TABLE"],
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
        )
    except BaseException:
        router.uninstall()
        server.stop()
        _restore(saved)
        raise
    env = {
        **workflow.env,
        "ADOSCALE_STATE_MACHINE_ARN": workflow.state_machine_arn,
        "ADOSCALE_METRIC_NAMESPACE": namespace,
    }
    return LocalStack(
        endpoint=endpoint,
        server=server,
        router=router,
        workflow=workflow,
        session=session,
        env=env,
        _saved_environ=saved,
    )


def read_alerts(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Alert bodies that arrived on the alert topic's SQS subscription since the last call."""
    return [
        alert["body"]
        if alert["body"] is not None
        else {"kind": "unreadable", "message": alert["raw"][:200]}
        for alert in receive_alerts(sqs, queue_url)
    ]


def _point_environment_at(endpoint: str, port: int) -> dict[str, str | None]:
    """Every boto3 client in this process talks to moto, with throwaway credentials."""
    wanted = {**_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, "MOTO_PORT": str(port)}
    dropped = [name for name in os.environ if _DROPPED.match(name)]
    saved: dict[str, str | None] = {name: os.environ.get(name) for name in [*wanted, *dropped]}
    for name in dropped:
        os.environ.pop(name, None)
    os.environ.update(wanted)
    return saved


def _restore(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
