"""The service-hook endpoint against moto over HTTP and the fake Azure DevOps over HTTP.

The payload is Azure DevOps' documented sample of ``ms.vss-pipelines.job-state-changed-event``
(``adoscale/local/job_state_changed_event.json``), with the project of the fake
organisation. Polls are counted by the fake organisation: one ``jobrequests`` request per
pool and poll.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import secrets
import threading
import time

import pytest

from adoscale.aws.store import to_attribute_map
from adoscale.core.hook import Credentials
from adoscale.core.settings import load_settings
from adoscale.handlers import hook as hook_handler
from adoscale.local.ado_server import DEFAULT_PROJECT, FakeAdoServer
from adoscale.local.hook_endpoint import SAMPLE as SAMPLE_EVENT
from adoscale.poller.hook import HOOK_REQUIRED, build_hook_service
from tests.support.stack import PollerStack, create_poller_stack

PAT = "pat-0123456789-KNOWN-SECRET-abcdef"
POOL = "build"
MARKER = "BODY-MARKER-7f3a9c"  # placed in request bodies: must never come back out
SAMPLE = json.loads(SAMPLE_EVENT.read_text())


@pytest.fixture
def ado():
    with FakeAdoServer(pat=PAT, parallel_jobs=100) as server:
        server.add_pool(POOL)
        server.register_agent(POOL, f"adoscale-placeholder-{POOL}", online=False)
        yield server


@pytest.fixture
def credentials() -> Credentials:
    return Credentials(f"ado-{secrets.token_hex(4)}", secrets.token_urlsafe(24))


@pytest.fixture
def stack(aws, ado, credentials) -> PollerStack:
    stack = create_poller_stack(PAT, ado.base_url)
    secret = stack.client("secretsmanager").create_secret(
        Name="hook",
        SecretString=json.dumps(
            {"username": credentials.username, "password": credentials.password}
        ),
    )
    stack.env["ADOSCALE_HOOK_SECRET_ARN"] = secret["ARN"]
    stack.client("dynamodb").put_item(
        TableName="queues",
        Item=to_attribute_map({"queue": POOL, "pool": POOL, "max_agents": 100}),
    )
    return stack


def service(stack: PollerStack, **kwargs):
    return build_hook_service(
        load_settings(stack.env, HOOK_REQUIRED), session=stack.session, **kwargs
    )


def event_for(project_id: str, *, state: str = "waiting", event_type: str | None = None) -> dict:
    document = copy.deepcopy(SAMPLE)
    document["resourceContainers"]["project"]["id"] = project_id
    document["resource"]["job"]["state"] = state
    document["message"]["text"] = MARKER
    if event_type is not None:
        document["eventType"] = event_type
    return document


def request(
    body: str, *, authorization: str | None, method: str = "POST", encoded: bool = False
) -> dict:
    """A Lambda function URL request, payload format 2.0."""
    headers = {"content-type": "application/json", "user-agent": "VSServices/19.0"}
    if authorization is not None:
        headers["authorization"] = authorization
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {"http": {"method": method, "path": "/", "sourceIp": "13.107.6.1"}},
        "body": base64.b64encode(body.encode()).decode() if encoded else body,
        "isBase64Encoded": encoded,
    }


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def bad_inputs(credentials: Credentials, project_id: str) -> dict[str, tuple[dict, int]]:
    good = credentials.header()
    waiting = json.dumps(event_for(project_id))
    return {
        "wrong-method": (request(waiting, authorization=good, method="GET"), 405),
        "no-auth": (request(waiting, authorization=None), 401),
        "wrong-password": (
            request(waiting, authorization=basic(credentials.username, credentials.password + "x")),
            401,
        ),
        "wrong-user": (request(waiting, authorization=basic("other", credentials.password)), 401),
        "not-basic": (request(waiting, authorization=f"Bearer {credentials.password}"), 401),
        "garbage-auth": (request(waiting, authorization="Basic %%%not-base64"), 401),
        "10-mib-body": (
            request(MARKER * (10 * 1024 * 1024 // len(MARKER)), authorization=good),
            413,
        ),
        "10-mib-base64-body": (
            request(MARKER * (10 * 1024 * 1024 // len(MARKER)), authorization=good, encoded=True),
            413,
        ),
        "truncated-json": (request(waiting[: len(waiting) // 2], authorization=good), 400),
        "json-array": (request(json.dumps([event_for(project_id)]), authorization=good), 400),
        "json-string": (request(json.dumps(MARKER), authorization=good), 400),
        "empty-body": (request("", authorization=good), 400),
        "bad-base64": (
            dict(request("{}", authorization=good), isBase64Encoded=True, body="%%"),
            400,
        ),
        "other-event-type": (
            request(
                json.dumps(event_for(project_id, event_type="build.complete")), authorization=good
            ),
            202,
        ),
        "job-running": (
            request(json.dumps(event_for(project_id, state="running")), authorization=good),
            202,
        ),
        "unknown-project": (
            request(
                json.dumps(event_for("0d7f64bc-55c1-4b7e-9f1e-1a2b3c4d5e6f")), authorization=good
            ),
            202,
        ),
        "project-not-a-guid": (
            request(json.dumps(event_for(MARKER)), authorization=good),
            202,
        ),
    }


CASES = [
    "wrong-method",
    "no-auth",
    "wrong-password",
    "wrong-user",
    "not-basic",
    "garbage-auth",
    "10-mib-body",
    "10-mib-base64-body",
    "truncated-json",
    "json-array",
    "json-string",
    "empty-body",
    "bad-base64",
    "other-event-type",
    "job-running",
    "unknown-project",
    "project-not-a-guid",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gets_its_status_no_poll_and_nothing_echoed(
    case, stack, ado, credentials, caplog
):
    # GIVEN a waiting job in the pool, a hook logging at DEBUG (as ADOSCALE_LOG_LEVEL=DEBUG
    # sets it before the clients are built), and a request that must not trigger a poll
    ado.queue_job(POOL)
    caplog.set_level(logging.DEBUG)
    hook = service(stack)
    event, status = bad_inputs(credentials, ado.project_id(DEFAULT_PROJECT))[case]
    ado.reset_log()

    # WHEN it is handled
    response = hook.handle(event)

    # THEN the right status, no poll of Azure DevOps, no execution, nothing echoed
    assert response["statusCode"] == status
    assert ado.count("jobrequests") == 0
    assert ado.count("agents") == 0
    assert stack.executions() == []
    said = json.dumps(response) + caplog.text
    for secret in (credentials.password, PAT, MARKER):
        assert secret not in said
    assert json.loads(response["body"]) == {"status": json.loads(response["body"])["status"]}


def test_a_waiting_job_polls_its_organisation_and_starts_a_scale_out(stack, ado, credentials):
    # GIVEN two waiting jobs, and a webhook for one of them
    for _ in range(2):
        ado.queue_job(POOL)
    hook = service(stack)
    body = json.dumps(event_for(ado.project_id(DEFAULT_PROJECT)))

    # WHEN it is handled
    started = time.monotonic()
    response = hook.handle(request(body, authorization=credentials.header()))

    # THEN one poll (at the end of the 2 s window) started one scale-out for both jobs,
    # named by the hook's window
    assert response["statusCode"] == 202
    assert time.monotonic() - started < 5.0
    assert ado.count("jobrequests") == 1
    (execution,) = stack.executions()
    assert execution["input"]["action"] == "scale_out"
    assert execution["input"]["count"] == 2
    assert int(execution["name"][-2:]) % 2 == 0
    assert hook.last_outcome.polled


def test_a_fan_out_of_50_webhooks_in_a_second_polls_at_most_twice(stack, ado, credentials):
    # GIVEN 50 jobs queued at once and three hook containers (as Lambda would run them)
    for _ in range(50):
        ado.queue_job(POOL)
    hooks = [service(stack) for _ in range(3)]
    body = json.dumps(event_for(ado.project_id(DEFAULT_PROJECT)))
    ado.reset_log()
    statuses: list[int] = []

    def post(index: int) -> None:
        statuses.append(
            hooks[index % 3].handle(request(body, authorization=credentials.header()))["statusCode"]
        )

    # WHEN 50 webhooks arrive within one second
    threads = [threading.Thread(target=post, args=(i,)) for i in range(50)]
    for index, thread in enumerate(threads):
        thread.start()
        time.sleep(0.95 / 50 if index < 49 else 0)
    for thread in threads:
        thread.join(30)

    # THEN every one is accepted, the fake organisation saw one or two polls, and the
    # executions launched for all 50 jobs without launching any twice
    assert statuses == [202] * 50
    assert 1 <= ado.count("jobrequests") <= 2
    executions = stack.executions()
    assert 1 <= len(executions) <= 2
    assert (
        executions[-1]["input"]["count"] == 50 or sum(e["input"]["count"] for e in executions) == 50
    )


def test_the_handler_reads_its_environment_once(monkeypatch, stack, ado, credentials):
    for name, value in stack.env.items():
        monkeypatch.setenv(name, value)
    hook_handler.handler.reset()
    try:
        body = json.dumps(event_for(ado.project_id(DEFAULT_PROJECT), state="completed"))
        first = hook_handler.handler(request(body, authorization=credentials.header()), None)
        second = hook_handler.handler(request(body, authorization=None), None)
    finally:
        hook_handler.handler.reset()

    assert (first["statusCode"], second["statusCode"]) == (202, 401)
    assert ado.count("jobrequests") == 0
