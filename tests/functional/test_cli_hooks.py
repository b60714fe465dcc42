"""``adoscale hooks``: the service-hook subscription through the fake Azure DevOps over HTTP,
the credentials from the stack's secret in moto."""

from __future__ import annotations

import json
import secrets

import boto3
import pytest
from click.testing import CliRunner

from adoscale.cli.main import cli
from adoscale.core.hook import JOB_STATE_EVENT
from adoscale.local.ado_server import DEFAULT_PROJECT, FakeAdoServer

PAT = "operator-pat-0123456789-SECRET"
HOOK_URL = "https://abc123.lambda-url.eu-west-1.on.aws/"


@pytest.fixture
def ado():
    with FakeAdoServer(pat=PAT) as server:
        server.add_project("other")
        yield server


@pytest.fixture
def hook_secret(aws) -> tuple[str, str]:
    password = secrets.token_urlsafe(24)
    arn = boto3.client("secretsmanager").create_secret(
        Name="hook", SecretString=json.dumps({"username": "adoscale-hook", "password": password})
    )["ARN"]
    return arn, password


def run(ado: FakeAdoServer, *args: str, pat: str | None = PAT, **env: str):
    environ = {"ADOSCALE_ORG_URL": ado.base_url, "ADOSCALE_HOOK_URL": HOOK_URL, **env}
    environ["ADOSCALE_PAT"] = pat or ""
    return CliRunner().invoke(cli, ["hooks", *args], env=environ)


def test_install_subscribes_the_projects_waiting_jobs_once(ado, hook_secret):
    arn, password = hook_secret

    first = run(ado, "install", "--project", DEFAULT_PROJECT, "--hook-secret-arn", arn)
    again = run(ado, "install", "--project", DEFAULT_PROJECT, "--hook-secret-arn", arn)

    assert first.exit_code == 0, first.output
    assert again.exit_code == 0
    assert "already installed" in again.output
    (subscription,) = ado.subscriptions()
    assert subscription["publisherId"] == "pipelines"
    assert subscription["eventType"] == JOB_STATE_EVENT
    assert subscription["consumerId"] == "webHooks"
    assert subscription["consumerActionId"] == "httpRequest"
    assert subscription["publisherInputs"] == {
        "projectId": ado.project_id(DEFAULT_PROJECT),
        "jobStateId": "Waiting",
    }
    inputs = subscription["consumerInputs"]
    assert (inputs["url"], inputs["basicAuthUsername"]) == (HOOK_URL, "adoscale-hook")
    assert inputs["basicAuthPassword"] == password
    for output in (first.output, again.output):
        assert password not in output
        assert PAT not in output


def test_list_and_remove_touch_only_the_named_projects_subscription(ado, hook_secret):
    arn, _ = hook_secret
    for project in (DEFAULT_PROJECT, "other"):
        assert run(ado, "install", "--project", project, "--hook-secret-arn", arn).exit_code == 0

    listed = run(ado, "list")
    removed = run(ado, "remove", "--project", "other")
    after = CliRunner().invoke(
        cli,
        ["--output", "json", "hooks", "list"],
        env={"ADOSCALE_ORG_URL": ado.base_url, "ADOSCALE_PAT": PAT, "ADOSCALE_HOOK_URL": HOOK_URL},
    )

    assert listed.exit_code == 0
    assert listed.output.count(HOOK_URL) == 2
    assert removed.exit_code == 0
    assert "removed 1" in removed.output
    assert [row["project_id"] for row in json.loads(after.output)] == [
        ado.project_id(DEFAULT_PROJECT)
    ]
    assert "********" not in after.output
    assert "password" not in after.output.lower()


@pytest.mark.parametrize(
    ("args", "pat", "env", "field"),
    [
        (("install", "--project", "nope", "--hook-secret-arn", "ARN"), PAT, {}, "--project"),
        (("install", "--project", DEFAULT_PROJECT), None, {}, "ADOSCALE_PAT"),
        (("install", "--project", DEFAULT_PROJECT), PAT, {}, "--hook-secret-arn"),
        (("list",), PAT, {"ADOSCALE_ORG_URL": ""}, "--organization-url"),
    ],
    ids=["unknown-project", "no-pat", "no-secret", "no-organisation"],
)
def test_bad_input_exits_2_naming_the_field_and_changes_nothing(ado, aws, args, pat, env, field):
    result = run(ado, *args, pat=pat, **env)

    assert result.exit_code == 2, result.output
    assert field in result.output
    assert "Traceback" not in result.output
    assert ado.subscriptions() == []
