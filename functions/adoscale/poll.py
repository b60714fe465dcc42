"""One poll cycle (C4): read queues, ask Azure DevOps and ECS, count, decide, publish, act.

Everything with I/O is injected; the counting and the policy are the pure modules. A
failure is confined to the queues it concerns: an invalid item, an unknown pool or a
failing Azure DevOps call becomes an entry in ``errors`` and an alert, never an exception.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from adoscale.alerts import Alerter
from adoscale.connections import AdoConnections
from adoscale.counting import QueueCounts, assign_waiting_jobs, count_queue
from adoscale.ecs import AgentTasks
from adoscale.exceptions import AdoAuthError, AdoError, QueueConfigError
from adoscale.executions import STARTED, ExecutionStarter
from adoscale.faults import ALERT_TOPIC, QUEUE_TABLE, LastGood, fault
from adoscale.metrics import (
    MetricsPublisher,
    QueueMetrics,
    alerts_not_sent_datum,
    queue_metric_data,
    stack_metric_data,
)
from adoscale.models import Agent, AgentTask, Headroom, JobRequest
from adoscale.naming import poll_slot
from adoscale.policy import NONE, Decision, allocate_headroom, decide, launches_wanted, needs_reap
from adoscale.redact import Redactor
from adoscale.schema import Queue
from adoscale.settings import Settings
from adoscale.store import QueueStore, ScanResult
from adoscale.workflow.request import ScalingRequest

LOG = logging.getLogger(__name__)
STACK = "-"
REAP = "reap"
# How long a warm container keeps scaling on the queue items it last read while the
# queue table cannot be read (throttled, unreachable): a blip, not an outage.
STALE_QUEUES_LIMIT = timedelta(minutes=5)

OrgKey = tuple[str, str]


@dataclass(frozen=True)
class PollError:
    queue: str
    kind: str
    message: str


@dataclass(frozen=True)
class QueueOutcome:
    queue: Queue
    pool_id: int
    counts: QueueCounts
    decision: Decision
    reap: bool


@dataclass
class PollReport:
    """What one cycle saw and did; ``to_result`` is the handler's C4 return value."""

    outcomes: dict[str, QueueOutcome] = field(default_factory=dict)
    errors: list[PollError] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    already_started: list[str] = field(default_factory=list)  # same name, earlier poll
    ado_requests: int = 0

    def to_result(self) -> dict[str, Any]:
        return {
            "queues": {
                name: {
                    "queued": o.counts.queued,
                    "running": o.counts.running,
                    "idle": o.counts.idle,
                    "busy": o.counts.busy,
                    "offline": o.counts.offline,
                    "starting": o.counts.starting,
                    "desired": o.decision.desired,
                    "action": o.decision.action,
                    "count": o.decision.count,
                    "reap": o.reap,
                }
                for name, o in sorted(self.outcomes.items())
            },
            "errors": [
                {"queue": e.queue, "kind": e.kind, "message": e.message} for e in self.errors
            ],
        }


@dataclass(frozen=True)
class PoolState:
    jobs: list[JobRequest]
    agents: list[Agent]


