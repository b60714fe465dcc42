"""A queue of a second listed organisation scales out through the real state machine.

Two fake Azure DevOps organisations with different PATs; the stack lists both. The
launch step tells each task which organisation it serves; the stand-in for the task's
containers does what the init step and the agent do: take the named organisation's PAT
(as ECS would inject it from the secret) and register at that organisation's URL. The
other organisation's PAT is refused there.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
import requests

from adoscale.core.organizations import Organization, pat_variable
from adoscale.core.request import ScalingRequest
from adoscale.local.ado_server import FakeAdoServer
from adoscale.local.lambda_router import LambdaRouter
from adoscale.local.workflow_stack import WorkflowStack, create_workflow_stack
from tests.support.moto_server import REGION
from tests.support.workflow import environment_of, moto_http_world, wait_for

OWN_PAT = "pat-own-org-41f2aa09"
SECOND_PAT = "pat-second-org-9e07c3b1"
POOL = "linux"


@pytest.fixture(scope="module")
def two_orgs(moto_endpoint: str) -> Iterator[tuple[WorkflowStack, FakeAdoServer, FakeAdoServer]]:
    session = boto3.session.Session(region_name=REGION)
    with (
        moto_http_world(moto_endpoint),
        FakeAdoServer(pat=OWN_PAT, org="contoso") as own,
        FakeAdoServer(pat=SECOND_PAT, org="fabrikam") as second,
        LambdaRouter(),
    ):
        for server in (own, second):
            server.add_pool(POOL)
        arn = session.client("secretsmanager").create_secret(
            Name="fabrikam-pat", SecretString=SECOND_PAT
        )["ARN"]
        listed = [{"name": "fabrikam", "url": second.base_url, "pat_secret_arn": arn}]
        stack = create_workflow_stack(
            session,
            org_url=own.base_url,
            pat=OWN_PAT,
            boot_wait_seconds=1,
            extra_env={
                "ADOSCALE_ORGANIZATIONS": json.dumps(listed),
                "ADOSCALE_BOOT_TIMEOUT_SECONDS": "120",
            },
        )
        yield stack, own, second


def organisations(stack: WorkflowStack, own: FakeAdoServer) -> dict[str, Organization]:
    """What the task definition's init container gets: every listed organisation's PAT
    secret, by the variable name it reads."""
    listed = json.loads(stack.env["ADOSCALE_ORGANIZATIONS"])
    found = {"contoso": Organization("contoso", own.base_url, stack.env["ADOSCALE_PAT_SECRET_ARN"])}
    for entry in listed:
        found[entry["name"]] = Organization(entry["name"], entry["url"], entry["pat_secret_arn"])
    return found


def boot(stack: WorkflowStack, own: FakeAdoServer, task: dict) -> requests.Response:
    """The task's two containers: the init step picks the PAT of AZP_ORGANIZATION (ECS
    injects it from the secret as AZP_PAT_<NAME>); the agent registers with it."""
    overrides = {o["name"]: o for o in task["overrides"]["containerOverrides"]}
    named = {e["name"]: e["value"] for e in overrides["pat-handover"]["environment"]}
    organization = organisations(stack, own)[named["AZP_ORGANIZATION"]]
    injected = {
        org.pat_variable: stack.client("secretsmanager").get_secret_value(
            SecretId=org.pat_secret_arn
        )["SecretString"]
        for org in organisations(stack, own).values()
    }
    pat = injected[pat_variable(organization.name)]
    env = environment_of(task)
    return register(env["AZP_URL"], env["AZP_POOL"], env["AZP_AGENT_NAME"], pat)


def register(url: str, pool: str, name: str, pat: str) -> requests.Response:
    auth = base64.b64encode(f":{pat}".encode()).decode()
    headers = {"Authorization": f"Basic {auth}", "X-TFS-FedAuthRedirect": "Suppress"}
    pools = requests.get(
        f"{url}/_apis/distributedtask/pools", params={"poolName": pool}, headers=headers, timeout=5
    )
    if pools.status_code != 200:
        return pools
    pool_id = pools.json()["value"][0]["id"]
    return requests.post(
        f"{url}/_apis/distributedtask/pools/{pool_id}/agents",
        json={"name": name, "status": "online"},
        headers=headers,
        timeout=5,
    )


def test_a_queue_of_the_second_organisation_registers_its_agents_there(two_orgs) -> None:
    stack, own, second = two_orgs
    stack.put_queue(
        {"queue": "there", "pool": POOL, "max_agents": 5, "organization_url": "fabrikam"}
    )
    request = ScalingRequest(
        queue="there",
        action="scale_out",
        count=2,
        pool_id=second.pool_id(POOL),
        requested_at=datetime.now(UTC).isoformat(),
    )

    # WHEN the scale-out runs and each task boots as ECS would run it
    execution = stack.start(request, name=f"there-scale_out-{time.time_ns()}")
    ecs, cluster = stack.client("ecs"), stack.env["ADOSCALE_CLUSTER"]

    def launched() -> list[dict]:
        arns = ecs.list_tasks(cluster=cluster)["taskArns"]
        return ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []

    tasks = wait_for(lambda: len(launched()) == 2 and launched(), what="2 tasks")
    for task in tasks:
        env = environment_of(task)
        assert env["AZP_URL"] == second.base_url
        answer = boot(stack, own, task)
        assert answer.status_code == 200, answer.text
        # the stack's own PAT is refused by the second organisation
        refused = register(second.base_url, POOL, env["AZP_AGENT_NAME"] + "x", OWN_PAT)
        assert refused.status_code == 401
    result = stack.wait(execution)

    # THEN the verify step found both agents in the second organisation, none in the first
    assert result["status"] == "SUCCEEDED", result
    assert result["output"]["verify"]["pending_count"] == 0
    assert result["output"]["verify"]["not_registering"] == []
    assert len(second.agents(POOL)) == 2
    assert own.agents(POOL) == []
    for task in tasks:
        assert OWN_PAT not in json.dumps(task, default=str)
        assert SECOND_PAT not in json.dumps(task, default=str)
