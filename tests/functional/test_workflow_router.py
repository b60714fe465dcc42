"""LambdaRouter: moto's Lambda invocations of adoscale handlers run the real code in process."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from moto import mock_aws

from adoscale.local.lambda_router import LambdaRouter
from tests.support.workflow import session_for_tests

ROLE = "arn:aws:iam::123456789012:role/steps"


def zipped() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


@pytest.fixture
def lambdas(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws(config={"lambda": {"use_docker": False}}):
        session = session_for_tests()
        session.client("iam").create_role(RoleName="steps", AssumeRolePolicyDocument="{}")
        client = session.client("lambda")

        def create(name: str, handler: str, env: dict[str, str] | None = None) -> str:
            return client.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=ROLE,
                Handler=handler,
                Code={"ZipFile": zipped()},
                Environment={"Variables": env or {}},
            )["FunctionArn"]

        yield client, create


def invoke(client, name: str, payload) -> tuple[str | None, object]:
    response = client.invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def test_adoscale_handlers_run_in_process_with_their_own_environment(lambdas):
    client, create = lambdas
    first = create("release-a", "adoscale.handlers.release.handler", {"ADOSCALE_STATE_TABLE": "a"})
    second = create("release-b", "adoscale.handlers.release.handler", {"ADOSCALE_STATE_TABLE": "b"})
    with LambdaRouter() as router:
        # an input without a queue: release has nothing to release and says so
        error, payload = invoke(client, "release-a", {"execution": "arn:x", "input": {}})

        assert error is None
        assert payload == {"released": False}
        assert router.module(first).RUNTIME.settings.state_table == "a"
        assert router.module(second).RUNTIME.settings.state_table == "b"
        assert router.module(first) is not router.module(second)
        assert [call.function_name for call in router.invocations] == ["release-a"]
        assert router.handler_seconds() > 0


def test_a_handler_error_comes_back_as_lambda_reports_it(lambdas):
    client, create = lambdas
    create("release", "adoscale.handlers.release.handler", {"ADOSCALE_STATE_TABLE": "s"})
    with LambdaRouter() as router:
        error, payload = invoke(client, "release", {"input": {}})

    assert error == "Unhandled"
    assert payload["errorType"] == "WorkflowInputError"
    assert "event.execution" in payload["errorMessage"]
    assert router.invocations[0].error_type == "WorkflowInputError"


def test_a_missing_variable_fails_the_invocation_naming_it(lambdas):
    client, create = lambdas
    create("validate", "adoscale.handlers.validate.handler", {})
    with LambdaRouter():
        error, payload = invoke(client, "validate", {"execution": "arn:x", "input": {}})

    assert error == "Unhandled"
    assert payload["errorType"] == "ConfigError"
    assert "ADOSCALE_" in payload["errorMessage"]


def test_other_functions_keep_motos_behaviour_and_uninstall_restores_it(lambdas):
    client, create = lambdas
    create("echo", "index.handler")
    create("release", "adoscale.handlers.release.handler", {"ADOSCALE_STATE_TABLE": "s"})
    with LambdaRouter():
        assert invoke(client, "echo", {"hello": 1}) == (None, {"hello": 1})

    # moto alone echoes the payload, even for an adoscale handler
    assert invoke(client, "release", {"input": {}}) == (None, {"input": {}})