class Poller:
    """Runs cycles; built once per Lambda container by ``adoscale.runtime``."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: QueueStore,
        tasks: AgentTasks,
        connections: AdoConnections,
        metrics: MetricsPublisher,
        alerter: Alerter,
        starter: ExecutionStarter | None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._store = store
        self._tasks = tasks
        self._connections = connections
        self._metrics = metrics
        self._alerter = alerter
        self._starter = starter
        self._clock = clock
        self._headroom_unknown_logged: set[str] = set()
        self._orgs_launching: set[OrgKey] = set()
        self.last_report: PollReport | None = None
        self._last_scan: LastGood[ScanResult] = LastGood(STALE_QUEUES_LIMIT)
        # Kept for the container's life: threads are not re-created every minute.
        self._executor = ThreadPoolExecutor(settings.max_workers, thread_name_prefix="poll")

    def poll(
        self,
        *,
        act: bool = True,
        organization: str | None = None,
        slot_seconds: int | None = None,
    ) -> PollReport:
        """One cycle. With ``act=False`` nothing is started, published or alerted.

        The service hook's poll passes ``organization`` (only that organisation's queues,
        and no metrics: the scheduled cycles publish the stack's) and ``slot_seconds`` (its
        executions are named by its debounce window, not by the poll interval).

        Never raises: a failure nobody foresaw is this cycle's ``internal_error`` (logged
        with its traceback, alerted), and the next cycle starts afresh.
        """
        try:
            self.last_report = _Cycle(self, act, organization, slot_seconds).run()
        except Exception as error:  # a result and an alert, not a dead Lambda
            LOG.exception("poll cycle failed")
            message = Redactor(self._connections.known_secrets()).text(repr(error))
            failure = PollError(STACK, "internal_error", f"poll cycle failed: {message}")
            self.last_report = PollReport(errors=[failure])
            if act:
                self._alert(failure)
        return self.last_report

    # Used by _Cycle; kept here so the collaborators stay private to the Poller.
    def _alert(self, error: PollError, detail: dict[str, Any] | None = None) -> None:
        queue = None if error.queue == STACK else error.queue
        self._alerter.publish(error.kind, queue, error.message, detail)


class _Cycle:
    """The state of one cycle, so the steps read as a list."""

    def __init__(
        self,
        poller: Poller,
        act: bool,
        organization: str | None = None,
        slot_seconds: int | None = None,
    ) -> None:
        self.p = poller
        self.act = act
        self.organization = organization.rstrip("/") if organization else None
        self.slot_seconds = slot_seconds or poller._settings.poll_interval_seconds
        self.now = poller._clock()
        self.report = PollReport()
        self.redactor = Redactor(poller._connections.known_secrets())
        self.requests_before = poller._connections.requests_made()
        self.ado_errors = 0
        self.headroom_requests: dict[OrgKey, Future[Headroom | None]] = {}

    def run(self) -> PollReport:
        scan = self.read_queues()
        queues, invalid = usable_queues(scan.queues, self.p._settings.task_definitions)
        if self.organization is not None:
            queues = [q for q in queues if self.p._connections.key(q)[0] == self.organization]
        for error in [*scan.errors, *invalid]:
            self.fail(
                PollError(error.queue or STACK, error.kind, error.describe()),
                {"fields": error.errors},
            )
        tasks_listing = self.p._executor.submit(self.list_tasks)  # alongside the ADO calls
        pools = self.fetch_pools(queues)
        tasks, tasks_known = tasks_listing.result()
        counted = self.count(queues, pools, tasks)
        self.decide(counted, tasks_known)
        if self.act and self.organization is not None:
            self.start_executions()
        elif self.act:
            invalid_count = len(scan.errors) + len(invalid)
            publishing = self.p._executor.submit(self.publish_metrics, invalid_count)
            self.start_executions()
            publishing.result()
            self.report_alert_path()
        self.report.ado_requests = self.p._connections.requests_made() - self.requests_before
        return self.report

    # ---- steps --------------------------------------------------------------------

    def read_queues(self) -> ScanResult:
        """The queue items. When the table cannot be read, an error that says why, and a
        warm container keeps scaling on the items it read moments ago (never once the
        table is missing); otherwise no queue is scaled this cycle."""
        try:
            scan = self.p._store.scan()
        except Exception as error:  # noqa: BLE001 - a result and an alert, not a dead Lambda
            failure = fault(QUEUE_TABLE, f"reading the queue table {self.p._store.table}", error)
            stale = self.p._last_scan.fallback(failure, self.now)
            if stale is None:
                self.fail(PollError(STACK, failure.kind, f"{failure.message}; nothing scaled"))
                return ScanResult()
            scan, read_at = stale
            age = int((self.now - read_at).total_seconds())
            note = f"{failure.message}; scaling on the items read {age} s ago"
            self.fail(PollError(STACK, failure.kind, note))
            return scan
        self.p._last_scan.remember(scan, self.now)
        return scan

    def list_tasks(self) -> tuple[dict[str, list[AgentTask]], bool]:
        """Without ECS we cannot tell what is starting, so nothing is launched this cycle."""
        try:
            return self.p._tasks.list_tasks(), True
        except Exception as error:  # noqa: BLE001 - one failing API never stops the cycle
            self.fail(PollError(STACK, "ecs_unavailable", f"ECS ListTasks failed: {error}"))
            return {}, False

    def fetch_pools(self, queues: Sequence[Queue]) -> dict[tuple[OrgKey, int], PoolState]:
        """Resolve pool ids per organisation, then fetch each pool's jobs and agents once,
        all requests in flight together (they are latency-bound, not CPU-bound)."""
        self.pool_of: dict[str, tuple[OrgKey, int]] = {}
        by_org: dict[OrgKey, list[Queue]] = defaultdict(list)
        for queue in queues:
            by_org[self.p._connections.key(queue)].append(queue)
        for org, org_queues in by_org.items():
            self.resolve_pools(org, org_queues)
        wanted = sorted(set(self.pool_of.values()))
        # An organisation that launched last cycle likely launches again: its licence
        # headroom is read alongside the pools instead of after them.
        self.headroom_requests = {
            org: self.p._executor.submit(self.p._connections.client(org).headroom)
            for org in {key[0] for key in wanted} & self.p._orgs_launching
        }
        futures = {
            (key, part): self.p._executor.submit(
                getattr(self.p._connections.client(key[0]), part), key[1]
            )
            for key in wanted
            for part in ("job_requests", "agents")
        }
        results: dict[tuple[tuple[OrgKey, int], str], Any] = {}
        failures: dict[tuple[OrgKey, int], AdoError] = {}
        for (key, part), future in futures.items():
            try:
                results[key, part] = future.result()
            except AdoError as error:
                failures.setdefault(key, error)
        self.report_fetch_failures(failures, by_org)
        return {
            key: PoolState(jobs=results[key, "job_requests"], agents=results[key, "agents"])
            for key in wanted
            if key not in failures
        }

    def resolve_pools(self, org: OrgKey, queues: Sequence[Queue]) -> None:
        try:
            client = self.p._connections.client(org)
        except Exception as error:  # noqa: BLE001 - e.g. the PAT secret cannot be read
            for queue in queues:
                self.report.errors.append(
                    PollError(queue.queue, "pat_unavailable", self.clean(str(error)))
                )
            self.alert_org(org, "pat_unavailable", f"cannot read the PAT: {error}", queues)
            return
        for queue in queues:
            try:
                self.pool_of[queue.queue] = (org, client.pool_id(queue.pool))
            except AdoAuthError as error:
                self.org_failure(org, error, queues)
                return
            except AdoError as error:
                self.ado_failure(queue.queue, org, error, pool=queue.pool)

    def report_fetch_failures(
        self, failures: dict[tuple[OrgKey, int], AdoError], by_org: dict[OrgKey, list[Queue]]
    ) -> None:
        """A refused PAT is one organisation-wide failure; anything else stays per queue."""
        auth = {key[0]: e for key, e in failures.items() if isinstance(e, AdoAuthError)}
        for org, error in auth.items():
            failed = [q for q in by_org[org] if self.pool_of.get(q.queue) in failures]
            self.org_failure(org, error, failed)
        for queue_name, key in sorted(self.pool_of.items()):
            if key in failures and key[0] not in auth:
                self.ado_failure(queue_name, key[0], failures[key])

    def count(
        self,
        queues: Sequence[Queue],
        pools: dict[tuple[OrgKey, int], PoolState],
        tasks: dict[str, list[AgentTask]],
    ) -> list[tuple[Queue, int, OrgKey, QueueCounts]]:
        by_pool: dict[tuple[OrgKey, int], list[Queue]] = defaultdict(list)
        for queue in queues:
            key = self.pool_of.get(queue.queue)
            if key is not None and key in pools:
                by_pool[key].append(queue)
        settings = self.p._settings
        counted = []
        for key, pool_queues in sorted(by_pool.items()):
            state = pools[key]
            waiting = assign_waiting_jobs(pool_queues, state.jobs)
            for queue in pool_queues:
                counts = count_queue(
                    queue,
                    waiting[queue.queue],
                    state.jobs,
                    state.agents,
                    tasks.get(queue.queue, []),
                    self.now,
                    boot_timeout=timedelta(seconds=settings.boot_timeout_for(queue.agent_profile)),
                )
                counted.append((queue, key[1], key[0], counts))
        return counted

    def decide(
        self, counted: list[tuple[Queue, int, OrgKey, QueueCounts]], tasks_known: bool
    ) -> None:
        shares = self.licence_shares(counted) if tasks_known else {}
        for queue, pool_id, _org, counts in counted:
            allowance = shares.get(queue.queue) if tasks_known else 0
            decision = decide(queue, counts, self.now, allowance)
            self.report.outcomes[queue.queue] = QueueOutcome(
                queue=queue,
                pool_id=pool_id,
                counts=counts,
                decision=decision,
                reap=tasks_known and needs_reap(queue, counts),
            )

    def licence_shares(
        self, counted: list[tuple[Queue, int, OrgKey, QueueCounts]]
    ) -> dict[str, int | None]:
        """Each organisation's free parallel jobs, shared among its queues' launches."""
        by_org: dict[OrgKey, list[tuple[Queue, QueueCounts]]] = defaultdict(list)
        for queue, _pool, org, counts in counted:
            by_org[org].append((queue, counts))
        shares: dict[str, int | None] = {}
        self.p._orgs_launching.difference_update(by_org)
        for org, members in by_org.items():
            wanted = {q.queue: launches_wanted(q, c, self.now) for q, c in members}
            if not any(wanted.values()):
                continue
            self.p._orgs_launching.add(org)
            prefetched = self.headroom_requests.get(org)
            client = self.p._connections.client(org)
            headroom = prefetched.result() if prefetched is not None else client.headroom()
            if headroom is None and org[0] not in self.p._headroom_unknown_logged:
                self.p._headroom_unknown_logged.add(org[0])
                LOG.warning("licence headroom of %s unreadable: launches are not capped", org[0])
            shares.update(
                allocate_headroom(
                    wanted,
                    {q.queue: c.oldest_queued_age_seconds for q, c in members},
                    headroom.free if headroom is not None else None,
                    starting=sum(c.starting for _q, c in members),
                )
            )
        return shares

    def start_executions(self) -> None:
        starter = self.p._starter
        if starter is None:
            return
        requests = [
            ScalingRequest(
                queue=name,
                action=action,
                count=outcome.decision.count if action != REAP else 0,
                pool_id=outcome.pool_id,
                requested_at=self.now.isoformat().replace("+00:00", "Z"),
                agent_ids=outcome.decision.retire_agent_ids if action != REAP else (),
            )
            for name, outcome in sorted(self.report.outcomes.items())
            if (action := execution_action(outcome)) is not None
        ]
        slot = poll_slot(self.now, self.slot_seconds)
        futures = [(r, self.p._executor.submit(starter.start, r, slot)) for r in requests]
        for request, future in futures:
            try:
                execution, state = future.result()
            except Exception as error:  # noqa: BLE001 - one queue's failure stays its own
                message = f"StartExecution failed: {error}"
                self.fail(PollError(request.queue, "workflow_failed", message))
                continue
            if state == STARTED:
                self.report.started.append(execution)
            else:
                self.report.already_started.append(execution)

    def publish_metrics(self, invalid_configs: int) -> None:
        samples = [
            QueueMetrics(name, o.counts, o.decision.desired)
            for name, o in sorted(self.report.outcomes.items())
        ]
        data = [datum for sample in samples for datum in queue_metric_data(sample, self.now)]
        data += stack_metric_data(
            samples,
            api_errors=self.ado_errors,
            invalid_configs=invalid_configs,
            rate_limit_remaining=self.p._connections.rate_limit_remaining(),
            when=self.now,
        )
        self.p._metrics.publish(data)

    def report_alert_path(self) -> None:
        """Faults of the alert path itself (state table, topic) met this cycle: in the
        result, alerted through whatever still works, and a metric of alerts not sent,
        because when SNS is down the log and that metric are all that is left."""
        alerter = self.p._alerter
        faults, unsent = alerter.drain_faults()
        for found in faults:
            if found.resource != ALERT_TOPIC:  # the topic cannot carry news of its own fault
                alerter.publish(found.kind, None, self.clean(found.message))
        more, unsent_more = alerter.drain_faults()
        seen: set[str] = set()
        for found in [*faults, *more]:
            if found.kind not in seen:
                seen.add(found.kind)
                self.report.errors.append(PollError(STACK, found.kind, self.clean(found.message)))
        if unsent + unsent_more:
            self.p._metrics.publish([alerts_not_sent_datum(unsent + unsent_more, self.now)])

    # ---- failures -----------------------------------------------------------------

    def clean(self, text: str) -> str:
        return self.redactor.text(text)

    def fail(self, error: PollError, detail: dict[str, Any] | None = None) -> None:
        error = PollError(error.queue, error.kind, self.clean(error.message))
        self.report.errors.append(error)
        LOG.warning("%s %s: %s", error.kind, error.queue, error.message)
        if self.act:
            self.p._alert(error, self.redactor.scrub(detail) if detail else None)

    def ado_failure(
        self, queue: str, org: OrgKey, error: AdoError, *, pool: str | None = None
    ) -> None:
        self.ado_errors += 1
        detail: dict[str, Any] = {"organization": org[0], "status": error.status}
        if pool is not None:
            detail["pool"] = pool
        self.fail(PollError(queue, error.kind, str(error)), detail)

    def org_failure(self, org: OrgKey, error: AdoError, queues: Sequence[Queue]) -> None:
        """An organisation-wide failure (the PAT): every queue listed, one alert."""
        self.ado_errors += 1
        for queue in queues:
            self.report.errors.append(PollError(queue.queue, error.kind, self.clean(str(error))))
        self.alert_org(org, error.kind, str(error), queues)
        self.p._connections.forget(org)

    def alert_org(self, org: OrgKey, kind: str, message: str, queues: Sequence[Queue]) -> None:
        LOG.warning("%s for %s: %s", kind, org[0], self.clean(message))
        if self.act:
            detail = {"organization": org[0], "queues": sorted(q.queue for q in queues)}
            self.p._alerter.publish(kind, None, self.clean(message), detail)


def execution_action(outcome: QueueOutcome) -> str | None:
    """Which execution, if any, a queue's outcome asks for. One per queue and cycle (the
    workflow's lease runs them one at a time): a reap first when agents were left disabled
    (re-enabled, they are capacity again; launching beside them would overshoot), then
    the scaling action, then any other clean-up."""
    if outcome.reap and outcome.counts.draining > 0:
        return REAP
    if outcome.decision.action != NONE:
        return outcome.decision.action
    return REAP if outcome.reap else None


def usable_queues(
    queues: Sequence[Queue], task_definitions: Mapping[str, str]
) -> tuple[list[Queue], list[QueueConfigError]]:
    """A queue whose agent profile has no task definition can never launch: it is an
    invalid item (named, alerted) rather than a workflow failure every cycle."""
    if not task_definitions:
        return list(queues), []
    usable: list[Queue] = []
    invalid: list[QueueConfigError] = []
    for queue in queues:
        if queue.agent_profile in task_definitions:
            usable.append(queue)
            continue
        known = ", ".join(sorted(task_definitions))
        message = f"no agent profile {queue.agent_profile!r} in this stack (profiles: {known})"
        invalid.append(QueueConfigError(queue.queue, {"agent_profile": [message]}))
    return usable, invalid
