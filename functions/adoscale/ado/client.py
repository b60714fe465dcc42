"""Azure DevOps REST client for agent pools, agents, job requests and licence headroom.

Every request goes through ``AdoClient._call``: authentication, status mapping, rate-limit
headers, retries and request counting live there and nowhere else, so a failure mode is
handled the same way whichever endpoint hits it.

Retries, decided once here:
- connection errors, read timeouts and 500/502/503/504 are retried by urllib3's ``Retry``
  (bounded by ``max_retries``, exponential backoff), but only while the Lambda's remaining
  time can still hold the wait plus one more attempt (``connect + read`` timeouts + margin);
- 429 is handled by the client: it sleeps ``Retry-After`` (or ``X-RateLimit-Reset`` - now,
  or one second when the service says nothing) only if that fits in the remaining time,
  otherwise it raises ``AdoRateLimitedError`` at once;
- ``Retry-After`` on a successful response paces the next request the same way (waited out
  only when it fits; otherwise the request goes ahead and may meet a 429);
- ``X-RateLimit-Delay`` says how long the service already held *this* request, so it is
  recorded (``rate_limit.delay``) but never slept again.

Status mapping: 401, 403, 203, a redirect or an HTML body -> ``AdoAuthError``; 404 ->
``AdoPoolNotFoundError`` (``AdoAgentNotFoundError`` when ADO says the agent is missing),
except ``agent()`` -> None and ``delete_agent()`` -> False; 400
``TaskAgentJobStillRunningException`` -> ``AdoAgentBusyError``; other 4xx and 2xx bodies
that are not the documented JSON -> ``AdoBadResponseError``; 5xx, timeouts and connection
errors that outlast the retries -> ``AdoUnavailableError``. Messages never carry the PAT.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError, InvalidHeader, MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from adoscale import __version__
from adoscale.core.exceptions import (
    AdoAgentBusyError,
    AdoAgentNotFoundError,
    AdoAuthError,
    AdoBadResponseError,
    AdoError,
    AdoPoolNotFoundError,
    AdoRateLimitedError,
    AdoUnavailableError,
)
from adoscale.core.models import Agent, Headroom, JobRequest, parse_list
from adoscale.core.redact import Redactor

logger = logging.getLogger(__name__)

API_VERSION = "7.1"  # pools and agents are GA
API_PREVIEW = "7.1-preview.1"  # jobrequests, resourcelimits, resourceusage need the flag
RETRY_STATUSES = frozenset({500, 502, 503, 504})
RETRY_METHODS = frozenset({"GET", "HEAD", "PATCH", "PUT", "DELETE", "OPTIONS"})
BUSY_TYPE_KEY = "TaskAgentJobStillRunningException"
AGENT_NOT_FOUND_TYPE_KEY = "TaskAgentNotFoundException"
SAFETY_MARGIN_SECONDS = 1.0  # kept free after a wait, beyond one more request's timeouts
WAIT_CAP_WITHOUT_DEADLINE = 30.0  # longest rate-limit wait when no time_left is given
DEFAULT_RATE_LIMIT_WAIT = 1.0  # a 429 without any hint of how long to wait
LIST_FAILURE_HOLD_SECONDS = 10.0  # a failed pool listing is answered from memory this long

NotFound = Literal["pool", "none"]


@dataclass(frozen=True)
class RateLimit:
    """Azure DevOps' rate-limit headers, as last seen on any response."""

    remaining: float | None
    limit: float | None
    delay: float | None
    reset: float | None
    retry_after: float | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimit | None:
        """None when the response carried none of them (most responses do not)."""
        values = {
            "remaining": _number(headers.get("X-RateLimit-Remaining")),
            "limit": _number(headers.get("X-RateLimit-Limit")),
            "delay": _number(headers.get("X-RateLimit-Delay")),
            "reset": _number(headers.get("X-RateLimit-Reset")),
            "retry_after": _number(headers.get("Retry-After")),
        }
        if all(value is None for value in values.values()):
            return None
        return cls(**values)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None  # an HTTP-date Retry-After or junk: treat as absent


