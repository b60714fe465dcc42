"""Pure parts of the step Lambdas: failure alerts, event parsing, error mapping, overrides."""

from __future__ import annotations

import base64
import json
import re

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from adoscale.aws.ecs import is_capacity_failure
from adoscale.core.exceptions import (
    AwsUnavailableError,
    ConfigError,
    QueueConfigError,
    WorkflowInputError,
)
from adoscale.core.models import AgentTask
from adoscale.core.organizations import INIT_CONTAINER_NAME, Organization
from adoscale.core.schema import parse_queue
from adoscale.core.settings import VARIABLES, Settings, load_settings
from adoscale.core.steps import NEEDS, STEPS, need_variables
from adoscale.workflow.admission import failure_alert, queue_name
from adoscale.workflow.runtime import (
    StepInput,
    find_step,
    required_variables,
    transient_aws_errors,
)
from adoscale.workflow.scale_out import agent_environment, launch_spec, stop_reason

PAT = "k3yzsecretpat0000111122223333444455556666777788889999"
EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:scaling:build-scale_in-1"


def lambda_cause(error_type: str, message: str) -> str:
    return json.dumps({"errorType": error_type, "errorMessage": message, "stackTrace": ["x"]})


@pytest.mark.parametrize(
    ("cause", "leak"),
    [
        (lambda_cause("AdoAuthError", f"GET failed for token {PAT}"), PAT),
        (
            lambda_cause(
                "AdoError",
                "Authorization: Basic " + base64.b64encode(b":another-unknown-token").decode(),
            ),
            base64.b64encode(b":another-unknown-token").decode(),
        ),
        (f"plain text cause with {PAT}", PAT),
    ],
    ids=["pat-in-message", "basic-header", "non-json-cause"],
)
def test_the_failure_alert_never_carries_the_pat(cause, leak):
    state = {"queue": "build", "action": "scale_in", "error": {"Error": "X", "Cause": cause}}

    queue, message, detail = failure_alert(state, EXECUTION, [PAT])

    text = json.dumps([queue, message, detail])
    assert leak not in text
    assert "***" in text
    assert "stackTrace" not in text
    assert detail["execution"] == EXECUTION
    assert queue == "build"


def test_the_failure_alert_keeps_type_and_message_of_a_lambda_error():
    state = {
        "queue": "build",
        "action": "reap",
        "error": {
            "Error": "AdoUnavailableError",
            "Cause": lambda_cause("AdoUnavailableError", "503"),
        },
    }

    _queue, message, detail = failure_alert(state, EXECUTION, [])

    assert message == "reap failed: AdoUnavailableError: 503"
    assert detail == {
        "execution": EXECUTION,
        "action": "reap",
        "error": "AdoUnavailableError",
        "cause": "503",
    }


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"queue": "build"}, "build"),
        ({"queue": "Not A Queue!"}, None),
        ({"queue": 7}, None),
        ({}, None),
    ],
    ids=["valid", "invalid-name", "not-a-string", "missing"],
)
def test_queue_name_only_trusts_a_valid_name(state, expected):
    assert queue_name(state) == expected


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ([], "event: expected a JSON object"),
        ({"input": {}}, "event.execution"),
        ({"execution": "arn", "input": []}, "event.input"),
    ],
    ids=["not-an-object", "no-execution", "input-not-an-object"],
)
def test_a_malformed_event_names_what_is_wrong(event, message):
    with pytest.raises(WorkflowInputError, match=message):
        StepInput.from_event(event)


def test_steps_after_validate_need_the_queue_item_it_loaded():
    step = StepInput("arn", {"queue": "build"})
    with pytest.raises(WorkflowInputError, match=r"input\.context\.queue"):
        _ = step.queue
    assert step.queue_or_none is None
    item = {"queue": "build", "pool": "linux", "max_agents": 3}
    assert StepInput("arn", {"context": {"queue": item}}).queue.pool == "linux"
    bad = StepInput("arn", {"context": {"queue": {**item, "max_agents": 0}}})
    with pytest.raises(QueueConfigError, match="max_agents"):
        _ = bad.queue


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "RunTask",
    )


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (client_error("ThrottlingException", 400), True),
        (client_error("ProvisionedThroughputExceededException", 400), True),
        (client_error("InternalError", 500), True),
        (client_error("ServerException", 500), True),
        (EndpointConnectionError(endpoint_url="http://x"), True),
        (client_error("AccessDeniedException", 400), False),
        (client_error("ValidationException", 400), False),
    ],
    ids=["throttled", "dynamodb-throughput", "5xx", "ecs-server", "no-connection", "denied", "bad"],
)
def test_transient_aws_errors_become_one_retryable_type(error, transient):
    with pytest.raises(AwsUnavailableError if transient else type(error)), transient_aws_errors():
        raise error


