"""Per-organisation scheduling: each organisation is a shard of the poll, on its own pace.

A cycle polls every organisation at once, one shard each (its pool listing, job and agent
requests, counting, decisions and executions), so one slow or throttled organisation never
holds back the others. Each organisation's Azure DevOps budget is its own (200 TSTUs per
sliding 5 minutes per identity): when its ``X-RateLimit-*`` headers say the budget runs
low, only that organisation is polled less often, just often enough to stay inside what
is left of the window, and one ``ado_rate_limited`` alert says so (deduplicated per
organisation). Its pace lives in the state table (``pace#<organisation URL>``, with a
TTL), so a cold start keeps honouring it; it is written only when it changes.

The rule (``pace_for``) is pure: the scheduler around it holds the state.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from adoscale.ado.client import RateLimit

LOG = logging.getLogger(__name__)
RATE_LIMIT_WINDOW_SECONDS = 300.0  # Azure DevOps' sliding window
LOW_BUDGET_SHARE = 0.25  # below this share of the limit left, an organisation slows down
MAX_INTERVAL_SECONDS = 300.0  # never slower than one poll per window
PACE_PREFIX = "pace#"
PACE_TTL_SECONDS = 3600


@dataclass(frozen=True)
class Pace:
    """How often an organisation is polled; ``reason`` is None at the stack's own pace."""

    interval_seconds: float
    reason: str | None = None

    @property
    def slowed(self) -> bool:
        return self.reason is not None


def pace_for(
    seen: RateLimit | None,
    *,
    base_interval: float,
    requests_per_cycle: int,
    window_seconds: float = RATE_LIMIT_WINDOW_SECONDS,
    low_share: float = LOW_BUDGET_SHARE,
    max_interval: float = MAX_INTERVAL_SECONDS,
) -> Pace:
    """The pace an organisation's latest rate-limit headers allow.

    With a ``Retry-After``: no sooner than it says. With less than ``low_share`` of the
    limit left: spread what is left over the window (``window / (remaining / requests per
    cycle)``), between ``base_interval`` and ``max_interval``. With ``X-RateLimit-Delay``
    (the service already held a request back): half the stack's pace. Otherwise the
    stack's pace.
    """
    base = Pace(base_interval)
    if seen is None:
        return base
    ceiling = max(base_interval, max_interval)
    if seen.retry_after is not None and seen.retry_after > 0:
        wait = min(ceiling, max(base_interval, seen.retry_after))
        return Pace(wait, f"Retry-After {seen.retry_after:g} s")
    low = seen.remaining is not None and seen.limit and seen.remaining < low_share * seen.limit
    if low and seen.remaining is not None and seen.limit:
        cycles_left = max(seen.remaining, 0.0) / max(requests_per_cycle, 1)
        spread = window_seconds / cycles_left if cycles_left > 0 else ceiling
        interval = min(ceiling, max(base_interval, spread))
        if interval > base_interval:
            reason = f"X-RateLimit-Remaining {seen.remaining:g} of {seen.limit:g}"
            return Pace(interval, reason)
    if seen.delay is not None and seen.delay > 0:
        return Pace(min(ceiling, 2 * base_interval), f"X-RateLimit-Delay {seen.delay:g} s")
    return base


class PaceStore:
    """Organisations' paces in the state table (one item each, TTL ``expires_at``)."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._dynamodb = dynamodb
        self._table = table

    def load(self, orgs: Iterable[str]) -> dict[str, tuple[float, Pace]]:
        """``org -> (next due, pace)`` for the organisations that have an item."""
        found: dict[str, tuple[float, Pace]] = {}
        for org in sorted(set(orgs)):  # once per organisation and container
            item = self._dynamodb.get_item(
                TableName=self._table, Key={"pk": {"S": PACE_PREFIX + org}}, ConsistentRead=True
            ).get("Item")
            if item is not None:
                reason = item.get("reason", {}).get("S")
                pace = Pace(float(item["interval"]["N"]), reason)
                found[org] = (float(item["next_due"]["N"]), pace)
        return found

    def save(self, org: str, next_due: float, pace: Pace) -> None:
        item: dict[str, Any] = {
            "pk": {"S": PACE_PREFIX + org},
            "next_due": {"N": f"{next_due:.3f}"},
            "interval": {"N": f"{pace.interval_seconds:g}"},
            "expires_at": {"N": str(int(next_due + PACE_TTL_SECONDS))},
        }
        if pace.reason is not None:
            item["reason"] = {"S": pace.reason}
        self._dynamodb.put_item(TableName=self._table, Item=item)


class OrgScheduler:
    """Which organisations are due, and their pace from what each one's headers said.

    Thread-safe: every shard reports its own organisation. State failures are logged,
    never raised: the pace is a courtesy to Azure DevOps, not a reason to stop polling.
    """

    def __init__(self, store: PaceStore | None = None) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, Pace]] = {}
        self._loaded: set[str] = set()
        self._last_seen: dict[str, RateLimit] = {}

    def due(self, orgs: Iterable[str], now: float) -> set[str]:
        """The organisations to poll at wall-clock ``now`` (seconds since the epoch)."""
        orgs = set(orgs)
        self._load(orgs - self._loaded)
        with self._lock:
            return {org for org in orgs if self._state.get(org, (0.0, None))[0] <= now + 0.5}

    def pace(self, org: str) -> Pace | None:
        with self._lock:
            entry = self._state.get(org)
        return entry[1] if entry is not None else None

    def observe(
        self,
        org: str,
        seen: RateLimit | None,
        *,
        requests: int,
        now: float,
        base_interval: float,
    ) -> tuple[Pace, bool]:
        """Record one shard's cycle: ``seen`` is the organisation client's latest headers
        (the same object as last time means none arrived since). Returns the pace and
        whether the organisation has just slowed down (the one time to alert)."""
        with self._lock:
            fresh = seen if seen is not None and seen is not self._last_seen.get(org) else None
            if seen is not None:
                self._last_seen[org] = seen
            before = self._state.get(org, (0.0, Pace(base_interval)))[1]
        pace = pace_for(fresh, base_interval=base_interval, requests_per_cycle=requests)
        next_due = now + pace.interval_seconds if pace.slowed else 0.0
        with self._lock:
            self._state[org] = (next_due, pace)
        if pace.slowed or before.slowed:
            if pace.slowed:
                LOG.warning("%s: polled every %g s (%s)", org, pace.interval_seconds, pace.reason)
            else:
                LOG.info("%s: back to the stack's pace", org)
            self._save(org, next_due, pace)
        return pace, pace.slowed and not before.slowed

    def _load(self, orgs: set[str]) -> None:
        if not orgs:
            return
        loaded: dict[str, tuple[float, Pace]] = {}
        if self._store is not None:
            try:
                loaded = self._store.load(orgs)
            except Exception as error:  # noqa: BLE001 - the pace is best effort
                LOG.warning("organisation paces unreadable: %s", error)
                return  # retried next cycle
        with self._lock:
            for org, entry in loaded.items():
                self._state.setdefault(org, entry)
            self._loaded |= orgs

    def _save(self, org: str, next_due: float, pace: Pace) -> None:
        if self._store is None:
            return
        try:
            self._store.save(org, next_due, pace)
        except Exception as error:  # noqa: BLE001 - the pace is best effort
            LOG.warning("pace of %s not saved: %s", org, error)
