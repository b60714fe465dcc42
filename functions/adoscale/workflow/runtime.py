"""What a step Lambda keeps between warm invocations, how it reads its event, and the
factory that makes a step's handler from an environment.

``make_step_handler`` builds one ``StepRuntime`` from the environment it is given (the
Lambda environment in AWS, a function's variables in the local mode and tests): the
settings its step needs, checked at once so a missing variable names itself, then,
lazily and once, the AWS clients, the PAT cache and the Azure DevOps clients. botocore's
transient failures leave a handler as ``AwsUnavailableError`` so the state machine's
Retry can name them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from adoscale.aws.alerts import Alerter
from adoscale.aws.clients import aws_clients, build_alerter
from adoscale.aws.ecs import AgentTasks
from adoscale.aws.lease import QueueLease
from adoscale.aws.pat import PatCache
from adoscale.aws.store import QueueStore
from adoscale.core import steps
from adoscale.core.deadline import Deadline
from adoscale.core.exceptions import (
    AdoAuthError,
    AdoscaleError,
    AwsUnavailableError,
    WorkflowInputError,
)
from adoscale.core.request import ScalingRequest
from adoscale.core.schema import Queue, parse_queue
from adoscale.core.settings import Settings, load_settings

if TYPE_CHECKING:  # the Azure DevOps client (and requests) load only in steps that call it
    from adoscale.ado.client import AdoClient
    from adoscale.ado.connections import AdoConnections

T = TypeVar("T")

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalServerError",
        "InternalFailure",
        "ServerException",
    }
)
NETWORK_ERRORS = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
)


def find_step(name: str) -> steps.Step:
    """The registered step called ``name`` (kept here for callers of the runtime)."""
    return steps.find_step(name)


def required_variables(step: steps.Step) -> tuple[str, ...]:
    """The Lambda environment variables the step cannot run without."""
    return steps.required_variables(step.needs)


@dataclass(frozen=True)
class StepInput:
    """One invocation's event: ``{"execution": <ARN>, "input": <state>}``."""

    execution: str
    state: Mapping[str, Any]

    @classmethod
    def from_event(cls, event: Any) -> StepInput:
        if not isinstance(event, Mapping):
            raise WorkflowInputError("event: expected a JSON object")
        execution, state = event.get("execution"), event.get("input")
        if not isinstance(execution, str) or not execution:
            raise WorkflowInputError("event.execution: required execution ARN")
        if not isinstance(state, Mapping):
            raise WorkflowInputError("event.input: expected the state object")
        return cls(execution, state)

    @property
    def request(self) -> ScalingRequest:
        return ScalingRequest.from_input(self.state)

    @property
    def queue(self) -> Queue:
        """The queue item the first state loaded (steps after it never re-read the table)."""
        context = self.state.get("context")
        item = context.get("queue") if isinstance(context, Mapping) else None
        if not isinstance(item, Mapping):
            raise WorkflowInputError("input.context.queue: missing (the Validate state sets it)")
        return parse_queue(dict(item))

    @property
    def queue_or_none(self) -> Queue | None:
        """The queue item when Validate got that far (the failure path may not have it)."""
        try:
            return self.queue
        except AdoscaleError:
            return None

    def result(self, key: str) -> Mapping[str, Any]:
        """An earlier step's result (``$.launch``, ``$.drain``, ...), empty when absent."""
        value = self.state.get(key)
        return value if isinstance(value, Mapping) else {}


