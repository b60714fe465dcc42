"""LambdaRouter: moto's Lambda invocations of adoscale handlers run the real code in process."""

from __future__ import annotations

import io
import json
import os
import sys
import zipfile

import pytest
from moto import mock_aws

from adoscale.core.exceptions import ConfigError
from adoscale.handlers import make_handler
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
        assert router.handler(first).runtime.settings.state_table == "a"
        assert router.handler(second).runtime.settings.state_table == "b"
        assert router.handler(first) is not router.handler(second)
        assert router.handler(first) is router.handler(first)  # warm, as one container
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


def test_routed_handlers_leave_the_process_environment_and_modules_alone(lambdas, monkeypatch):
    client, create = lambdas
    monkeypatch.delenv("ADOSCALE_STATE_TABLE", raising=False)
    create("release", "adoscale.handlers.release.handler", {"ADOSCALE_STATE_TABLE": "only-x"})
    modules_before = set(sys.modules)
    with LambdaRouter() as router:
        seen: list[str | None] = []
        # GIVEN a step whose work looks at the process environment while it runs
        work = router.handler(
            client.get_function(FunctionName="release")["Configuration"]["FunctionArn"]
        )
        original = work.work
        work.work = lambda runtime, step: (
            seen.append(os.environ.get("ADOSCALE_STATE_TABLE")),
            original(runtime, step),
        )[1]
        # WHEN the engine-side invoke runs it
        assert invoke(client, "release", {"execution": "arn:x", "input": {}}) == (
            None,
            {"released": False},
        )
    # THEN the function's variable reached its runtime, never os.environ, and no module
    # was imported a second time under another name
    assert seen == [None]
    assert work.runtime.settings.state_table == "only-x"
    assert not [name for name in set(sys.modules) - modules_before if "routed" in name]


@pytest.mark.parametrize("name", ["release", "validate", "alert", "poller"], ids=str)
def test_make_handler_builds_from_the_environment_it_is_given(name, monkeypatch):
    # GIVEN a process environment without any adoscale variable
    for variable in [v for v in os.environ if v.startswith("ADOSCALE_")]:
        monkeypatch.delenv(variable)
    # WHEN a handler is made from an incomplete environment THEN it names what is missing
    with pytest.raises(ConfigError, match="ADOSCALE_"):
        make_handler(name, {"ADOSCALE_METRIC_NAMESPACE": "X"})
    with pytest.raises(ValueError, match="handler"):
        make_handler("../poller", {})
