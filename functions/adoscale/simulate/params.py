"""The simulator's knobs, with the defaults and where they come from.

Start-up time (RunTask accepted -> agent registered in the pool, online, taking jobs) on
Fargate is provisioning + ENI attach (~5-10 s) + image pull + ``config.sh`` registration
(~5-10 s). Fargate caches no image, so the pull dominates: a 413 MB image took 53-62 s from
task creation to container start in a private subnet (elasticscale.com, "Reduce AWS Fargate
pull times with SOCI", 2024-04-10; AWS's "Optimize Amazon ECS task launch time" names the
same parts). The agent image (agent + git + docker CLI) is of that size, so the default
is lognormal with a median of 60 s and shape 0.25 (5th percentile ~40 s, 95th ~90 s).
Smaller images, SOCI lazy loading or a zstd image cut it: pass ``--startup-median``.

On EC2 capacity (an agent profile with ``capacity: ec2``) a launch from an empty Auto
Scaling group also waits for an instance. The parts, in order: ECS publishes the capacity
provider's CapacityProviderReservation metric once a minute and its scale-out alarm fires
after one datapoint above the target (aws/containers-roadmap#900, #1716: a task in
PROVISIONING with no instance reads 200), so the group is asked 30-90 s after RunTask;
the Auto Scaling group launches, the Amazon Linux 2023 ECS-optimised AMI boots and its
ECS agent registers in ~60-90 s; ECS then places the waiting task and the instance pulls
the agent image onto an empty disk (~20-40 s for ~400 MB from ECR in the region, faster
than Fargate's pull); ``config.sh`` registers (~5-10 s). That is ~2.5-4 minutes: the
default for ec2 is lognormal with a median of 210 s and shape 0.3 (5th percentile ~130 s,
95th ~340 s). This is assembled from those documented parts, not measured here. It is
pessimistic when an empty instance is still up: ECS keeps one for ~15 minutes after its
last task (the scale-in alarm needs 15 datapoints below target, aws/containers-roadmap
#1220), and a task placed on it starts in the image-cached ~15-20 s; the simulator does
not model instances, so every ec2 start pays the boot.

Billing: a task is billed from RunTask to its stop, with Fargate's one-minute minimum.
Fargate starts billing when the image pull starts, a few seconds after RunTask, so this
over-counts slightly and equally for every policy; the teardown (the agent deregisters and
the container exits after its job) is billed too.

Agent compute: Fargate Linux/x86 in us-east-1, $0.04048 per vCPU-hour and $0.004445 per
GB-hour (aws.amazon.com/fargate/pricing, as quoted by the vantage.sh and wring.co Fargate
pricing guides, collected 2026-11); Fargate Spot is "up to 70 %" cheaper, so Spot share s bills
(1 - 0.7 s) of on-demand. The default task size is 2 vCPU / 4 GB (a typical CI agent).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from adoscale.core.hook import DEBOUNCE_WINDOW_SECONDS, DELIVERY_SECONDS
from adoscale.core.standby import StandbyWindow
from adoscale.poller.cycles import QUIET_INTERVAL_SECONDS

MINUTE = 60.0
# The poller runs a cycle every ADOSCALE_POLL_INTERVAL_SECONDS (default 20) inside each
# invocation that EventBridge Scheduler starts once a minute, and one every
# ADOSCALE_POLL_QUIET_INTERVAL_SECONDS while quiet (adoscale.poller.cycles.Cadence).
POLL_INTERVAL_S = 20.0
POLL_QUIET_INTERVAL_S = QUIET_INTERVAL_SECONDS
INVOCATION_PERIOD_S = 60.0  # EventBridge Scheduler's rate(1 minute): its minimum
POLL_LINGER_S = 600.0  # cycles continue this long after the last activity
CONFIRM_WINDOW_S = 15.0  # scale-in: disable, wait, re-check, then delete + stop


@dataclass(frozen=True)
class StartupTime:
    """Lognormal seconds from RunTask to a registered agent; ``sigma`` 0 means fixed."""

    median_s: float = 60.0
    sigma: float = 0.25

    def __post_init__(self) -> None:
        if not self.median_s > 0:
            raise ValueError(f"startup median_s: must be > 0, got {self.median_s}")
        if self.sigma < 0:
            raise ValueError(f"startup sigma: must be >= 0, got {self.sigma}")

    def sample(self, rng: random.Random) -> float:
        if self.sigma == 0:
            return self.median_s
        return rng.lognormvariate(math.log(self.median_s), self.sigma)

    def quantile(self, q: float) -> float:
        """The q-quantile of the distribution (for documentation and sanity checks)."""
        from statistics import NormalDist

        if self.sigma == 0:
            return self.median_s
        return self.median_s * math.exp(self.sigma * NormalDist().inv_cdf(q))

    def describe(self) -> str:
        if self.sigma == 0:
            return f"fixed {self.median_s:g} s"
        return (
            f"lognormal median {self.median_s:g} s, sigma {self.sigma:g} "
            f"(p5 {self.quantile(0.05):.0f} s, p95 {self.quantile(0.95):.0f} s)"
        )


# The start-up distribution of each agent profile capacity (see the module docstring).
STARTUP_BY_CAPACITY: Mapping[str, StartupTime] = {
    "fargate": StartupTime(60.0, 0.25),
    "ec2": StartupTime(210.0, 0.30),
}


@dataclass(frozen=True)
class AgentPrices:
    """What one agent-second costs (module docstring has the sources)."""

    vcpu: float = 2.0
    memory_gb: float = 4.0
    vcpu_hour_usd: float = 0.04048
    gb_hour_usd: float = 0.004445
    spot_share: float = 0.0
    spot_discount: float = 0.70
    minimum_billed_s: float = 60.0  # Fargate bills per second with a one-minute minimum

    def __post_init__(self) -> None:
        for name in ("vcpu", "memory_gb"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be > 0")
        for name in ("vcpu_hour_usd", "gb_hour_usd", "minimum_billed_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0")
        for name in ("spot_share", "spot_discount"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: must be between 0 and 1")

    @property
    def agent_hour_usd(self) -> float:
        on_demand = self.vcpu * self.vcpu_hour_usd + self.memory_gb * self.gb_hour_usd
        return on_demand * (1.0 - self.spot_share * self.spot_discount)

    def cost(self, agent_seconds: float) -> float:
        return agent_seconds / 3600.0 * self.agent_hour_usd


@dataclass(frozen=True)
class SimParams:
    """One queue and its platform. Times in seconds unless the name says minutes."""

    startup: StartupTime = field(default_factory=StartupTime)
    poll_interval_s: float = POLL_INTERVAL_S
    first_poll_s: float = 0.0
    # The scheduler starts an invocation each period; polls between those happen only
    # while the queue is active (adoscale.poller.cycles). A period <= the interval polls always.
    invocation_period_s: float = INVOCATION_PERIOD_S
    poll_linger_s: float = POLL_LINGER_S
    poll_quiet_interval_s: float = POLL_QUIET_INTERVAL_S  # between cycles of a quiet stack
    standby_agents: int = 0
    # The queue item's standby schedule, read on the wall clock of ``clock_start`` + trace
    # seconds (None: the trace's own start, else the simulator's epoch, a Monday 00:00 UTC).
    standby_schedule: tuple[StandbyWindow, ...] = field(default=(), hash=False)
    clock_start: datetime | None = None
    idle_timeout_minutes: int = 10
    max_agents: int = 100
    capabilities: Mapping[str, str] | None = field(default=None, hash=False)
    launch_delay_s: float = 2.0  # poll -> StartExecution -> launch Lambda -> RunTask accepted
    confirm_window_s: float = CONFIRM_WINDOW_S
    teardown_s: float = 5.0  # job done -> agent deregistered -> task stopped (billed)
    # the service hook: its webhook arrives this long after a job is queued (None: no hook);
    # the hook polls at the end of the debounce window the webhook falls in
    fast_path_delay_s: float | None = None
    hook_window_s: float = DEBOUNCE_WINDOW_SECONDS
    unique_executions: bool = False  # what-if: executions named per poll, not per minute
    # Reusable agents (the queue's max_jobs_per_agent): an agent runs up to this many jobs;
    # between two it is offline for rearm_s (run.sh --once exits, the work directory is
    # cleaned, the listener starts again); a job on a reused agent takes warm_speedup of
    # its traced duration (warm caches; 1.0 = no speed-up).
    max_jobs_per_agent: int = 1
    rearm_s: float = 5.0
    warm_speedup: float = 1.0
    seed: int = 1
    prices: AgentPrices = field(default_factory=AgentPrices)

    def __post_init__(self) -> None:
        if not self.poll_interval_s > 0:
            raise ValueError(f"poll_interval_s: must be > 0, got {self.poll_interval_s}")
        if not 1 <= self.max_agents <= 1000:
            raise ValueError(f"max_agents: must be 1..1000, got {self.max_agents}")
        if not 0 <= self.standby_agents <= self.max_agents:
            raise ValueError(f"standby_agents: must be 0..max_agents, got {self.standby_agents}")
        too_many = [w.agents for w in self.standby_schedule if w.agents > self.max_agents]
        if too_many:
            raise ValueError(
                f"standby_schedule: a window asks for {max(too_many)} agents, max_agents is"
                f" {self.max_agents}"
            )
        if self.clock_start is not None and self.clock_start.tzinfo is None:
            raise ValueError("clock_start: must carry a UTC offset")
        if not 1 <= self.idle_timeout_minutes <= 1440:
            raise ValueError(
                f"idle_timeout_minutes: must be 1..1440, got {self.idle_timeout_minutes}"
            )
        if not self.poll_quiet_interval_s > 0:
            raise ValueError(
                f"poll_quiet_interval_s: must be > 0, got {self.poll_quiet_interval_s}"
            )
        if not self.invocation_period_s > 0:
            raise ValueError(f"invocation_period_s: must be > 0, got {self.invocation_period_s}")
        delays = ("first_poll_s", "launch_delay_s", "confirm_window_s", "teardown_s")
        for name in (*delays, "poll_linger_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0")
        if not 1 <= self.max_jobs_per_agent <= 1000:
            raise ValueError(f"max_jobs_per_agent: must be 1..1000, got {self.max_jobs_per_agent}")
        if not 0 < self.warm_speedup <= 1:
            raise ValueError(f"warm_speedup: must be > 0 and <= 1, got {self.warm_speedup}")
        if self.rearm_s < 0:
            raise ValueError("rearm_s: must be >= 0")
        if self.fast_path_delay_s is not None and self.fast_path_delay_s < 0:
            raise ValueError("fast_path_delay_s: must be >= 0")
        if self.hook_window_s < 0:
            raise ValueError("hook_window_s: must be >= 0")


HOOK_DELIVERY_S = DELIVERY_SECONDS  # what --fast-path assumes when given without a value
