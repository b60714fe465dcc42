"""``adoscale local``: the real control plane against moto and a simulated organisation.

Time compression (``speed`` simulated seconds per real second, default 20):
- the simulated organisation (job arrivals and durations, agent registration times, the
  fake Azure DevOps' timestamps), the Fargate stand-in's boot delays and the poller's
  clock (idle timeouts, job ages, per-minute execution names) all read one ``SimClock``;
- the poller keeps the deployed cadence in simulated time: a scheduled invocation every
  ``poll_interval`` (60 s), cycling every ``cycle_interval`` while the stack is active or
  was within ``linger`` (``adoscale.poller.cycles``). Scenarios default to one cycle a minute:
  the handlers' real latency is not compressed (0.5 s is 10 simulated s at x20), so at
  x20 a 20 s cycle would often poll again before the previous launch reached ECS and
  launch twice; ``cycle_interval: 20s`` with ``speed: 5`` shows the deployed cadence;
- the state machine is the real definition built with its Wait states divided by the
  speed (``boot_window`` 60 s -> 3 s, ``confirm_window`` 15 s -> 1 s, at least 1 s);
- AWS itself (moto, leases, alert dedupe windows) keeps real time.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from adoscale.aws.store import QueueStore
from adoscale.core.counting import QueueCounts
from adoscale.core.hook import Credentials
from adoscale.core.policy import standby_in_force
from adoscale.core.settings import POLLER_REQUIRED, load_settings
from adoscale.documents import apply_queue_document
from adoscale.local.ado_server import DEFAULT_PROJECT
from adoscale.local.clock import SimClock
from adoscale.local.fargate import BOOTING, RUNNING, LocalFargate
from adoscale.local.hook_endpoint import LocalHookEndpoint, WebhookSender, latencies
from adoscale.local.organisation import SimulatedOrganisation
from adoscale.local.report import (
    LocalReport,
    QueueEnd,
    Sample,
    draw_timeline,
    render_report,
    write_report,
)
from adoscale.local.scenario import Scenario
from adoscale.local.schedule import PollLoop, PollRecord, build_local_poller
from adoscale.local.stack import LocalStack, read_alerts, start_local_stack
from adoscale.local.view import Frame, LiveView
from adoscale.poller.cycles import Activity
from adoscale.poller.hook import HOOK_REQUIRED, build_hook_service

LOG = logging.getLogger(__name__)
TICK_SECONDS = 0.05  # real seconds between simulation steps
REFRESH_SECONDS = 0.5  # real seconds between view refreshes, samples and alert reads
_EXECUTION = re.compile(r"^(?P<queue>.+)-(?P<action>scale_out|scale_in|reap)-")


@dataclass(frozen=True)
class Outcome:
    report: LocalReport
    report_path: Path

    @property
    def ok(self) -> bool:
        return self.report.ok


def run_local(
    scenario: Scenario,
    *,
    speed: float | None = None,
    view: bool = True,
    report_dir: Path = Path(".adoscale-local"),
    console: Console | None = None,
) -> Outcome:
    console = console or Console()
    _quiet_libraries()
    speed = speed or scenario.speed
    clock = SimClock(speed, start=scenario.start)
    started = time.monotonic()
    organisation = SimulatedOrganisation(scenario, clock).start()
    stack: LocalStack | None = None
    try:
        stack = start_local_stack(
            org_url=organisation.base_url,
            pat=organisation.pat,
            boot_wait_seconds=_real_wait(scenario.boot_window, speed),
            confirm_wait_seconds=_real_wait(scenario.confirm_window, speed),
            extra_env={
                "ADOSCALE_POLL_INTERVAL_SECONDS": str(int(scenario.cycle_interval)),
                "ADOSCALE_POLL_LINGER_SECONDS": str(int(scenario.linger)),
                # quiet cycles no more often than active ones (see cycle_interval above)
                "ADOSCALE_POLL_QUIET_INTERVAL_SECONDS": str(int(scenario.cycle_interval)),
            },
            profiles=tuple(scenario.profiles),
        )
        console.print(
            f"local AWS (moto) at {stack.endpoint}, simulated Azure DevOps at "
            f"{organisation.base_url}; scenario {scenario.name} at x{speed:g}",
            highlight=False,
        )
        run = _Run(scenario, clock, organisation, stack, console, view)
        report = run.execute(time.monotonic() - started)
    finally:
        if stack is not None:
            stack.stop()
        organisation.stop()
    report.real_seconds = time.monotonic() - started
    png = draw_timeline(
        run.samples,
        scenario.faults,
        report_dir / "timeline.png",
        _title(scenario),
        epoch=run.org.epoch,
    )
    report.timeline_png = str(png) if png else None
    path = write_report(report, report_dir)
    render_report(report, console)
    console.print(f"report: {path}", highlight=False)
    return Outcome(report, path)


class _Run:
    """One scenario from the first job to a settled fleet (or the scenario's time limit)."""

    def __init__(
        self,
        scenario: Scenario,
        clock: SimClock,
        organisation: SimulatedOrganisation,
        stack: LocalStack,
        console: Console,
        view: bool,
    ) -> None:
        self.scenario = scenario
        self.clock = clock
        self.org = organisation
        self.stack = stack
        self.view = LiveView(console, enabled=view and console.is_terminal)
        self.samples: list[Sample] = []
        self.alerts: list[dict[str, Any]] = []
        self.last_action: dict[str, str] = {}
        self.desired: dict[str, int] = {}
        self.queues = {queue.queue: queue for queue in scenario.queues}
        self.sqs = stack.client("sqs")
        self.sfn = stack.client("stepfunctions")
        self._faults_seen = 0

    def execute(self, setup_seconds: float) -> LocalReport:
        settings = load_settings(self.stack.env, POLLER_REQUIRED)
        # the queues go in through the CLI's own `queues put` path
        store = QueueStore(self.stack.client("dynamodb"), settings.table)
        apply_queue_document(store, self.scenario.queue_document, f"{self.scenario.name}.yaml")
        fargate = LocalFargate(
            self.stack.client("ecs"),
            settings.cluster,
            self.org,
            self.clock,
            self.queues,
            seed=self.scenario.seed,
        )
        poller, deadline = build_local_poller(settings, self.clock)
        hook = self._start_hook() if self.scenario.service_hook else None
        self.clock.restart()
        loop = PollLoop(
            poller,
            deadline,
            self.clock,
            period=self.scenario.poll_interval,
            cycle=settings.poll_interval_seconds,
            activity=Activity(linger_seconds=settings.poll_linger_seconds),
            on_poll=self._on_poll,
            quiet_cycle=settings.poll_quiet_interval_seconds,
        )
        settled = False
        with self.view:
            loop.start()
            next_refresh = 0.0
            while True:
                elapsed = self.clock.elapsed()
                if not self.org.begun and self._ready():
                    self.org.begin(elapsed)
                    self.view.event(elapsed, "placeholders registered: the scenario's jobs start")
                self.org.tick(elapsed)
                fargate.tick()
                if time.monotonic() >= next_refresh:
                    next_refresh = time.monotonic() + REFRESH_SECONDS
                    counts = self.org.counts(self.scenario.queues, self.clock.now())
                    self._refresh(elapsed, counts, fargate)
                    if self._settled(elapsed, counts, fargate):
                        settled = True
                        break
                if elapsed >= self.scenario.max_duration:
                    break
                time.sleep(TICK_SECONDS)
            self.clock.stop()
            loop.join()
            hook_latencies = self._stop_hook(hook, fargate) if hook else None
            self.alerts.extend(read_alerts(self.sqs, self.stack.workflow.alert_queue_url))
        end = self.clock.elapsed()
        counts = self.org.counts(self.scenario.queues, self.clock.now())
        placeholders = self.org.placeholders(self.scenario.queues)
        notes = [f"setup took {setup_seconds:.1f} s"]
        if self.org.epoch is None:
            notes.append("the placeholders never registered: no job was queued")
        else:
            notes.append(
                f"fleet ready (placeholders registered) {self.org.epoch:.0f} simulated s "
                "after the first poll; job times count from there"
            )
        if not settled:
            notes.append(
                f"the fleet had not settled after {self.scenario.max_duration / 60:.0f} "
                "simulated minutes"
            )
        notes.extend(f"agent registration: {e}" for e in fargate.stats.registration_errors)
        if hook is not None:
            sender = hook[1]
            refused = sum(1 for status in sender.statuses if status != 202)
            notes.append(f"service hook: {len(sender.sent)} webhooks, {refused} not accepted")
        return LocalReport(
            hook_latencies=hook_latencies,
            scenario=self.scenario.name,
            speed=self.clock.speed,
            real_seconds=0.0,
            sim_seconds=end,
            settled=settled,
            jobs_expected=self.org.expected_jobs(),
            jobs=self.org.outcomes(),
            agent_minutes=fargate.agent_seconds(end) / 60,
            busy_stops=list(fargate.stats.busy_stops),
            busy_deletes_refused=self.org.busy_deletes_refused(),
            alerts=self.alerts,
            executions=self._executions(),
            final={
                name: QueueEnd(
                    idle=c.idle + c.draining,
                    busy=c.busy,
                    starting=fargate.starting(name),
                    offline=c.offline,
                    standby=standby_in_force(self.queues[name], self.clock.now()),
                    placeholder=placeholders.get(name, False),
                )
                for name, c in counts.items()
            },
            poll_cycles=len(loop.records),
            poll_failures=list(loop.failures),
            notes=notes,
            offline_seconds=list(fargate.stats.offline_seconds),
            offline_left=fargate.offline_waiting(),
        )

    # ---- the service hook --------------------------------------------------------------

    def _start_hook(self) -> tuple[LocalHookEndpoint, WebhookSender]:
        """The hook's credentials in the local Secrets Manager, its code behind a local
        endpoint, and the organisation posting a webhook for every job it queues."""
        credentials = Credentials("adoscale-hook", secrets.token_urlsafe(30))
        arn = self.stack.client("secretsmanager").create_secret(
            Name=f"adoscale-hook-{secrets.token_hex(4)}",
            SecretString=json.dumps(
                {"username": credentials.username, "password": credentials.password}
            ),
        )["ARN"]
        env = {**self.stack.env, "ADOSCALE_HOOK_SECRET_ARN": arn}
        service = build_hook_service(load_settings(env, HOOK_REQUIRED), poller_clock=self.clock.now)
        endpoint = LocalHookEndpoint(service).start()
        sender = WebhookSender(
            endpoint.url,
            credentials,
            self.org.ado.project_id(DEFAULT_PROJECT),
            now=self.clock.elapsed,
        )
        self.org.on_queued = sender.job_queued
        return endpoint, sender

    def _stop_hook(
        self, hook: tuple[LocalHookEndpoint, WebhookSender], fargate: LocalFargate
    ) -> list[float]:
        """Real seconds from each webhook to the next task the Fargate stand-in saw start
        (it sees RunTask within one tick, 0.05 real s)."""
        endpoint, sender = hook
        self.org.on_queued = None
        sender.close()
        endpoint.stop()
        launches = [a.launched_at for a in fargate.agents.values() if not a.placeholder]
        return latencies(sender.sent, launches, self.clock.speed)

    # ---- during the run ----------------------------------------------------------------

    def _on_poll(self, record: PollRecord) -> None:
        """From the poller's thread: remember decisions, report what it started."""
        for name, outcome in record.report.outcomes.items():
            self.desired[name] = outcome.decision.desired
        for execution in record.report.started:
            match = _EXECUTION.match(execution)
            if match:
                started = record.report.outcomes.get(match["queue"])
                count = f" {started.decision.count}" if started and started.decision.count else ""
                self.last_action[match["queue"]] = f"{match['action']}{count} @{_mmss(record.at)}"
            self.view.event(record.at, f"started {execution}")
        for error in record.report.errors:
            self.view.event(record.at, f"poll: {error.queue}: {error.kind}: {error.message[:80]}")

    def _refresh(
        self, elapsed: float, counts: Mapping[str, QueueCounts], fargate: LocalFargate
    ) -> None:
        for alert in read_alerts(self.sqs, self.stack.workflow.alert_queue_url):
            self.alerts.append(alert)
            self.view.event(
                elapsed, f"ALERT {alert.get('kind')} {alert.get('queue')}: {alert.get('message')}"
            )
        while self._faults_seen < len(self.org.fault_log):
            at, text = self.org.fault_log[self._faults_seen]
            self._faults_seen += 1
            self.view.event(elapsed, f"{text} (scenario t+{_mmss(at)})")
        rows: dict[str, dict[str, Any]] = {}
        sample: dict[str, tuple[int, int, int, int]] = {}
        for name, c in counts.items():
            starting = fargate.starting(name)
            rows[name] = {
                "waiting": c.queued,
                "running": c.running,
                "idle": c.idle,
                "starting": starting,
                "desired": self.desired.get(name, "-"),
                "last action": self.last_action.get(name, "-"),
            }
            sample[name] = (c.queued, c.busy, c.idle + c.draining, starting)
        self.samples.append(Sample(elapsed, sample))
        done = sum(1 for job in self.org.outcomes() if job.finished_at is not None)
        self.view.update(
            Frame(
                scenario=self.scenario.name,
                elapsed=elapsed,
                speed=self.clock.speed,
                jobs_done=done,
                jobs_total=self.org.expected_jobs(),
                rows=rows,
                alerts=len(self.alerts),
                faults=self.org.faults_active(),
            )
        )
        for stop in fargate.stats.busy_stops:
            if stop.at >= elapsed - REFRESH_SECONDS * self.clock.speed:
                self.view.event(elapsed, f"BUSY AGENT STOPPED {stop.agent} (job {stop.job_id})")

    def _ready(self) -> bool:
        """The fleet as a deployment leaves it: every enabled queue has its placeholder."""
        present = self.org.placeholders(self.scenario.queues)
        return all(present[q.queue] for q in self.scenario.queues if q.enabled)

    def _settled(
        self, elapsed: float, counts: Mapping[str, QueueCounts], fargate: LocalFargate
    ) -> bool:
        """Every job done, every queue back at standby with its placeholder, nothing running."""
        if self.org.epoch is None or not self.org.all_queued:
            return False
        if elapsed < self.org.epoch + self.scenario.last_arrival:
            return False
        if any(self.org.ado.jobs(pool, include_finished=False) for pool in self.scenario.pools):
            return False
        if any(a.state in (BOOTING, RUNNING) for a in fargate.agents.values() if not a.placeholder):
            return False
        for name, c in counts.items():
            queue = self.queues[name]
            standby = standby_in_force(queue, self.clock.now())
            if (c.idle, c.busy, c.draining, c.offline) != (standby, 0, 0, 0):
                return False
            if queue.enabled and not c.placeholder_present:
                return False
        running = self.sfn.list_executions(
            stateMachineArn=self.stack.workflow.state_machine_arn, statusFilter="RUNNING"
        ).get("executions", [])
        return not running

    def _executions(self) -> dict[str, dict[str, int]]:
        summary: dict[str, dict[str, int]] = {}
        paginator = self.sfn.get_paginator("list_executions")
        for page in paginator.paginate(stateMachineArn=self.stack.workflow.state_machine_arn):
            for execution in page.get("executions", []):
                match = _EXECUTION.match(execution["name"])
                action = match["action"] if match else "other"
                statuses = summary.setdefault(action, {})
                statuses[execution["status"]] = statuses.get(execution["status"], 0) + 1
        return summary


def _real_wait(sim_seconds: float, speed: float) -> int:
    """A Wait state's Seconds: whole seconds, at least one."""
    return max(1, round(sim_seconds / speed))


def _mmss(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes:02d}:{rest:02d}"


def _title(scenario: Scenario) -> str:
    return f"adoscale local: {scenario.name} (waiting jobs against agents)"


def _quiet_libraries() -> None:
    """moto's HTTP server logs every request; the view is the place to look."""
    for name in ("werkzeug", "moto", "botocore", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)
