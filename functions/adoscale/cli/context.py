"""What every command shares: the global options, boto3 clients built from them, and the
translation of AWS failures into one line an operator can act on (never a traceback)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
import click
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from adoscale.aws.store import QueueStore
from adoscale.cli.terminal import printable

TABLE_ENV = "ADOSCALE_TABLE"
OUTPUTS = ("table", "json")
_CLIENT_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5)


class BadInputError(click.ClickException):
    """Exit 2, one line per problem."""

    exit_code = 2

    def __init__(self, problems: list[str], summary: str | None = None) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.summary = summary

    def show(self, file: Any = None) -> None:
        for line in self.problems:
            click.echo(printable(line), err=True)
        if self.summary:
            click.echo(printable(self.summary), err=True)


class CommandFailedError(click.ClickException):
    """Exit 1 with one clear line: AWS unreachable, table missing, queue absent."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {printable(self.message)}", err=True)


@dataclass
class CliContext:
    """The global options; clients are built on first use so ``--help`` needs no AWS."""

    table: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    output: str = "table"
    _session: boto3.Session | None = field(default=None, repr=False)

    @property
    def json(self) -> bool:
        return self.output == "json"

    def session(self) -> boto3.Session:
        if self._session is None:
            self._session = boto3.Session(region_name=self.region)
        return self._session

    def client(self, service: str) -> Any:
        kwargs: dict[str, Any] = {"config": _CLIENT_CONFIG}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        return self.session().client(service, **kwargs)

    def require_table(self) -> str:
        if not self.table:
            raise click.UsageError(f"no queue table: pass --table NAME or set {TABLE_ENV}")
        return self.table

    def store(self) -> QueueStore:
        return QueueStore(self.client("dynamodb"), self.require_table())

    def where(self) -> str:
        """Region and endpoint, for messages that must say where we looked."""
        region = self.region or self.session().region_name or "no region"
        return f"{region} at {self.endpoint_url}" if self.endpoint_url else region


def describe_aws_error(error: BaseException, context: CliContext) -> str:
    """One line that says what failed and what to do about it."""
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return (
            "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or run where a role is available"
        )
    if isinstance(error, NoRegionError):
        return "no AWS region: pass --region or set AWS_DEFAULT_REGION"
    if isinstance(error, EndpointConnectionError):
        return f"cannot reach AWS at {error.kwargs.get('endpoint_url', 'its endpoint')}"
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "Error")
        message = error.response.get("Error", {}).get("Message", "")
        operation = error.operation_name
        if code == "ResourceNotFoundException" and error.operation_name in _TABLE_OPERATIONS:
            return (
                f"DynamoDB table {context.table!r} not found in {context.where()}: "
                f"pass --table NAME or set {TABLE_ENV}"
            )
        if code in {"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken"}:
            return f"AWS refused the credentials ({code}) on {operation}: {message}"
        if code in {"AccessDeniedException", "AccessDenied"}:
            return f"access denied on {operation}: {message}"
        return f"{operation} failed: {code}: {message}".rstrip(": ")
    if isinstance(error, BotoCoreError):
        return f"AWS call failed: {error}"
    return str(error)


_TABLE_OPERATIONS = frozenset(
    {"Scan", "GetItem", "PutItem", "DeleteItem", "TransactWriteItems", "Query", "DescribeTable"}
)