def test_each_step_requires_the_variables_of_its_needs():
    assert required_variables(find_step("validate")) == ("ADOSCALE_STATE_TABLE", "ADOSCALE_TABLE")
    assert "ADOSCALE_TASK_DEFINITIONS" in required_variables(find_step("launch"))
    assert "ADOSCALE_PAT_SECRET_ARN" in required_variables(find_step("alert"))
    assert all(required_variables(step) for step in STEPS)
    with pytest.raises(ValueError, match="unknown"):
        find_step("nope")


@pytest.mark.parametrize("need", sorted(NEEDS), ids=str)
def test_the_step_needs_table_names_only_what_exists(need):
    entry = NEEDS[need]
    # every variable is one the settings reader knows, listed once, required or optional
    assert set(entry.variables) <= set(VARIABLES), set(entry.variables) - set(VARIABLES)
    assert not set(entry.required) & set(entry.optional)
    # every service is one botocore can build a client for; every action names its service
    assert set(entry.services) <= {"dynamodb", "ecs", "secretsmanager", "sns"}
    assert entry.required, "a need without a required variable cannot be checked at start"
    assert all(re.fullmatch(r"[a-z0-9-]+:[A-Za-z]+", action) for action in entry.actions)


def test_every_step_need_is_in_the_table_and_a_step_can_run_on_what_it_brings():
    for step in STEPS:
        assert step.needs <= set(NEEDS), step.name
        # GIVEN exactly the variables its needs bring (placeholders of the right shape)
        environment = {name: SAMPLE_VALUES[name] for name in need_variables(step.needs)}
        # THEN its settings load, and dropping any required one names that variable
        load_settings(environment, required_variables(step))
        for name in required_variables(step):
            with pytest.raises(ConfigError, match=name):
                load_settings(
                    {k: v for k, v in environment.items() if k != name}, required_variables(step)
                )


SAMPLE_VALUES = {
    "ADOSCALE_TABLE": "queues",
    "ADOSCALE_STATE_TABLE": "state",
    "ADOSCALE_ALERT_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:alerts",
    "ADOSCALE_ORG_URL": "https://dev.azure.com/example",
    "ADOSCALE_PAT_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pat",
    "ADOSCALE_CLUSTER": "agents",
    "ADOSCALE_SUBNETS": "subnet-0123456789abcdef0",
    "ADOSCALE_SECURITY_GROUPS": "sg-0123456789abcdef0",
    "ADOSCALE_TASK_DEFINITIONS": json.dumps({"default": "arn:aws:ecs:eu-west-1:1:td/a:1"}),
    "ADOSCALE_CONTAINER_NAME": "agent",
    "ADOSCALE_ASSIGN_PUBLIC_IP": "false",
    "ADOSCALE_PROFILE_LAUNCH": "{}",
    "ADOSCALE_ORGANIZATIONS": "[]",
}


QUEUE = parse_queue(
    {
        "queue": "build",
        "pool": "linux",
        "max_agents": 3,
        "capabilities": {"docker": "", "java": "17"},
        "organization_url": "other",
        "agent_profile": "large",
        "spot": True,
    }
)