class _BudgetRetry(Retry):
    """urllib3 ``Retry`` that stops when the time left cannot hold another attempt.

    It also reports each retry so ``requests_made`` counts every request on the wire.
    """

    RETRY_AFTER_STATUS_CODES = frozenset({503})  # 429 is the client's own business
    fits: Callable[[float], bool] | None = None
    on_retry: Callable[[], None] | None = None

    def new(self, **kw: Any) -> _BudgetRetry:
        fresh = super().new(**kw)
        fresh.fits = self.fits
        fresh.on_retry = self.on_retry
        return fresh

    def get_retry_after(self, response: Any) -> float | None:
        """A Retry-After urllib3 cannot parse (e.g. "1.5") falls back to the backoff."""
        try:
            return super().get_retry_after(response)
        except InvalidHeader:
            return None

    def increment(self, *args: Any, **kwargs: Any) -> _BudgetRetry:
        fresh = super().increment(*args, **kwargs)
        response = kwargs.get("response")
        wait = fresh.get_backoff_time()
        if response is not None and fresh.respect_retry_after_header:
            wait = max(wait, fresh.get_retry_after(response) or 0.0)
        if fresh.fits is not None and not fresh.fits(wait):
            error = kwargs.get("error") or ResponseError("no time left for another attempt")
            raise MaxRetryError(kwargs.get("_pool"), kwargs.get("url"), error)  # type: ignore[arg-type]
        if fresh.on_retry is not None:
            fresh.on_retry()
        return fresh


