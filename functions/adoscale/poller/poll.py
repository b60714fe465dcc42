"""One poll cycle: read queues, ask Azure DevOps and ECS, count, decide, publish, act.

Everything with I/O is injected; the counting and the policy are the pure modules. A
failure is confined to the queues it concerns: an invalid item, an unknown pool or a
failing Azure DevOps call becomes an entry in ``errors`` and an alert, never an exception.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from adoscale.ado.connections import AdoConnections
from adoscale.aws.alerts import Alerter
from adoscale.aws.ecs import AgentTasks
from adoscale.aws.executions import STARTED, ExecutionStarter
from adoscale.aws.metrics import (
    MetricsPublisher,
    QueueActivity,
    QueueMetrics,
    alerts_not_sent_datum,
    queue_metric_data,
    stack_metric_data,
)
from adoscale.aws.store import QueueStore, ScanResult
from adoscale.core.actions import Action
from adoscale.core.counting import QueueCounts, assign_waiting_jobs, count_queue, dead_agent
from adoscale.core.exceptions import AdoAuthError, AdoError, QueueConfigError
from adoscale.core.faults import ALERT_TOPIC, QUEUE_TABLE, LastGood, fault
from adoscale.core.models import Agent, AgentTask, Headroom, JobRequest
from adoscale.core.naming import poll_slot
from adoscale.core.organizations import OrganizationError, Organizations
from adoscale.core.policy import (
    NONE,
    Decision,
    allocate_headroom,
    decide,
    launches_wanted,
    needs_reap,
)
from adoscale.core.redact import Redactor
from adoscale.core.request import ScalingRequest
from adoscale.core.schema import Queue
from adoscale.core.settings import Settings
from adoscale.poller.shards import OrgScheduler

LOG = logging.getLogger(__name__)
STACK = "-"
REAP = Action.REAP
# How long a warm container keeps scaling on the queue items it last read while the
# queue table cannot be read (throttled, unreachable): a blip, not an outage.
STALE_QUEUES_LIMIT = timedelta(minutes=5)
SHARD_WORKERS = 32  # organisations polled at the same time

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
    """What one cycle saw and did; ``to_result`` is the poller result."""

    outcomes: dict[str, QueueOutcome] = field(default_factory=dict)
    errors: list[PollError] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    already_started: list[str] = field(default_factory=list)  # same name, earlier poll
    ado_requests: int = 0
    deleted_agents: int = 0  # exited after their job, deleted this cycle

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
                    "action": str(o.decision.action),  # the plain string, as JSON has it
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
    """Runs cycles; built once per Lambda container by ``adoscale.poller.wiring``."""

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
        scheduler: OrgScheduler | None = None,
        sharded: bool = True,
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
        # One shard per organisation (``adoscale.poller.shards``), all at once; with
        # ``sharded=False`` the organisations go through one pipeline together.
        self._scheduler = scheduler or OrgScheduler()
        self._sharded = sharded
        self._shards = ThreadPoolExecutor(SHARD_WORKERS, thread_name_prefix="shard")
        self._activity = QueueActivity()
        self._last_pools: set[tuple[OrgKey, int]] = set()  # fetched last cycle
        self.only_organization: str | None = None  # one invocation per organisation

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
        self.pool_of: dict[str, tuple[OrgKey, int]] = {}
        self.lock = threading.Lock()
        self.prefetched: dict[tuple[tuple[OrgKey, int], str], Future[Any]] = {}

    def run(self) -> PollReport:
        if self.organization is None:  # a hook's poll reads one organisation, nothing more
            self.prefetch()
        scan = self.read_queues()
        queues, invalid = usable_queues(
            scan.queues, self.p._settings.task_definitions, self.p._settings.organizations()
        )
        if self.organization is not None:
            queues = [q for q in queues if self.p._connections.key(q)[0] == self.organization]
        for error in [*scan.errors, *invalid]:
            self.fail(
                PollError(error.queue or STACK, error.kind, error.describe()),
                {"fields": error.errors},
            )
        tasks_listing = self.p._executor.submit(self.list_tasks)  # alongside the ADO calls
        by_org = self.due_organisations(queues)
        if self.p._sharded:
            shards = [[(org, org_queues)] for org, org_queues in by_org.items()]
        else:
            shards = [list(by_org.items())] if by_org else []
        running = [self.p._shards.submit(self.run_shard, shard, tasks_listing) for shard in shards]
        failures = [failed for shard in running if (failed := shard.exception()) is not None]
        tasks_listing.result()
        if self.act and self.organization is None:  # a hook's poll leaves metrics alone
            self.publish_metrics(len(scan.errors) + len(invalid))
            self.report_alert_path()
        if self.organization is None:
            self.p._last_pools = set(self.pool_of.values())
        self.report.ado_requests = self.p._connections.requests_made() - self.requests_before
        if failures:
            raise failures[0]  # a bug, not an Azure DevOps failure: the handler reports it
        return self.report

    def prefetch(self) -> None:
        """While the table is scanned, fetch the pools the last cycle fetched (a queue
        item rarely changes between cycles): the scan no longer delays the first request.
        Only warm clients of due organisations; a pool no queue needs any more costs its
        two requests once."""
        wanted = self.p._last_pools
        orgs = {org for org, _pool in wanted}
        due = self.p._scheduler.due({org[0] for org in orgs}, self.now.timestamp())
        for org, pool_id in sorted(wanted):
            client = self.p._connections.existing(org)
            if (
                client is None
                or org[0] not in due
                or self.p.only_organization
                not in (
                    None,
                    org[0],
                )
            ):
                continue
            for part in ("job_requests", "agents"):
                self.prefetched[(org, pool_id), part] = self.p._executor.submit(
                    getattr(client, part), pool_id
                )

    def due_organisations(self, queues: Sequence[Queue]) -> dict[OrgKey, list[Queue]]:
        """Queues by organisation, for the organisations due this cycle (a slowed one is
        left out until its pace says otherwise)."""
        by_org: dict[OrgKey, list[Queue]] = defaultdict(list)
        for queue in queues:
            key = self.p._connections.key(queue)
            if self.p.only_organization is None or key[0] == self.p.only_organization:
                by_org[key].append(queue)
        due = self.p._scheduler.due({org[0] for org in by_org}, self.now.timestamp())
        skipped = sorted(org[0] for org in by_org if org[0] not in due)
        if skipped:
            LOG.info("not due this cycle (slowed by their rate limits): %s", ", ".join(skipped))
        return {org: by_org[org] for org in sorted(by_org) if org[0] in due}

    def run_shard(
        self,
        shard: Sequence[tuple[OrgKey, list[Queue]]],
        tasks_listing: Future[tuple[dict[str, list[AgentTask]], bool]],
    ) -> None:
        """One pipeline: fetch, count, decide, start; organisations of other shards go on
        meanwhile, so one slow organisation delays only itself."""
        queues = [queue for _org, org_queues in shard for queue in org_queues]
        before = {org: self.p._connections.requests_to(org) for org, _queues in shard}
        pools = self.fetch_pools(queues)
        tasks, tasks_known = tasks_listing.result()
        counted = self.count(queues, pools, tasks)
        if self.act and tasks_known:
            counted = self.delete_exited_agents(counted, pools, tasks)
        self.decide(counted, tasks_known)
        if self.act:
            self.start_executions({queue.queue for queue in queues})
        for org, org_queues in shard:
            self.observe_pace(org, org_queues, self.p._connections.requests_to(org) - before[org])

    def observe_pace(self, org: OrgKey, queues: Sequence[Queue], requests: int) -> None:
        """Slow this organisation alone when its rate-limit budget runs low; say so once."""
        client = self.p._connections.existing(org)
        pace, slowed_now = self.p._scheduler.observe(
            org[0],
            client.rate_limit if client is not None else None,
            requests=requests,
            now=self.now.timestamp(),
            base_interval=self.p._settings.poll_interval_seconds,
        )
        names = {queue.queue for queue in queues}
        alerted = any(e.kind == "ado_rate_limited" and e.queue in names for e in self.report.errors)
        if slowed_now and self.act and not alerted:  # a refused request alerted already
            message = (
                f"{org[0]} is polled every {pace.interval_seconds:g} s instead of every"
                f" {self.p._settings.poll_interval_seconds} s to stay within its Azure DevOps"
                f" rate limit ({pace.reason})"
            )
            detail = {
                "organization": org[0],
                "interval_seconds": pace.interval_seconds,
                "reason": pace.reason,
                "queues": sorted(q.queue for q in queues),
            }
            self.p._alerter.publish(
                "ado_rate_limited", None, self.clean(message), detail, scope=org[0]
            )

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
        by_org: dict[OrgKey, list[Queue]] = defaultdict(list)
        for queue in queues:
            by_org[self.p._connections.key(queue)].append(queue)
        for org, org_queues in by_org.items():
            self.resolve_pools(org, org_queues)
        wanted = sorted({self.pool_of[q.queue] for q in queues if q.queue in self.pool_of})
        # An organisation that launched last cycle likely launches again: its licence
        # headroom is read alongside the pools instead of after them.
        self.headroom_requests.update(
            {
                org: self.p._executor.submit(self.p._connections.client(org).headroom)
                for org in {key[0] for key in wanted} & self.p._orgs_launching
            }
        )
        futures = {
            (key, part): self.prefetched.pop((key, part), None)  # type: ignore[arg-type]
            or self.p._executor.submit(getattr(self.p._connections.client(key[0]), part), key[1])
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
        self.report_fetch_failures(failures, by_org, queues)
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
        self,
        failures: dict[tuple[OrgKey, int], AdoError],
        by_org: dict[OrgKey, list[Queue]],
        queues: Sequence[Queue],
    ) -> None:
        """A refused PAT is one organisation-wide failure; anything else stays per queue."""
        auth = {key[0]: e for key, e in failures.items() if isinstance(e, AdoAuthError)}
        for org, error in auth.items():
            failed = [q for q in by_org[org] if self.pool_of.get(q.queue) in failures]
            self.org_failure(org, error, failed)
        mine = sorted((q.queue, self.pool_of[q.queue]) for q in queues if q.queue in self.pool_of)
        for queue_name, key in mine:
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

    def delete_exited_agents(
        self,
        counted: list[tuple[Queue, int, OrgKey, QueueCounts]],
        pools: dict[tuple[OrgKey, int], PoolState],
        tasks: dict[str, list[AgentTask]],
    ) -> list[tuple[Queue, int, OrgKey, QueueCounts]]:
        """Agents never deregister themselves (that would need the PAT beside a job): one
        that exited after its job is offline with its task gone, and is deleted here, in
        the first cycle that sees it, instead of waiting for a reap behind scaling work."""
        futures = {}
        for queue, pool_id, org, counts in counted:
            if counts.offline == 0:
                continue
            live = {
                key
                for task in tasks.get(queue.queue, [])
                if not task.stopping
                for key in task.agent_keys
            }
            client = self.p._connections.client(org)
            for agent in pools[org, pool_id].agents:
                if dead_agent(agent, queue.queue, live):
                    futures[queue.queue, agent.agent_id] = self.p._executor.submit(
                        client.delete_agent, pool_id, agent.agent_id
                    )
        deleted: dict[str, int] = defaultdict(int)
        for (queue_name, agent_id), future in futures.items():
            try:
                future.result()
            except AdoError as error:  # the reaper retries it; the cycle goes on
                LOG.warning("deleting exited agent %s of %s: %s", agent_id, queue_name, error)
                continue
            deleted[queue_name] += 1
        with self.lock:  # shards run at once: each adds its own
            self.report.deleted_agents += sum(deleted.values())
        return [
            (q, pool_id, org, replace(c, offline=c.offline - deleted[q.queue]))
            if deleted.get(q.queue)
            else (q, pool_id, org, c)
            for q, pool_id, org, c in counted
        ]

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

    def start_executions(self, names: set[str]) -> None:
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
            if name in names and (action := execution_action(outcome)) is not None
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
        """Stack totals over every queue; per-queue metrics only for the queues active in
        the last hour (CloudWatch bills a metric for each hour it receives data)."""
        samples = [
            QueueMetrics(name, o.counts, o.decision.desired)
            for name, o in sorted(self.report.outcomes.items())
        ]
        recent = self.p._activity.update(samples, self.now)
        data = [
            datum
            for sample in samples
            if sample.queue in recent
            for datum in queue_metric_data(sample, self.now)
        ]
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
        with self.lock:
            self.ado_errors += 1
        detail: dict[str, Any] = {"organization": org[0], "status": error.status}
        if pool is not None:
            detail["pool"] = pool
        self.fail(PollError(queue, error.kind, str(error)), detail)

    def org_failure(self, org: OrgKey, error: AdoError, queues: Sequence[Queue]) -> None:
        """An organisation-wide failure (the PAT): every queue listed, one alert."""
        with self.lock:
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
    queues: Sequence[Queue],
    task_definitions: Mapping[str, str],
    organizations: Organizations | None = None,
) -> tuple[list[Queue], list[QueueConfigError]]:
    """A queue whose agent profile has no task definition can never launch, and one that
    names an organisation the stack does not list must never be polled (its PAT would go
    to a host the item chose): both are invalid items (named, alerted), not failures."""
    usable: list[Queue] = []
    invalid: list[QueueConfigError] = []
    for queue in queues:
        problems: dict[str, list[str]] = {}
        if task_definitions and queue.agent_profile not in task_definitions:
            known = ", ".join(sorted(task_definitions))
            problems["agent_profile"] = [
                f"no agent profile {queue.agent_profile!r} in this stack (profiles: {known})"
            ]
        if organizations is not None:
            try:
                organizations.resolve(queue.organization_url)
            except OrganizationError as error:
                problems["organization_url"] = [str(error)]
        if problems:
            invalid.append(QueueConfigError(queue.queue, problems))
        else:
            usable.append(queue)
    return usable, invalid
