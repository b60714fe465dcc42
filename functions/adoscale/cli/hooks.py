"""``adoscale hooks install|list|remove``: the Azure DevOps service-hook subscription that
sends "job waiting" webhooks to the stack's endpoint.

The subscription: publisher ``pipelines``, event ``ms.vss-pipelines.job-state-changed-event``
filtered to ``jobStateId`` Waiting in one project, consumer ``webHooks`` action
``httpRequest`` with the stack's URL and Basic credentials (read from the secret the stack
generated, never printed). Installing twice changes nothing. The PAT (``ADOSCALE_PAT``)
needs the scopes Service Hooks (Read & Write) and Project and Team (Read); it is the
operator's, not the stack's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from typing import Any

import click

from adoscale.cli.context import BadInputError, CliContext, CommandFailedError
from adoscale.core.exceptions import AdoError
from adoscale.core.hook import JOB_STATE_EVENT, Credentials

PUBLISHER = "pipelines"
CONSUMER, ACTION = "webHooks", "httpRequest"
RESOURCE_VERSION = "5.1-preview.1"
PAT_ENVS = ("ADOSCALE_PAT", "AZURE_DEVOPS_EXT_PAT")
ORG_ENV = "ADOSCALE_ORG_URL"
URL_ENV, SECRET_ENV = "ADOSCALE_HOOK_URL", "ADOSCALE_HOOK_SECRET_ARN"


def subscription_body(project_id: str, url: str, credentials: Credentials) -> dict[str, Any]:
    """The ``_apis/hooks/subscriptions`` request that sends waiting jobs to ``url``."""
    return {
        "publisherId": PUBLISHER,
        "eventType": JOB_STATE_EVENT,
        "resourceVersion": RESOURCE_VERSION,
        "consumerId": CONSUMER,
        "consumerActionId": ACTION,
        "publisherInputs": {"projectId": project_id, "jobStateId": "Waiting"},
        "consumerInputs": {
            "url": url,
            "basicAuthUsername": credentials.username,
            "basicAuthPassword": credentials.password,
            "resourceDetailsToSend": "minimal",
            "messagesToSend": "none",
            "detailedMessagesToSend": "none",
        },
    }


def ours(subscription: Mapping[str, Any], url: str | None, project_id: str | None) -> bool:
    """A job-waiting webhook subscription (to ``url``, for ``project_id`` when given)."""
    consumer = subscription.get("consumerInputs") or {}
    publisher = subscription.get("publisherInputs") or {}
    return (
        subscription.get("publisherId") == PUBLISHER
        and subscription.get("eventType") == JOB_STATE_EVENT
        and subscription.get("consumerId") == CONSUMER
        and (url is None or str(consumer.get("url", "")).rstrip("/") == url.rstrip("/"))
        and (project_id is None or str(publisher.get("projectId", "")).lower() == project_id)
    )


def _stack_outputs() -> dict[str, Any]:
    """``pulumi stack output --json`` of the current stack, or {} without the Pulumi CLI."""
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        return {}
    try:
        done = subprocess.run(  # noqa: S603 - a fixed command, no shell
            [pulumi, "stack", "output", "--json"], capture_output=True, text=True, timeout=60
        )
        return json.loads(done.stdout) if done.returncode == 0 else {}
    except (OSError, subprocess.SubprocessError, ValueError):
        return {}


def _client(org_url: str | None) -> Any:
    from adoscale.ado.client import AdoClient

    problems = []
    if not org_url:
        problems.append(f"--organization-url: required (or set {ORG_ENV})")
    pat = next((os.environ[name] for name in PAT_ENVS if os.environ.get(name)), None)
    if not pat:
        problems.append(
            f"{PAT_ENVS[0]}: not set (a PAT with Service Hooks (Read & Write) and Project and"
            " Team (Read))"
        )
    if problems:
        raise BadInputError(problems, "nothing changed")
    return AdoClient(str(org_url), str(pat))


def _endpoint(
    url: str | None, secret_arn: str | None, *, need_secret: bool
) -> tuple[str, str | None]:
    """The hook URL and secret ARN: flags, environment, or the Pulumi stack's outputs."""
    if not url or (need_secret and not secret_arn):
        outputs = _stack_outputs()
        url = url or outputs.get("hook_url")
        secret_arn = secret_arn or outputs.get("hook_secret_arn")
    problems = []
    if not url:
        problems.append(f"--hook-url: required (or set {URL_ENV}, or run in the Pulumi project)")
    if need_secret and not secret_arn:
        problems.append(f"--hook-secret-arn: required (or set {SECRET_ENV})")
    if problems:
        raise BadInputError(problems, "nothing changed")
    return str(url), secret_arn