class StepRuntime:
    """Settings (read once) and lazily built, cached clients of one step Lambda."""

    def __init__(
        self,
        step: steps.Step,
        settings: Settings,
        *,
        session: Any | None = None,
        region: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.step = step
        self.settings = settings
        self.region = region
        self.deadline = Deadline()
        self._session = session
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._clients: dict[str, Any] | None = None
        self._alerter: Alerter | None = None
        self._connections: AdoConnections | None = None
        self._pats: PatCache | None = None

    @classmethod
    def from_environ(
        cls,
        step_name: str,
        environ: Mapping[str, str],
        *,
        session: Any | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> StepRuntime:
        """The step's runtime from an environment; a bad variable raises ``ConfigError``."""
        step = steps.find_step(step_name)
        region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or None
        settings = load_settings(environ, required_variables(step))
        return cls(step, settings, session=session, region=region, clock=clock)

    # ---- per invocation --------------------------------------------------------------

    def begin(self, event: Any, context: Any) -> StepInput:
        """Point the deadline at this invocation and parse its event."""
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        self.deadline.reset((lambda: remaining() / 1000.0) if callable(remaining) else None)
        return StepInput.from_event(event)

    def now(self) -> datetime:
        return self._clock()

    # ---- collaborators, built once ---------------------------------------------------

    @property
    def clients(self) -> Mapping[str, Any]:
        with self._lock:
            if self._clients is None:
                services = steps.need_services(self.step.needs)
                self._clients = aws_clients(
                    self._session, services, self.settings.max_workers, self.region
                )
            return self._clients

    @property
    def alerter(self) -> Alerter:
        with self._lock:
            if self._alerter is None:
                self._alerter = build_alerter(self.settings, self.clients)
                if self._pats is not None:
                    for secret in self._pats.known():
                        self._alerter.add_secret(secret)
            return self._alerter

    @property
    def pats(self) -> PatCache:
        with self._lock:
            if self._pats is None:
                self._pats = PatCache(self.clients["secretsmanager"])
            return self._pats

    def ado(self, queue: Queue) -> AdoClient:
        """The warm client for the queue's organisation and PAT."""
        from adoscale.ado.connections import AdoConnections

        with self._lock:
            if self._connections is None:
                self._connections = AdoConnections(
                    self.settings, self.pats, self.deadline, on_secret=self._on_secret
                )
            connections = self._connections
        return connections.client(connections.key(queue))

    def _on_secret(self, secret: str) -> None:
        """A PAT just read: alerts built before or after it must never carry it."""
        with self._lock:
            if self._alerter is not None:
                self._alerter.add_secret(secret)

    def secrets_for(self, queue: Queue | None) -> list[str]:
        """PATs to scrub from what leaves the process; never raises (best effort)."""
        arns = {self.settings.pat_secret_arn}
        if queue is not None:
            # an unlisted organisation has no PAT to scrub
            with contextlib.suppress(Exception):
                organization = self.settings.organizations().resolve(queue.organization_url)
                arns.add(organization.pat_secret_arn)
        found = []
        for arn in sorted(a for a in arns if a):
            try:
                found.append(self.pats.get(arn))
            except Exception:  # noqa: BLE001, S112 - scrubbing by pattern still applies
                continue
        return found

    @property
    def tasks(self) -> AgentTasks:
        return AgentTasks(self.clients["ecs"], self.settings.cluster)

    @property
    def lease(self) -> QueueLease:
        return QueueLease(self.clients["dynamodb"], self.settings.state_table)

    @property
    def store(self) -> QueueStore:
        return QueueStore(self.clients["dynamodb"], self.settings.table)

    def run(self, work: Callable[[], T]) -> T:
        """Do the step's work; map transient AWS errors, and drop a PAT ADO refused."""
        try:
            with transient_aws_errors():
                return work()
        except AdoAuthError:
            with self._lock:  # the secret may have been rotated: read it again next time
                self._connections = None
                self._pats = None
            raise


StepWork = Callable[[StepRuntime, StepInput], dict[str, Any]]


class StepHandler:
    """A step Lambda's entry point: a runtime built from one environment, and the step's work.

    Built by ``make_step_handler``; the local mode and tests build one per function and
    environment and call it directly, as the Lambda runtime calls ``handler``.
    """

    def __init__(self, runtime: StepRuntime, work: StepWork) -> None:
        self.runtime = runtime
        self.work = work

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        step = self.runtime.begin(event, context)
        return self.work(self.runtime, step)


def make_step_handler(
    step_name: str,
    work: StepWork,
    environ: Mapping[str, str],
    *,
    session: Any | None = None,
    clock: Callable[[], datetime] | None = None,
) -> StepHandler:
    """The handler of ``step_name`` over ``environ``; raises ``ConfigError`` at once."""
    runtime = StepRuntime.from_environ(step_name, environ, session=session, clock=clock)
    return StepHandler(runtime, work)


@contextmanager
def transient_aws_errors() -> Iterator[None]:
    """Re-raise throttling, 5xx and network failures of boto3 as ``AwsUnavailableError``."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if code in THROTTLING_CODES or status >= 500:
            operation = getattr(error, "operation_name", "AWS call")
            raise AwsUnavailableError(f"{operation}: {code or status}: {error}") from error
        raise
    except NETWORK_ERRORS as error:
        raise AwsUnavailableError(f"{type(error).__name__}: {error}") from error
