"""The service hook's work behind its handler: credentials, project -> organisation, the
debounce, and the poll of that organisation's queues.

- The credentials come from the secret named by ``ADOSCALE_HOOK_SECRET_ARN``, read once
  per container (a refused request re-reads nothing: only a cold start does).
- A payload names its project only by id; the organisation it belongs to is found by
  asking each organisation the stack polls (``GET _apis/projects/{id}``, cached). A
  project no organisation knows triggers nothing.
- Debounce: the first webhook of a 2 s window (per organisation) wins a conditional write
  in the state table, waits for the window's end and polls once; the others answer at
  once. A burst within one second spans at most two windows: at most two polls.
- The poll is the poller's own cycle, limited to the organisation's queues; its
  executions are named by the window (``naming.execution_name``), so a repeated hook poll
  starts nothing twice, and the workflow's per-queue lease keeps it and the scheduled
  poller from launching for the same jobs twice.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from adoscale.ado.connections import AdoConnections
from adoscale.aws.store import QueueStore
from adoscale.core.exceptions import AdoAuthError, AdoError
from adoscale.core.hook import (
    DEBOUNCE_WINDOW_SECONDS,
    OK,
    UNAVAILABLE,
    Credentials,
    Verdict,
    judge,
)
from adoscale.core.settings import POLLER_REQUIRED, Settings, load_settings
from adoscale.poller.poll import Poller

LOG = logging.getLogger(__name__)
MARK_TTL_SECONDS = 3600  # debounce marks expire (DynamoDB TTL) long after their window
PROJECT_CACHE_SECONDS = 300.0  # an unknown project is asked about again after this
ORGS_CACHE_SECONDS = 60.0  # the organisations the stack polls, re-read from the queue table
OrgKey = tuple[str, str]
HOOK_REQUIRED = (*POLLER_REQUIRED, "ADOSCALE_HOOK_SECRET_ARN")


class HookSecret:
    """The hook's Basic credentials, read from Secrets Manager once per container."""

    def __init__(self, secretsmanager: Any, secret_arn: str) -> None:
        self._secretsmanager = secretsmanager
        self._arn = secret_arn
        self._value: Credentials | None = None
        self._lock = threading.Lock()

    def credentials(self) -> Credentials:
        with self._lock:
            if self._value is None:
                response = self._secretsmanager.get_secret_value(SecretId=self._arn)
                self._value = Credentials.from_secret(response.get("SecretString") or "")
            return self._value