def _credentials(context: CliContext, secret_arn: str) -> Credentials:
    value = context.client("secretsmanager").get_secret_value(SecretId=secret_arn)
    try:
        credentials = Credentials.from_secret(value.get("SecretString") or "")
    except ValueError as error:
        raise CommandFailedError(f"--hook-secret-arn: {error}") from None
    return credentials


def _project_id(client: Any, project: str) -> str:
    found = client.project(project)
    if found is None:
        raise BadInputError([f"--project: no project {project!r} in {client.org_url}"])
    return str(found["id"]).lower()


_ORG = click.option(
    "--organization-url", envvar=ORG_ENV, help=f"Azure DevOps organisation URL (env {ORG_ENV})."
)
_URL = click.option("--hook-url", envvar=URL_ENV, help="The stack's hook_url output.")


@click.group()
def hooks() -> None:
    """The Azure DevOps service hook that polls as soon as a job waits."""


@hooks.command()
@click.option("--project", required=True, help="Azure DevOps project name or id.")
@_ORG
@_URL
@click.option("--hook-secret-arn", envvar=SECRET_ENV, help="The stack's hook_secret_arn output.")
@click.pass_obj
def install(
    context: CliContext,
    project: str,
    organization_url: str | None,
    hook_url: str | None,
    hook_secret_arn: str | None,
) -> None:
    """Subscribe PROJECT's waiting jobs to the stack's endpoint (idempotent)."""
    client = _client(organization_url)
    url, secret_arn = _endpoint(hook_url, hook_secret_arn, need_secret=True)
    try:
        project_id = _project_id(client, project)
        credentials = _credentials(context, str(secret_arn))
        existing = [s for s in client.hook_subscriptions() if ours(s, url, project_id)]
        if existing:
            click.echo(f"already installed: subscription {existing[0]['id']} ({project})")
            return
        created = client.create_hook_subscription(subscription_body(project_id, url, credentials))
    except AdoError as error:
        raise CommandFailedError(f"{error.kind}: {error}") from None
    click.echo(f"installed: subscription {created['id']} ({project} -> {url})")


@hooks.command(name="list")
@_ORG
@_URL
@click.pass_obj
def list_hooks(context: CliContext, organization_url: str | None, hook_url: str | None) -> None:
    """The organisation's job-waiting webhook subscriptions (to the stack's URL if known)."""
    client = _client(organization_url)
    try:
        found = [s for s in client.hook_subscriptions() if ours(s, hook_url, None)]
    except AdoError as error:
        raise CommandFailedError(f"{error.kind}: {error}") from None
    rows = [
        {
            "id": s.get("id"),
            "project_id": (s.get("publisherInputs") or {}).get("projectId"),
            "url": (s.get("consumerInputs") or {}).get("url"),
            "status": s.get("status"),
        }
        for s in found
    ]
    if context.json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no job-waiting webhook subscriptions")
    for row in rows:
        click.echo(f"{row['id']}  project {row['project_id']}  {row['status']}  {row['url']}")


@hooks.command()
@click.option("--project", required=True, help="Azure DevOps project name or id.")
@_ORG
@_URL
@click.pass_obj
def remove(
    context: CliContext, project: str, organization_url: str | None, hook_url: str | None
) -> None:
    """Delete PROJECT's job-waiting webhook subscriptions to the stack's endpoint."""
    client = _client(organization_url)
    url, _ = _endpoint(hook_url, None, need_secret=False)
    try:
        project_id = _project_id(client, project)
        found = [s for s in client.hook_subscriptions() if ours(s, url, project_id)]
        for subscription in found:
            client.delete_hook_subscription(str(subscription["id"]))
    except AdoError as error:
        raise CommandFailedError(f"{error.kind}: {error}") from None
    click.echo(f"removed {len(found)} subscription(s) ({project})")