class AdoClient:
    """One organisation's Azure DevOps REST API; thread-safe, meant to stay warm.

    The poller shares one client between its worker threads and keeps it across warm
    invocations, so the pool-name cache saves a listing per cycle.
    """

    def __init__(
        self,
        org_url: str,
        pat: str,
        *,
        session: requests.Session | None = None,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        time_left: Callable[[], float] | None = None,
        max_retries: int = 3,
        backoff_factor: float = 0.2,
        pool_maxsize: int = 32,
        pool_relist_seconds: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not org_url.strip():
            raise ValueError("org_url: must not be empty")
        if not pat:
            raise ValueError("pat: must not be empty")
        self._org_url = org_url.strip().rstrip("/")
        self._redactor = Redactor([pat])
        self._timeouts = (connect_timeout, read_timeout)
        self._time_left = time_left
        self._margin = connect_timeout + read_timeout + SAFETY_MARGIN_SECONDS
        self._max_retries = max_retries
        self._monotonic = monotonic
        self._sleep = sleep
        self._relist_seconds = pool_relist_seconds

        self._count_lock = threading.Lock()
        self._requests_made = 0
        self._rate_limit: RateLimit | None = None
        self._not_before = 0.0  # monotonic time before which Retry-After asked us to wait

        self._pools_lock = threading.Lock()
        self._pool_ids: dict[str, list[int]] | None = None
        self._pools_listed_at: float | None = None
        self._list_failure: tuple[float, AdoError] | None = None
        self.last_headroom_error: AdoError | None = None

        self._session = session or _session_from_environment(self._org_url)
        self._session.auth = ("", pat)
        self._session.headers.update(
            {
                "Accept": "application/json",
                "User-Agent": f"adoscale/{__version__}",
                "X-TFS-FedAuthRedirect": "Suppress",
            }
        )
        retry = _BudgetRetry(
            total=max_retries,
            allowed_methods=RETRY_METHODS,
            status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff_factor,
            backoff_max=5.0,
            raise_on_status=False,
            raise_on_redirect=False,
            respect_retry_after_header=True,
        )
        retry.fits = self._fits
        retry.on_retry = self._count_request
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=retry)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    def __repr__(self) -> str:
        return f"AdoClient(org_url={self._org_url!r}, requests_made={self.requests_made})"

    @property
    def org_url(self) -> str:
        return self._org_url

    @property
    def requests_made(self) -> int:
        """Every HTTP request sent, retries included."""
        with self._count_lock:
            return self._requests_made

    @property
    def rate_limit(self) -> RateLimit | None:
        with self._count_lock:
            return self._rate_limit

    # ---- endpoints -------------------------------------------------------------------

    def pool_id(self, name: str) -> int:
        """The id of the one pool called ``name`` (case-insensitive), from a cached listing.

        The whole organisation's pools come from one listing, kept on the client; a name
        not in it triggers at most one re-listing per ``pool_relist_seconds``.
        """
        key = name.strip().casefold()
        with self._pools_lock:
            ids = self._pool_ids.get(key) if self._pool_ids is not None else None
            if ids is None and self._may_relist():
                self._pool_ids = self._list_pools_once()
                self._pools_listed_at = self._monotonic()
                ids = self._pool_ids.get(key)
        if not ids:
            raise AdoPoolNotFoundError(f"no agent pool named {name!r} in {self._org_url}")
        if len(ids) > 1:
            raise AdoPoolNotFoundError(
                f"{len(ids)} agent pools named {name!r} in {self._org_url} (ids {sorted(ids)})"
            )
        return ids[0]

    def project(self, project: str) -> dict[str, Any] | None:
        """A project by id or name (``{"id", "name", ...}``), or None when the organisation
        has none such. Needs the PAT scope Project and Team (Read)."""
        body = self._call(
            "GET",
            f"projects/{quote(project, safe='')}",
            params={"api-version": API_VERSION},
            not_found="none",
        )
        if body is None:
            return None
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise AdoBadResponseError(f"GET projects/{project}: no project id in the answer")
        return body

    def hook_subscriptions(self) -> list[dict[str, Any]]:
        """The organisation's service-hook subscriptions (scope Service Hooks (Read))."""
        body = self._call("GET", "hooks/subscriptions", params={"api-version": API_VERSION})
        items = body.get("value") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise AdoBadResponseError("GET hooks/subscriptions: no value list in the answer")
        return [item for item in items if isinstance(item, dict)]

    def create_hook_subscription(self, subscription: Mapping[str, Any]) -> dict[str, Any]:
        """Create one subscription (scope Service Hooks (Read & Write)); returns it with id."""
        body = self._call(
            "POST",
            "hooks/subscriptions",
            params={"api-version": API_VERSION},
            json_body=dict(subscription),
        )
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise AdoBadResponseError("POST hooks/subscriptions: no subscription id in the answer")
        return body

    def delete_hook_subscription(self, subscription_id: str) -> bool:
        """True when deleted, False when it was already gone."""
        result = self._call(
            "DELETE",
            f"hooks/subscriptions/{quote(subscription_id, safe='')}",
            params={"api-version": API_VERSION},
            not_found="none",
            expect_json=False,
        )
        return result is not None

    def job_requests(self, pool_id: int) -> list[JobRequest]:
        """Pending and running jobs of a pool (finished ones are left out)."""
        body = self._call(
            "GET",
            f"distributedtask/pools/{pool_id}/jobrequests",
            params={"completedRequestCount": "0", "api-version": API_PREVIEW},
            pool_id=pool_id,
        )
        return [JobRequest.from_json(item) for item in parse_list(body, "jobrequests")]

    def job_history(self, pool_id: int, top: int = 1000) -> list[JobRequest]:
        """The pool's latest job requests, finished ones included (``$top``; the service
        answers with at most about 200 and leaves ``matchedAgents`` out)."""
        body = self._call(
            "GET",
            f"distributedtask/pools/{pool_id}/jobrequests",
            params={"$top": str(top), "api-version": API_PREVIEW},
            pool_id=pool_id,
        )
        return [JobRequest.from_json(item) for item in parse_list(body, "jobrequests")]

    def agents(self, pool_id: int) -> list[Agent]:
        body = self._call(
            "GET",
            f"distributedtask/pools/{pool_id}/agents",
            params={
                "includeAssignedRequest": "true",
                "includeLastCompletedRequest": "true",
                "api-version": API_VERSION,
            },
            pool_id=pool_id,
        )
        return [Agent.from_json(item) for item in parse_list(body, "agents")]

    def agent(self, pool_id: int, agent_id: int) -> Agent | None:
        """One agent, or None when it (or its pool) no longer exists."""
        body = self._call(
            "GET",
            f"distributedtask/pools/{pool_id}/agents/{agent_id}",
            params={"includeAssignedRequest": "true", "api-version": API_VERSION},
            pool_id=pool_id,
            not_found="none",
        )
        return None if body is None else Agent.from_json(body)

    def set_agent_enabled(self, pool_id: int, agent_id: int, enabled: bool) -> None:
        """Disable (drain) or re-enable an agent; a vanished agent raises AdoAgentNotFoundError."""
        self._call(
            "PATCH",
            f"distributedtask/pools/{pool_id}/agents/{agent_id}",
            params={"api-version": API_VERSION},
            json_body={"id": agent_id, "enabled": enabled},
            pool_id=pool_id,
        )

    def delete_agent(self, pool_id: int, agent_id: int) -> bool:
        """True when deleted, False when already gone; AdoAgentBusyError while it runs a job."""
        result = self._call(
            "DELETE",
            f"distributedtask/pools/{pool_id}/agents/{agent_id}",
            params={"api-version": API_VERSION},
            pool_id=pool_id,
            not_found="none",
            expect_json=False,
        )
        return result is not None

    def headroom(self) -> Headroom | None:
        """Self-hosted parallel jobs left: ``resourceusage`` carries limit and use together.

        Falls back to ``resourcelimits`` only when the usage answer lacks its
        ``resourceLimit``. None (and ``last_headroom_error``) when it cannot be read or the
        organisation has no count limit; the caller logs that once and applies no cap.
        """
        self.last_headroom_error = None
        try:
            usage = self._call(
                "GET",
                "distributedtask/resourceusage",
                params={
                    "parallelismTag": "Private",
                    "poolIsHosted": "false",
                    "includeRunningRequests": "false",
                    "api-version": API_PREVIEW,
                },
            )
            if not isinstance(usage, Mapping):
                raise AdoBadResponseError("resourceusage: expected an object")
            used = _count_field(usage, "usedCount", "resourceusage", default=0)
            limit = usage.get("resourceLimit")
            if limit is None:
                limit = self._private_limit()
            if not isinstance(limit, Mapping):
                raise AdoBadResponseError("resourceusage.resourceLimit: expected an object")
            total = _count_field(limit, "totalCount", "resourceLimit", default=None)
        except AdoError as error:
            self.last_headroom_error = error
            return None
        if total is None:
            return None  # no count limit reported: no cap
        return Headroom(total=total, used=used)

    # ---- internals -------------------------------------------------------------------

    def _private_limit(self) -> Mapping[str, Any] | None:
        body = self._call(
            "GET", "distributedtask/resourcelimits", params={"api-version": API_PREVIEW}
        )
        for item in parse_list(body, "resourcelimits"):
            if (
                isinstance(item, Mapping)
                and str(item.get("parallelismTag", "")).lower() == "private"
                and item.get("isHosted") is False
            ):
                return item
        return None

    def _list_pools_once(self) -> dict[str, list[int]]:
        """List, or re-raise the last listing's failure for ``LIST_FAILURE_HOLD_SECONDS``:
        200 queues on a cold client must not send 200 listings into a failing service."""
        failed = self._list_failure
        if failed is not None and self._monotonic() - failed[0] < LIST_FAILURE_HOLD_SECONDS:
            raise copy.copy(failed[1])
        try:
            pools = self._list_pools()
        except AdoError as error:
            self._list_failure = (self._monotonic(), error)
            raise
        self._list_failure = None
        return pools

    def _may_relist(self) -> bool:
        if self._pools_listed_at is None:
            return True
        return self._monotonic() - self._pools_listed_at >= self._relist_seconds

    def _list_pools(self) -> dict[str, list[int]]:
        body = self._call("GET", "distributedtask/pools", params={"api-version": API_VERSION})
        pools: dict[str, list[int]] = {}
        for index, item in enumerate(parse_list(body, "pools")):
            where = f"pools.value[{index}]"
            if not isinstance(item, Mapping):
                raise AdoBadResponseError(f"{where}: expected an object")
            pool_id, name = item.get("id"), item.get("name")
            if not isinstance(pool_id, int) or isinstance(pool_id, bool):
                raise AdoBadResponseError(f"{where}.id: missing or not int")
            if not isinstance(name, str):
                raise AdoBadResponseError(f"{where}.name: missing or not str")
            pools.setdefault(name.strip().casefold(), []).append(pool_id)
        return pools

    def _forget_pool(self, pool_id: int) -> None:
        """A 404 on a pool path: drop its cached name so the next lookup may re-list."""
        with self._pools_lock:
            if self._pool_ids is None:
                return
            for name, ids in list(self._pool_ids.items()):
                if pool_id in ids:
                    del self._pool_ids[name]

    def _count_request(self) -> None:
        with self._count_lock:
            self._requests_made += 1

    def _fits(self, wait: float) -> bool:
        """Whether waiting ``wait`` seconds still leaves room for one more request."""
        if self._time_left is None:
            return wait <= WAIT_CAP_WITHOUT_DEADLINE
        return self._time_left() - wait - self._margin >= 0

    def _pace(self) -> None:
        """Honour a Retry-After seen on an earlier response, if the time left allows it."""
        with self._count_lock:
            wait = self._not_before - self._monotonic()
        if wait > 0 and self._fits(wait):
            logger.info("Azure DevOps asked to slow down: waiting %.2f s", wait)
            self._sleep(wait)

    def _note_rate_limit(self, response: requests.Response) -> RateLimit | None:
        seen = RateLimit.from_headers(response.headers)
        if seen is None:
            return None
        with self._count_lock:
            self._rate_limit = seen
            if seen.retry_after is not None and seen.retry_after > 0:
                self._not_before = max(self._not_before, self._monotonic() + seen.retry_after)
        return seen

    def _rate_limit_wait(self, seen: RateLimit | None) -> float:
        if seen is not None and seen.retry_after is not None:
            return max(0.0, seen.retry_after)
        if seen is not None and seen.reset is not None:
            return max(0.0, min(seen.reset - time.time(), WAIT_CAP_WITHOUT_DEADLINE))
        return DEFAULT_RATE_LIMIT_WAIT

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        pool_id: int | None = None,
        not_found: NotFound = "pool",
        expect_json: bool = True,
    ) -> Any:
        """The one door to Azure DevOps: returns parsed JSON (True for an empty 2xx body),
        None for a 404 when ``not_found="none"``, or raises the matching ``AdoError``."""
        url = f"{self._org_url}/_apis/{path}"
        what = f"{method} {path}"
        rate_limited = 0
        while True:
            self._pace()
            self._count_request()
            try:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    json=json_body,
                    timeout=self._timeouts,
                    allow_redirects=False,
                )
            except (requests.RequestException, HTTPError) as error:
                raise AdoUnavailableError(
                    self._text(f"{what}: {type(error).__name__}: {error}")
                ) from error
            seen = self._note_rate_limit(response)
            status = response.status_code
            if status != 429:
                break
            wait = self._rate_limit_wait(seen)
            if rate_limited >= self._max_retries or not self._fits(wait):
                raise AdoRateLimitedError(
                    f"{what}: rate limited by Azure DevOps (Retry-After {wait:g} s does not"
                    " fit in the time left)",
                    retry_after=wait,
                )
            rate_limited += 1
            logger.warning("%s: rate limited, retrying in %.2f s", what, wait)
            with self._count_lock:  # _pace waits it out before the retry
                self._not_before = max(self._not_before, self._monotonic() + wait)
        return self._interpret(response, what, pool_id, not_found, expect_json)

    def _interpret(
        self,
        response: requests.Response,
        what: str,
        pool_id: int | None,
        not_found: NotFound,
        expect_json: bool,
    ) -> Any:
        status = response.status_code
        if status in (401, 403, 203) or 300 <= status < 400:
            raise AdoAuthError(
                self._text(
                    f"{what}: HTTP {status}: the PAT is invalid, expired or lacks the "
                    f"Agent Pools scope{_detail(response)}"
                ),
                status=status,
            )
        if status >= 500:
            raise AdoUnavailableError(
                self._text(f"{what}: HTTP {status} after retries{_detail(response)}"),
                status=status,
            )
        if status == 404:
            if not_found == "none":
                return None
            if pool_id is not None:
                self._forget_pool(pool_id)
            error_class = (
                AdoAgentNotFoundError
                if _error_body(response).get("typeKey") == AGENT_NOT_FOUND_TYPE_KEY
                else AdoPoolNotFoundError
            )
            raise error_class(self._text(f"{what}: HTTP 404{_detail(response)}"), status=404)
        if status >= 400:
            body = _error_body(response)
            if body.get("typeKey") == BUSY_TYPE_KEY:
                raise AdoAgentBusyError(
                    self._text(f"{what}: agent is running a job{_detail(response)}"),
                    status=status,
                )
            raise AdoBadResponseError(
                self._text(f"{what}: HTTP {status}{_detail(response)}"), status=status
            )
        if _looks_like_html(response):
            raise AdoAuthError(
                f"{what}: HTTP {status} with an HTML page (a sign-in page: the PAT is invalid"
                " or expired)",
                status=status,
            )
        if not response.content.strip():
            if expect_json:
                raise AdoBadResponseError(
                    f"{what}: HTTP {status} with an empty body", status=status
                )
            return True
        try:
            return response.json()
        except ValueError:
            if not expect_json:
                return True
            raise AdoBadResponseError(
                f"{what}: HTTP {status} body is not JSON", status=status
            ) from None

    def _text(self, message: str) -> str:
        return self._redactor.text(message)


def _session_from_environment(org_url: str) -> requests.Session:
    """Proxies and CA bundle read from the environment once, not on every request
    (``trust_env`` rescans all of ``os.environ`` per request: ~15% of a warm call)."""
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(org_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False
    return session


def _looks_like_html(response: requests.Response) -> bool:
    content_type = response.headers.get("Content-Type", "").lower()
    return "text/html" in content_type or response.content.lstrip()[:1] == b"<"


def _error_body(response: requests.Response) -> Mapping[str, Any]:
    """Azure DevOps errors are ``{"message", "typeKey", ...}``; anything else reads as {}."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, Mapping) else {}


def _detail(response: requests.Response) -> str:
    body = _error_body(response)
    message = body.get("message")
    type_key = body.get("typeKey")
    parts = [str(part)[:300] for part in (type_key, message) if part]
    return f" ({': '.join(parts)})" if parts else ""


def _count_field(obj: Mapping[str, Any], key: str, where: str, *, default: int | None) -> Any:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise AdoBadResponseError(f"{where}.{key}: expected a whole number >= 0")
    return value