class Debouncer:
    """One hook poll per organisation and window, shared by every hook container."""

    def __init__(
        self, dynamodb: Any, table: str, window_seconds: float = DEBOUNCE_WINDOW_SECONDS
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._window = window_seconds

    def claim(self, organization: str, now: float) -> float | None:
        """The end of ``now``'s window when this call won it, None when another did."""
        start = math.floor(now / self._window) * self._window
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": f"hook#{organization}#{int(start * 1000)}"},
                    "expires_at": {"N": str(int(now) + MARK_TTL_SECONDS)},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return None
        return start + self._window


class ProjectOrganisations:
    """Which of the stack's organisations a project id belongs to (asked, then cached)."""

    def __init__(
        self,
        connections: AdoConnections,
        organisations: Callable[[], list[OrgKey]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connections = connections
        self._organisations = organisations
        self._clock = clock
        self._known: dict[str, OrgKey] = {}
        self._unknown: dict[str, float] = {}
        self._scope_logged = False

    def locate(self, project_id: str) -> OrgKey | None:
        if project_id in self._known:
            return self._known[project_id]
        if self._clock() < self._unknown.get(project_id, float("-inf")):
            return None
        candidates = self._organisations()
        refused: list[OrgKey] = []
        for key in candidates:
            try:
                found = self._connections.client(key).project(project_id)
            except AdoAuthError:
                refused.append(key)
                continue
            except AdoError as error:
                LOG.warning("project lookup in %s failed: %s", key[0], error.kind)
                continue
            except Exception as error:  # noqa: BLE001 - e.g. the PAT secret is unreadable
                LOG.warning("project lookup in %s failed: %s", key[0], type(error).__name__)
                continue
            if found is not None and str(found.get("id", "")).lower() == project_id:
                self._known[project_id] = key
                return key
        if len(candidates) == 1 and refused == candidates:
            # The PAT may lack the Project and Team (Read) scope: with one organisation
            # there is nothing to choose, so poll it (the poll reads everything anew).
            if not self._scope_logged:
                self._scope_logged = True
                LOG.warning("project lookup refused (PAT scope?): polling the only organisation")
            return candidates[0]
        self._unknown[project_id] = self._clock() + PROJECT_CACHE_SECONDS
        return None


@dataclass(frozen=True)
class HookOutcome:
    """What one request did, for logs and tests (never anything from the request)."""

    status: int
    triggered: bool = False
    organization: str | None = None
    polled: bool = False
    started: tuple[str, ...] = ()


class HookService:
    def __init__(
        self,
        secret: HookSecret,
        directory: ProjectOrganisations,
        debouncer: Debouncer,
        poll: Callable[[str], Any],
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._secret = secret
        self._directory = directory
        self._debouncer = debouncer
        self._poll = poll
        self._clock = clock
        self._sleep = sleep
        self.last_outcome: HookOutcome | None = None

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The HTTP response for one request; one log line, without the request's content."""
        outcome = self._outcome(event)
        self.last_outcome = outcome
        LOG.info(
            "hook: status %d, job waiting %s, polled %s, executions started %d",
            outcome.status,
            outcome.triggered,
            outcome.polled,
            len(outcome.started),
        )
        return Verdict(outcome.status).response()

    def _outcome(self, event: Mapping[str, Any]) -> HookOutcome:
        try:
            credentials = self._secret.credentials()
        except Exception as error:  # noqa: BLE001 - answer 503, Azure DevOps retries
            LOG.error("hook secret unreadable: %s", type(error).__name__)
            return HookOutcome(UNAVAILABLE)
        verdict = judge(event, credentials)
        if verdict.status != OK or verdict.project_id is None:
            return HookOutcome(verdict.status)
        key = self._directory.locate(verdict.project_id)
        if key is None:
            return HookOutcome(OK, triggered=True)
        organization = key[0]
        try:
            window_end = self._debouncer.claim(organization, self._clock())
        except Exception as error:  # noqa: BLE001 - the scheduled poller is the safety net
            LOG.warning("debounce mark failed: %s", type(error).__name__)
            return HookOutcome(OK, triggered=True, organization=organization)
        if window_end is None:
            return HookOutcome(OK, triggered=True, organization=organization)
        self._sleep(max(0.0, window_end - self._clock()))
        try:
            report = self._poll(organization)
        except Exception:  # a failed poll is the scheduled poller's to repeat
            LOG.exception("hook poll failed")
            return HookOutcome(OK, triggered=True, organization=organization)
        started = tuple(getattr(report, "started", ()) or ())
        return HookOutcome(OK, True, organization, True, started)


def stack_organisations(
    settings: Settings, store: QueueStore, connections: AdoConnections
) -> Callable[[], list[OrgKey]]:
    """The stack's organisation plus every one a queue item names (re-read each minute)."""
    cache: dict[str, Any] = {"at": float("-inf"), "value": []}

    def read() -> list[OrgKey]:
        if time.monotonic() - cache["at"] < ORGS_CACHE_SECONDS:
            return list(cache["value"])
        keys: list[OrgKey] = [(settings.org_url.rstrip("/"), settings.pat_secret_arn)]
        try:
            queues = store.scan().queues
        except Exception as error:  # noqa: BLE001 - the stack's own organisation still counts
            LOG.warning("queue table unreadable: %s", type(error).__name__)
            queues = []
        for queue in queues:
            key = connections.key(queue)
            if key not in keys:
                keys.append(key)
        cache.update(at=time.monotonic(), value=keys)
        return keys

    return read


def hook_poll(poller: Poller) -> Callable[[str], Any]:
    """The poller's cycle for one organisation, executions named by the debounce window."""

    def poll(organization: str) -> Any:
        return poller.poll(organization=organization, slot_seconds=round(DEBOUNCE_WINDOW_SECONDS))

    return poll


def build_hook_service(
    settings: Settings,
    *,
    session: Any | None = None,
    sleep: Callable[[float], None] = time.sleep,
    poller_clock: Callable[[], Any] | None = None,
) -> HookService:
    """``poller_clock`` lets the local mode compress the poller's time, as for the poller."""
    from adoscale.aws.clients import aws_clients  # wiring, after the pure imports
    from adoscale.poller.wiring import build_poller

    runtime = build_poller(settings, session=session, clock=poller_clock)
    clients = aws_clients(session, ("dynamodb", "secretsmanager"), settings.max_workers)
    poller = runtime.poller
    connections = poller._connections  # the poller's warm clients: one per organisation
    store = poller._store
    return HookService(
        HookSecret(clients["secretsmanager"], settings.hook_secret_arn),
        ProjectOrganisations(connections, stack_organisations(settings, store, connections)),
        Debouncer(clients["dynamodb"], settings.state_table),
        hook_poll(poller),
        sleep=sleep,
    )


def hook_from_environment(environ: Mapping[str, str]) -> HookService:
    return build_hook_service(load_settings(environ, HOOK_REQUIRED))