@pytest.mark.parametrize(
    ("item", "placeholder", "expected"),
    [
        (
            QUEUE,
            False,
            {
                "AZP_POOL": "linux",
                "AZP_URL": "https://dev.azure.com/other",
                "AZP_CAPABILITIES": '{"docker":"","java":"17"}',
            },
        ),
        (
            parse_queue({"queue": "q", "pool": "p", "max_agents": 1}),
            True,
            {
                "AZP_POOL": "p",
                "AZP_PLACEHOLDER": "1",
            },
        ),
        (
            parse_queue({"queue": "q", "pool": "p", "max_agents": 1, "max_jobs_per_agent": 20}),
            False,
            {"AZP_POOL": "p", "AZP_MAX_JOBS": "20"},
        ),
        (
            parse_queue({"queue": "q", "pool": "p", "max_agents": 1, "max_jobs_per_agent": 20}),
            True,
            {"AZP_POOL": "p", "AZP_PLACEHOLDER": "1"},
        ),
        (
            parse_queue({"queue": "q", "pool": "p", "max_agents": 1, "max_jobs_per_agent": 1}),
            False,
            {"AZP_POOL": "p"},
        ),
    ],
    ids=[
        "all-overrides",
        "placeholder-without-capabilities",
        "reusable-agent",
        "placeholder-of-reusable-queue-runs-nothing",
        "one-job-agent-needs-no-override",
    ],
)
def test_agent_environment(item, placeholder, expected):
    organization = OTHER if item.organization_url else None
    assert agent_environment(item, organization, placeholder=placeholder) == expected


OWN_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:own-AbCdEf"
OTHER = Organization("other", "https://dev.azure.com/other", OWN_ARN.replace("own", "other"))
STACK = {
    "org_url": "https://dev.azure.com/contoso",
    "pat_secret_arn": OWN_ARN,
    "other_organizations": (OTHER,),
}


def test_launch_spec_uses_the_queue_profile_and_names_an_unknown_one():
    settings = Settings(
        task_definitions={"large": "arn:large", "default": "arn:default"},
        subnets=("subnet-0123456789abcdef0",),
        security_groups=("sg-0123456789abcdef0",),
        **STACK,
    )
    spec = launch_spec(QUEUE, settings)
    assert spec.task_definition == "arn:large"
    assert spec.spot is True
    assert spec.container_name == "agent"
    with pytest.raises(QueueConfigError, match=r"agent_profile.*'large'.*known: other"):
        launch_spec(QUEUE, Settings(task_definitions={"other": "arn:other"}, **STACK))


@pytest.mark.parametrize(
    ("reference", "url", "name"),
    [
        (None, "https://dev.azure.com/contoso", "contoso"),
        ("other", "https://dev.azure.com/other", "other"),
        ("https://dev.azure.com/other/", "https://dev.azure.com/other", "other"),
    ],
    ids=["default", "by-name", "by-url"],
)
def test_each_task_is_told_its_organisation_and_gets_its_url(reference, url, name):
    queue = parse_queue(
        {"queue": "q", "pool": "p", "max_agents": 1, "organization_url": reference}
        if reference
        else {"queue": "q", "pool": "p", "max_agents": 1}
    )
    settings = Settings(task_definitions={"default": "arn:default"}, **STACK)

    spec = launch_spec(queue, settings)

    assert spec.environment["AZP_URL"] == url
    assert spec.init_container_name == INIT_CONTAINER_NAME
    assert dict(spec.init_environment) == {"AZP_ORGANIZATION": name}
    assert not any("PAT" in key or "TOKEN" in key for key in spec.environment)


def test_a_queue_of_an_unlisted_organisation_is_never_launched():
    queue = parse_queue(
        {"queue": "q", "pool": "p", "max_agents": 1, "organization_url": "https://evil.example/x"}
    )
    settings = Settings(task_definitions={"default": "arn:default"}, **STACK)

    with pytest.raises(QueueConfigError, match=r"organization_url.*contoso, other"):
        launch_spec(queue, settings)


@pytest.mark.parametrize(
    ("reason", "capacity"),
    [
        ("Capacity is unavailable at this time. Please try again later", True),
        ("RESOURCE:MEMORY", True),
        ("AccessDeniedException: not authorized to perform iam:PassRole", False),
        ("MISSING", False),
    ],
    ids=["capacity", "resource", "access", "missing"],
)
def test_capacity_failures_are_recognised(reason, capacity):
    assert is_capacity_failure(reason) is capacity


def test_stop_reason_says_what_ecs_said():
    task = AgentTask(
        "arn:aws:ecs:eu-west-1:1:task/c/1",
        "build",
        "a",
        "STOPPED",
        "STOPPED",
        stopped_reason="CannotPullContainerError: pull access denied",
        stop_code="TaskFailedToStart",
    )
    assert stop_reason(task) == (
        "stopped before registering: stopCode TaskFailedToStart; "
        "CannotPullContainerError: pull access denied; no exit code"
    )
