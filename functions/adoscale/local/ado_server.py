"""A fake Azure DevOps organisation over real HTTP: tests, the local demo and benchmarks.

It serves the distributed-task endpoints adoscale uses under ``/<org>/_apis/``, with the
real JSON shapes (the fixtures in ``tests/fixtures/ado/`` pin them and a test keeps the two
in step): unset fields omitted, times as ISO 8601 with 'Z', lists wrapped as
``{"count": n, "value": [...]}``, errors as ``{"$id", "innerException", "message",
"typeName", "typeKey", "errorCode", "eventId"}``. A wrong PAT answers 401 with a JSON
error (or, configurably, 203 with an HTML sign-in page); deleting a busy agent answers
400 ``TaskAgentJobStillRunningException`` as the real service does.

Python API (all state behind one lock, safe from any thread)::

    with FakeAdoServer(pat="s3cret") as ado:
        pool = ado.add_pool("linux")
        agent = ado.register_agent(pool, "adoscale-build-0123456789ab", capabilities={"docker": ""})
        job = ado.queue_job(pool, ["docker"])
        ado.assign_job(job, agent); ado.start_job(job); ado.finish_job(job)
        ado.inject("jobrequests", "status_500", times=1)
        client = AdoClient(ado.base_url, "s3cret")
        ado.count("jobrequests")

Run standalone for the demo: ``python -m adoscale.local.ado_server --pool linux``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import json
import re
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from adoscale.core.demands import demands_met
from adoscale.local.ado_shapes import (
    AGENT_VERSION,
    DT,
    FW,
    SIGN_IN_PAGE,
    VSS,
    AgentRecord,
    JobRecord,
    PoolRecord,
    Reply,
    Shapes,
    error_reply,
    json_reply,
    listing,
    strip,
)

DEFAULT_PAT = "fake-ado-pat-0123456789abcdef"
DEFAULT_ORG = "fakeorg"
MAX_JOB_LIST = 200  # the service caps job request lists near 200

KINDS = (
    "pools",
    "pool",
    "jobrequests",
    "agents",
    "agent",
    "resourcelimits",
    "resourceusage",
    "project",
    "subscriptions",
    "subscription",
    "unknown",
)
DEFAULT_PROJECT = "fakeproject"
HOOK_PUBLISHER = "pipelines"
HOOK_EVENT = "ms.vss-pipelines.job-state-changed-event"
MODES = frozenset(
    {
        "status_401_json",  # 401 + JSON UnauthorizedRequestException
        "status_203_html",  # 203 + HTML sign-in page
        "html_200",  # 200 + HTML sign-in page
        "status_429",  # 429 + Retry-After + X-RateLimit-*
        "status_500",
        "status_503",
        "slow",  # wait ``delay`` seconds, then answer normally
        "malformed_json",  # 200 whose body is cut-off JSON
        "missing_fields",  # 200 whose objects lack id/requestId/name/status/totalCount
        "unknown_pool",  # pool listing empty; pool paths 404 TaskAgentPoolNotFoundException
    }
)
_PREVIEW_KINDS = frozenset({"jobrequests", "resourcelimits", "resourceusage"})


class FakeAdoError(Exception):
    """Misuse of the fake's state API (unknown pool, busy agent, job in the wrong state)."""


@dataclass(frozen=True)
class RequestRecord:
    """One request the fake answered, for request-budget assertions."""

    method: str
    path: str
    query: Mapping[str, str]
    status: int
    kind: str
    fault: str | None = None


@dataclass
class Fault:
    """An injected failure; ``times=None`` keeps it until ``clear_faults``."""

    target: str
    mode: str
    times: int | None = None
    delay: float = 2.0
    retry_after: float = 1.0
    method: str | None = None
    hits: int = 0

    def matches(self, kind: str, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        if self.target in ("*", kind):
            return True
        return self.target not in KINDS and re.search(self.target, path) is not None


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    fake: FakeAdoServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client reuses pooled connections
    disable_nagle_algorithm = True  # else headers and body wait on delayed ACKs (~40 ms)
    server_version = "FakeAzureDevOps/1.0"
    server: _HttpServer

    def do_GET(self) -> None:
        self.server.fake._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.fake._handle(self, "POST")

    def do_PATCH(self) -> None:
        self.server.fake._handle(self, "PATCH")

    def do_PUT(self) -> None:
        self.server.fake._handle(self, "PUT")

    def do_DELETE(self) -> None:
        self.server.fake._handle(self, "DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request log is ``FakeAdoServer.requests``."""


class FakeAdoServer:
    """A threaded fake Azure DevOps organisation on 127.0.0.1 (port 0 by default).

    Settings (all but ``pat``/``org``/``host``/``port`` may be changed while it runs):
    ``pat`` accepted in Basic auth (any user name); ``auth_failure`` "401" (JSON error) or
    "203" (HTML sign-in page) for a wrong PAT; ``latency_seconds`` added to every request;
    ``parallel_jobs`` the self-hosted ``totalCount`` (None: omitted, no limit);
    ``now`` the clock for every timestamp (compress time in simulations);
    ``dispatcher`` assign waiting jobs to idle matching agents as the service does;
    ``fail_unmatched_jobs`` fail a job at once when no agent of its pool meets its
    demands; ``rate_limit_headers`` added to every 2xx answer; ``usage_includes_limit``
    False drops ``resourceLimit`` from ``resourceusage`` answers; ``rate_limit_budget``
    requests per sliding ``rate_limit_window_seconds`` (None: unlimited): every authorised
    answer then carries ``X-RateLimit-Limit``/``-Remaining``/``-Reset`` as the service's
    do near their limit, and a request over the budget is answered 429 with
    ``Retry-After`` (each request costs one unit, a stand-in for the service's TSTUs).
    """

    def __init__(
        self,
        *,
        pat: str = DEFAULT_PAT,
        org: str = DEFAULT_ORG,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_seconds: float = 0.0,
        auth_failure: str = "401",
        parallel_jobs: int | None = 10,
        now: Callable[[], datetime] | None = None,
        dispatcher: bool = False,
        fail_unmatched_jobs: bool = False,
        rate_limit_headers: Mapping[str, str] | None = None,
        usage_includes_limit: bool = True,
        rate_limit_budget: int | None = None,
        rate_limit_window_seconds: float = 300.0,
    ) -> None:
        if auth_failure not in ("401", "203"):
            raise ValueError("auth_failure: must be '401' or '203'")
        self.pat = pat
        self.org = org
        self.latency_seconds = latency_seconds
        self.auth_failure = auth_failure
        self.parallel_jobs = parallel_jobs
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self.dispatcher = dispatcher
        self.fail_unmatched_jobs = fail_unmatched_jobs
        self.rate_limit_headers: dict[str, str] | None = (
            dict(rate_limit_headers) if rate_limit_headers else None
        )
        self.usage_includes_limit = usage_includes_limit
        self.rate_limit_budget = rate_limit_budget
        self.rate_limit_window_seconds = rate_limit_window_seconds
        self._spent: deque[float] = deque()  # monotonic times of the requests in the window
        self._host, self._port = host, port
        self._lock = threading.RLock()
        self._pools: dict[int, PoolRecord] = {}
        self._agents: dict[int, AgentRecord] = {}
        self._jobs: dict[int, JobRecord] = {}
        self._next_pool, self._next_agent, self._next_job = 1, 1, 1000
        self._shapes = Shapes(org, lambda: self.base_url, self._pools, self._agents, self._jobs)
        self._faults: list[Fault] = []
        self._log: list[RequestRecord] = []
        self._projects: dict[str, str] = {}  # id -> name
        self._subscriptions: dict[str, dict[str, Any]] = {}
        self.add_project(DEFAULT_PROJECT)
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------

    def start(self) -> FakeAdoServer:
        if self._httpd is not None:
            return self
        httpd = _HttpServer((self._host, self._port), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self._port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd, self._thread = None, None

    def __enter__(self) -> FakeAdoServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"FakeAdoServer(base_url={self.base_url!r})"

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        """The organisation URL to give the client (``http://127.0.0.1:PORT/fakeorg``)."""
        return f"http://{self._host}:{self._port}/{self.org}"

    # ---- state: pools and agents -----------------------------------------------------

    def add_pool(self, name: str, *, is_hosted: bool = False) -> int:
        with self._lock:
            if any(p.name.casefold() == name.casefold() for p in self._pools.values()):
                raise FakeAdoError(f"pool {name!r} already exists")
            pool = PoolRecord(self._next_pool, name, is_hosted, self.now())
            self._pools[pool.id] = pool
            self._next_pool += 1
            return pool.id

    def remove_pool(self, pool: int | str) -> None:
        with self._lock:
            found = self._pool(pool)
            for agent_id in list(found.agent_ids):
                self._agents.pop(agent_id, None)
            for request_id in [j.request_id for j in self._pool_jobs(found.id)]:
                del self._jobs[request_id]
            del self._pools[found.id]

    def pool_id(self, name: str) -> int:
        with self._lock:
            return self._pool(name).id

    def register_agent(
        self,
        pool: int | str,
        name: str,
        *,
        online: bool = True,
        enabled: bool = True,
        capabilities: Mapping[str, str] | None = None,
        user_capabilities: Mapping[str, str] | None = None,
        version: str = AGENT_VERSION,
    ) -> int:
        """Like ``config.sh`` (+ ``run.sh`` when online); the agent reports its capabilities."""
        with self._lock:
            found = self._pool(pool)
            if any(self._agents[a].name.casefold() == name.casefold() for a in found.agent_ids):
                raise FakeAdoError(f"pool {found.name} already contains an agent named {name}")
            system = {
                "Agent.Name": name,
                "Agent.Version": version,
                "Agent.OS": "Linux",
                "Agent.OSArchitecture": "X64",
            }
            system.update(capabilities or {})
            now = self.now()
            agent = AgentRecord(
                id=self._next_agent,
                pool_id=found.id,
                name=name,
                online=online,
                enabled=enabled,
                capabilities=system,
                user_capabilities=dict(user_capabilities or {}),
                version=version,
                created_on=now,
                status_changed_on=now,
            )
            self._agents[agent.id] = agent
            found.agent_ids.append(agent.id)
            self._next_agent += 1
            self._dispatch_locked()
            return agent.id

    def set_agent_status(
        self, agent_id: int, *, online: bool | None = None, enabled: bool | None = None
    ) -> None:
        with self._lock:
            agent = self._agent(agent_id)
            if online is not None and online != agent.online:
                agent.online = online
                agent.status_changed_on = self.now()
            if enabled is not None:
                agent.enabled = enabled
            self._dispatch_locked()

    def remove_agent(self, agent_id: int, *, force: bool = False) -> None:
        """Like ``config.sh remove``: refused while the agent has a job unless ``force``
        (then the job ends ``abandoned``, as when an agent vanishes mid-job)."""
        with self._lock:
            agent = self._agent(agent_id)
            if agent.assigned_request_id is not None:
                if not force:
                    raise FakeAdoError(
                        f"agent {agent.name} is running a job for pool "
                        f"{self._pools[agent.pool_id].name}"
                    )
                self._finish_locked(self._jobs[agent.assigned_request_id], "abandoned")
            self._delete_agent_locked(agent)
            self._dispatch_locked()

    # ---- state: jobs -----------------------------------------------------------------

    def add_project(self, name: str) -> str:
        """A project of the organisation; its id is derived from the name (stable)."""
        project_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.org}/{name}"))
        with self._lock:
            self._projects[project_id] = name
        return project_id

    def project_id(self, name: str) -> str:
        with self._lock:
            for project_id, known in self._projects.items():
                if known.lower() == name.lower():
                    return project_id
        raise FakeAdoError(f"no project {name!r}")

    def subscriptions(self) -> list[dict[str, Any]]:
        """The service-hook subscriptions created through ``_apis/hooks/subscriptions``."""
        with self._lock:
            return [dict(item) for item in self._subscriptions.values()]

    def queue_job(
        self,
        pool: int | str,
        demands: Iterable[str] = (),
        *,
        queue_time: datetime | None = None,
        definition: str = "ci",
    ) -> int:
        with self._lock:
            found = self._pool(pool)
            request_id = self._next_job
            self._next_job += 1
            job = JobRecord(
                request_id=request_id,
                pool_id=found.id,
                demands=tuple(demands),
                queue_time=queue_time or self.now(),
                definition_id=100 + sum(map(ord, definition)) % 900,
                definition_name=definition,
                build_id=request_id * 3,
            )
            self._jobs[request_id] = job
            if self.fail_unmatched_jobs and not self._matched_agents(job):
                # The service fails such a job at once: "No agent found in pool ..."
                self._finish_locked(job, "failed")
            self._dispatch_locked()
            return request_id

    def assign_job(self, request_id: int, agent_id: int) -> None:
        """The service reserves the agent: ``reservedAgent``/``assignTime`` on the job,
        ``assignedRequest`` on the agent."""
        with self._lock:
            job, agent = self._job(request_id), self._agent(agent_id)
            if not job.waiting:
                raise FakeAdoError(f"job {request_id} is not waiting")
            if agent.pool_id != job.pool_id:
                raise FakeAdoError(f"agent {agent.name} is not in the job's pool")
            if agent.assigned_request_id is not None:
                raise FakeAdoError(f"agent {agent.name} already has a job")
            self._assign_locked(job, agent)

    def start_job(self, request_id: int) -> None:
        """The agent received the job (``receiveTime``)."""
        with self._lock:
            job = self._job(request_id)
            if job.reserved_agent_id is None or job.finished:
                raise FakeAdoError(f"job {request_id} is not assigned to an agent")
            job.receive_time = self.now()

    def finish_job(self, request_id: int, result: str = "succeeded") -> None:
        with self._lock:
            job = self._job(request_id)
            if job.finished:
                raise FakeAdoError(f"job {request_id} already finished")
            self._finish_locked(job, result)
            self._dispatch_locked()

    def dispatch(self) -> list[tuple[int, int]]:
        """Run the service's assignment once: (request_id, agent_id) for each job taken."""
        with self._lock:
            return self._dispatch_locked(force=True)

    # ---- state: read helpers (the same JSON the API serves) --------------------------

    def pools(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._shapes.pool_json(p) for p in self._pools.values()]

    def agents(self, pool: int | str) -> list[dict[str, Any]]:
        with self._lock:
            found = self._pool(pool)
            return [
                self._shapes.agent_json(self._agents[a], True, True, True) for a in found.agent_ids
            ]

    def agent(self, agent_id: int) -> dict[str, Any] | None:
        with self._lock:
            agent = self._agents.get(agent_id)
            return None if agent is None else self._shapes.agent_json(agent, True, True, True)

    def agent_by_name(self, pool: int | str, name: str) -> dict[str, Any] | None:
        with self._lock:
            for agent_id in self._pool(pool).agent_ids:
                agent = self._agents[agent_id]
                if agent.name.casefold() == name.casefold():
                    return self._shapes.agent_json(agent, True, True, True)
            return None

    def jobs(self, pool: int | str, *, include_finished: bool = True) -> list[dict[str, Any]]:
        with self._lock:
            found = self._pool(pool)
            return [
                self._shapes.job_json(j, matched=False)
                for j in self._pool_jobs(found.id)
                if include_finished or not j.finished
            ]

    def job(self, request_id: int) -> dict[str, Any]:
        with self._lock:
            return self._shapes.job_json(self._job(request_id), matched=False)

    # ---- faults and observation ------------------------------------------------------

    def inject(
        self,
        target: str,
        mode: str,
        *,
        times: int | None = None,
        delay: float = 2.0,
        retry_after: float = 1.0,
        method: str | None = None,
    ) -> Fault:
        """Fail matching requests: ``target`` is a kind (``KINDS``), ``"*"``, or a regex
        searched in the request path; ``times=None`` keeps failing until cleared."""
        if mode not in MODES:
            raise ValueError(f"mode: unknown {mode!r}; one of {', '.join(sorted(MODES))}")
        if times is not None and times < 1:
            raise ValueError("times: must be at least 1 (or None for always)")
        if target not in KINDS and target != "*":
            re.compile(target)
        fault = Fault(target, mode, times, delay, retry_after, method)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def count(
        self, kind: str | None = None, *, method: str | None = None, status: int | None = None
    ) -> int:
        """Requests answered, optionally of one kind, method and status."""
        with self._lock:
            return sum(
                1
                for r in self._log
                if (kind is None or r.kind == kind)
                and (method is None or r.method == method.upper())
                and (status is None or r.status == status)
            )

    def counts(self) -> dict[str, int]:
        """Requests answered per kind."""
        with self._lock:
            return dict(Counter(r.kind for r in self._log))

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()

    # ---- HTTP ------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        kind = self._kind(path)
        if self.latency_seconds > 0:
            time.sleep(self.latency_seconds)
        with self._lock:
            fault = next((f for f in self._faults if f.matches(kind, method, path)), None)
            if fault is not None:
                fault.hits += 1
        if fault is not None and fault.mode == "slow":
            time.sleep(fault.delay)
        reply = self._answer(handler, method, path, query, body, kind, fault)
        with self._lock:
            self._log.append(
                RequestRecord(
                    method, path, query, reply.status, kind, fault.mode if fault else None
                )
            )
        try:
            handler.send_response(reply.status)
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(reply.body)))
            handler.end_headers()
            if reply.body:
                handler.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (read timeout): nothing to do

    def _answer(
        self,
        handler: BaseHTTPRequestHandler,
        method: str,
        path: str,
        query: dict[str, str],
        body: bytes,
        kind: str,
        fault: Fault | None,
    ) -> Reply:
        mode = fault.mode if fault is not None else None
        if mode == "status_401_json":
            return self._unauthorized()
        if mode in ("status_203_html", "html_200"):
            return self._sign_in_page(203 if mode == "status_203_html" else 200)
        if mode == "status_429" and fault is not None:
            return self._rate_limited(fault.retry_after)
        if mode in ("status_500", "status_503"):
            status = 500 if mode == "status_500" else 503
            return error_reply(
                status, "VssServiceException", "TF400898: An Internal Error Occurred.", VSS
            )
        if not self._authorized(handler):
            if handler.headers.get("X-TFS-FedAuthRedirect", "").lower() != "suppress":
                return Reply(302, b"", {"Location": "https://app.vssps.visualstudio.com/_signin"})
            return self._unauthorized() if self.auth_failure == "401" else self._sign_in_page(203)
        budget, refused_for = self._spend_budget()
        if refused_for is not None:
            return self._rate_limited(refused_for)
        if mode == "malformed_json":
            return Reply(
                200,
                b'{"count":2,"value":[{"requestId":1001,"queueTime":"2024-',
                {"Content-Type": "application/json; charset=utf-8; api-version=7.1"},
            )
        if mode == "unknown_pool":
            if kind == "pools":
                return json_reply(200, listing([]))
            return self._pool_not_found(self._path_pool_id(path) or 0)
        with self._lock:
            reply = self._route(method, path, query, body, kind)
        if mode == "missing_fields" and 200 <= reply.status < 300 and reply.body:
            reply = json_reply(reply.status, strip(json.loads(reply.body)))
        if self.rate_limit_headers and 200 <= reply.status < 300:
            reply.headers.update(self.rate_limit_headers)
        if budget is not None:
            reply.headers.update(budget)
        return reply

    def _spend_budget(self) -> tuple[dict[str, str] | None, float | None]:
        """Charge one unit to the sliding window: the headers that say what is left, and
        the seconds to wait when nothing was (the request is then refused)."""
        if self.rate_limit_budget is None:
            return None, None
        window = self.rate_limit_window_seconds
        with self._lock:
            now = time.monotonic()
            while self._spent and now - self._spent[0] >= window:
                self._spent.popleft()
            refused = len(self._spent) >= self.rate_limit_budget
            if not refused:
                self._spent.append(now)
            reset = (self._spent[0] + window - now) if self._spent else 0.0
        if refused:
            return None, max(1.0, float(int(reset + 0.999)))
        headers = {
            "X-RateLimit-Resource": "ATCPU",
            "X-RateLimit-Limit": str(self.rate_limit_budget),
            "X-RateLimit-Remaining": str(self.rate_limit_budget - len(self._spent)),
            "X-RateLimit-Reset": str(int(time.time() + reset)),
        }
        return headers, None

    def _authorized(self, handler: BaseHTTPRequestHandler) -> bool:
        header = handler.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        _, _, password = decoded.partition(":")
        return password == self.pat  # any user name, as with a real PAT

    def _unauthorized(self) -> Reply:
        reply = error_reply(
            401,
            "UnauthorizedRequestException",
            "TF400813: The user '' is not authorized to access this resource.",
            FW,
        )
        reply.headers["WWW-Authenticate"] = (
            "Bearer authorization_uri=https://login.microsoftonline.com/common, "
            'Basic realm="https://dev.azure.com/", TFS-Federated'
        )
        return reply

    def _sign_in_page(self, status: int) -> Reply:
        return Reply(status, SIGN_IN_PAGE.encode(), {"Content-Type": "text/html; charset=utf-8"})

    def _rate_limited(self, retry_after: float) -> Reply:
        reply = error_reply(
            429,
            "RequestBlockedException",
            "TF400733: The request has been canceled: Request was blocked due to exceeding "
            "usage of resource 'ATCPU' in namespace 'User'.",
            FW,
        )
        reply.headers.update(
            {
                "Retry-After": f"{retry_after:g}",
                "X-RateLimit-Resource": "ATCPU",
                "X-RateLimit-Delay": "0.000",
                "X-RateLimit-Limit": "200",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(time.time() + retry_after)),
            }
        )
        return reply

    def _pool_not_found(self, pool_id: int) -> Reply:
        return error_reply(
            404,
            "TaskAgentPoolNotFoundException",
            f"Agent pool {pool_id} could not be found.",
            DT,
        )

    def _agent_not_found(self, pool: PoolRecord, agent_id: int) -> Reply:
        return error_reply(
            404,
            "TaskAgentNotFoundException",
            f"No agent found in pool {pool.name} with ID {agent_id}.",
            DT,
        )

    def _kind(self, path: str) -> str:
        apis = f"/{self.org}/_apis/"
        rest = path[len(apis) :].strip("/").split("/") if path.startswith(apis) else []
        if len(rest) == 2 and rest[0].lower() == "projects":
            return "project"
        if rest[:2] == ["hooks", "subscriptions"] and len(rest) in (2, 3):
            return "subscriptions" if len(rest) == 2 else "subscription"
        prefix = f"/{self.org}/_apis/distributedtask/"
        if not path.startswith(prefix):
            return "unknown"
        segments = path[len(prefix) :].strip("/").split("/")
        shapes = {
            ("pools",): "pools",
            ("pools", "#"): "pool",
            ("pools", "#", "jobrequests"): "jobrequests",
            ("pools", "#", "agents"): "agents",
            ("pools", "#", "agents", "#"): "agent",
            ("resourcelimits",): "resourcelimits",
            ("resourceusage",): "resourceusage",
        }
        shape = tuple("#" if s.isdigit() else s.lower() for s in segments)
        return shapes.get(shape, "unknown")

    def _path_pool_id(self, path: str) -> int | None:
        match = re.search(r"/pools/(\d+)", path)
        return int(match.group(1)) if match else None

    def _route(
        self, method: str, path: str, query: dict[str, str], body: bytes, kind: str
    ) -> Reply:
        q = {k.lower(): v for k, v in query.items()}
        version = q.get("api-version", "")
        if kind in _PREVIEW_KINDS and version and "-preview" not in version:
            return error_reply(
                400,
                "VssInvalidPreviewVersionException",
                f'The requested version "{version}" of the resource is under preview. The '
                "-preview flag must be supplied in the api-version for such requests. For "
                f'example: "{version}-preview"',
                VSS,
            )
        allowed = {
            "pools": {"GET"},
            "pool": {"GET"},
            "jobrequests": {"GET"},
            "agents": {"GET", "POST"},
            "agent": {"GET", "PATCH", "DELETE"},
            "resourcelimits": {"GET"},
            "resourceusage": {"GET"},
        }
        if kind == "unknown":
            return error_reply(
                404, "VssResourceNotFoundException", f"The resource {path} was not found.", VSS
            )
        if kind in ("project", "subscriptions", "subscription"):
            return self._route_hooks(method, path, body, kind)
        if method not in allowed[kind]:
            return error_reply(
                405, "VssMethodNotAllowedException", f"{method} is not allowed.", VSS
            )
        if kind == "pools":
            return self._get_pools(q)
        if kind == "resourcelimits":
            return json_reply(
                200,
                listing(
                    [self._shapes.private_limit(self.parallel_jobs), self._shapes.hosted_limit()]
                ),
            )
        if kind == "resourceusage":
            return self._get_usage(q)
        pool_id = self._path_pool_id(path)
        pool = self._pools.get(pool_id or 0)
        if pool is None:
            return self._pool_not_found(pool_id or 0)
        if kind == "pool":
            return json_reply(200, self._shapes.pool_json(pool))
        if kind == "jobrequests":
            return self._get_jobs(pool, q)
        if kind == "agents":
            if method == "POST":
                return self._post_agent(pool, body)
            return self._get_agents(pool, q)
        agent_id = int(path.rstrip("/").rsplit("/", 1)[1])
        agent = self._agents.get(agent_id)
        if agent is None or agent.pool_id != pool.id:
            return self._agent_not_found(pool, agent_id)
        if method == "GET":
            return json_reply(200, self._shapes.agent_json(agent, *_includes(q)))
        if method == "PATCH":
            return self._patch_agent(agent, body)
        return self._delete_agent(pool, agent)

    def _route_hooks(self, method: str, path: str, body: bytes, kind: str) -> Reply:
        """Projects (by id or name) and service-hook subscriptions, as the service has them."""
        last = path.rstrip("/").rsplit("/", 1)[1]
        if kind == "project":
            if method != "GET":
                return error_reply(405, "VssMethodNotAllowedException", f"{method}", VSS)
            found = next(
                (
                    (pid, name)
                    for pid, name in self._projects.items()
                    if last.lower() in (pid, name.lower())
                ),
                None,
            )
            if found is None:
                return error_reply(
                    404,
                    "ProjectDoesNotExistWithNameException",
                    f"TF200016: The following project does not exist: {last}.",
                    "Microsoft.TeamFoundation.Core.WebApi",
                )
            pid, name = found
            return json_reply(
                200,
                {
                    "id": pid,
                    "name": name,
                    "url": f"{self.base_url}/_apis/projects/{pid}",
                    "state": "wellFormed",
                    "visibility": "private",
                },
            )
        if kind == "subscriptions" and method == "GET":
            return json_reply(200, listing([_masked(s) for s in self._subscriptions.values()]))
        if kind == "subscriptions" and method == "POST":
            try:
                document = json.loads(body or b"null")
            except ValueError:
                document = None
            if not isinstance(document, dict) or not document.get("consumerInputs"):
                return error_reply(400, "ArgumentException", "The subscription is not valid.", VSS)
            created = {
                **document,
                "id": str(uuid.uuid4()),
                "url": "",
                "status": "enabled",
                "createdDate": self.now().isoformat().replace("+00:00", "Z"),
            }
            created["url"] = f"{self.base_url}/_apis/hooks/subscriptions/{created['id']}"
            self._subscriptions[created["id"]] = created
            return json_reply(200, _masked(created))
        if kind == "subscription" and method == "GET":
            found_sub = self._subscriptions.get(last)
            if found_sub is None:
                return error_reply(
                    404, "SubscriptionNotFoundException", f"Subscription {last} not found.", VSS
                )
            return json_reply(200, _masked(found_sub))
        if kind == "subscription" and method == "DELETE":
            if self._subscriptions.pop(last, None) is None:
                return error_reply(
                    404, "SubscriptionNotFoundException", f"Subscription {last} not found.", VSS
                )
            return Reply(204, b"", {})
        return error_reply(405, "VssMethodNotAllowedException", f"{method} is not allowed.", VSS)

    def _get_pools(self, q: dict[str, str]) -> Reply:
        pools = list(self._pools.values())
        if "poolname" in q:
            wanted = q["poolname"].casefold()
            pools = [p for p in pools if p.name.casefold() == wanted]
        return json_reply(200, listing([self._shapes.pool_json(p) for p in pools]))

    def _get_jobs(self, pool: PoolRecord, q: dict[str, str]) -> Reply:
        jobs = self._pool_jobs(pool.id)
        unfinished = [j for j in jobs if not j.finished]
        finished = [j for j in jobs if j.finished]
        if "$top" in q:
            top = _int(q["$top"], MAX_JOB_LIST)
            chosen = sorted(jobs, key=lambda j: j.request_id)[-min(top, MAX_JOB_LIST) :]
            return json_reply(
                200, listing([self._shapes.job_json(j, matched=False) for j in chosen])
            )
        keep = _int(q.get("completedrequestcount", ""), MAX_JOB_LIST)
        chosen = unfinished + (finished[-keep:] if keep > 0 else [])
        chosen = sorted(chosen, key=lambda j: j.request_id)[:MAX_JOB_LIST]
        return json_reply(200, listing([self._shapes.job_json(j, matched=True) for j in chosen]))

    def _get_agents(self, pool: PoolRecord, q: dict[str, str]) -> Reply:
        agents = [self._agents[a] for a in pool.agent_ids]
        if "agentname" in q:
            agents = [a for a in agents if a.name.casefold() == q["agentname"].casefold()]
        includes = _includes(q)
        return json_reply(200, listing([self._shapes.agent_json(a, *includes) for a in agents]))

    def _post_agent(self, pool: PoolRecord, body: bytes) -> Reply:
        try:
            data = json.loads(body or b"null")
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            return error_reply(
                400, "ArgumentNullException", "Value cannot be null. Parameter name: agent", VSS
            )
        name = data["name"]
        if any(self._agents[a].name.casefold() == name.casefold() for a in pool.agent_ids):
            return error_reply(
                409,
                "TaskAgentExistsException",
                f"Pool {pool.name} already contains an agent with name {name}.",
                DT,
            )
        agent_id = self.register_agent(
            pool.id,
            name,
            online=str(data.get("status", "offline")).lower() == "online",
            enabled=bool(data.get("enabled", True)),
            capabilities=data.get("systemCapabilities") or None,
            user_capabilities=data.get("userCapabilities") or None,
            version=str(data.get("version") or AGENT_VERSION),
        )
        return json_reply(200, self._shapes.agent_json(self._agents[agent_id], False, False, True))

    def _patch_agent(self, agent: AgentRecord, body: bytes) -> Reply:
        try:
            data = json.loads(body or b"null")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return error_reply(
                400, "ArgumentNullException", "Value cannot be null. Parameter name: agent", VSS
            )
        if "id" in data and data["id"] != agent.id:
            return error_reply(
                400,
                "ArgumentException",
                f"The agent ID {data['id']} does not match the agent {agent.id} in the URL.",
                VSS,
            )
        if "enabled" in data:
            if not isinstance(data["enabled"], bool):
                return error_reply(400, "ArgumentException", "enabled: not a boolean.", VSS)
            agent.enabled = data["enabled"]
            self._dispatch_locked()
        return json_reply(200, self._shapes.agent_json(agent, False, False, False))

    def _delete_agent(self, pool: PoolRecord, agent: AgentRecord) -> Reply:
        if agent.assigned_request_id is not None:
            return error_reply(
                400,
                "TaskAgentJobStillRunningException",
                f'Agent "{agent.name}" is running a job for pool "{pool.name}"',
                DT,
            )
        self._delete_agent_locked(agent)
        return Reply(204)

    def _get_usage(self, q: dict[str, str]) -> Reply:
        hosted = q.get("poolishosted", "false").lower() == "true"
        tag = q.get("parallelismtag", "Private")
        if hosted or tag.lower() != "private":
            return json_reply(200, {"resourceLimit": self._shapes.hosted_limit(), "usedCount": 0})
        self_hosted = {p.id for p in self._pools.values() if not p.is_hosted}
        running = [
            j
            for j in self._jobs.values()
            if not j.finished and j.reserved_agent_id is not None and j.pool_id in self_hosted
        ]
        usage: dict[str, Any] = {
            "resourceLimit": self._shapes.private_limit(self.parallel_jobs),
            "usedCount": len(running),
        }
        if not self.usage_includes_limit:
            del usage["resourceLimit"]
        if q.get("includerunningrequests", "false").lower() == "true":
            usage["runningRequests"] = [self._shapes.job_json(j, matched=False) for j in running]
        return json_reply(200, usage)

    # ---- internals (callers hold the lock) --------------------------------------------

    def _pool(self, pool: int | str) -> PoolRecord:
        if isinstance(pool, int):
            if pool in self._pools:
                return self._pools[pool]
        else:
            for candidate in self._pools.values():
                if candidate.name.casefold() == pool.casefold():
                    return candidate
        raise FakeAdoError(f"no pool {pool!r}")

    def _agent(self, agent_id: int) -> AgentRecord:
        if agent_id not in self._agents:
            raise FakeAdoError(f"no agent {agent_id}")
        return self._agents[agent_id]

    def _job(self, request_id: int) -> JobRecord:
        if request_id not in self._jobs:
            raise FakeAdoError(f"no job request {request_id}")
        return self._jobs[request_id]

    def _pool_jobs(self, pool_id: int) -> list[JobRecord]:
        return sorted(
            (j for j in self._jobs.values() if j.pool_id == pool_id), key=lambda j: j.request_id
        )

    def _matched_agents(self, job: JobRecord) -> list[AgentRecord]:
        return self._shapes.matched_agents(job)

    def _assign_locked(self, job: JobRecord, agent: AgentRecord) -> None:
        job.reserved_agent_id = agent.id
        job.assign_time = self.now()
        agent.assigned_request_id = job.request_id

    def _finish_locked(self, job: JobRecord, result: str) -> None:
        job.result = result
        job.finish_time = self.now()
        agent = self._agents.get(job.reserved_agent_id or 0)
        if agent is not None and agent.assigned_request_id == job.request_id:
            agent.assigned_request_id = None
            agent.last_completed_request_id = job.request_id

    def _delete_agent_locked(self, agent: AgentRecord) -> None:
        del self._agents[agent.id]
        pool = self._pools.get(agent.pool_id)
        if pool is not None:
            pool.agent_ids.remove(agent.id)

    def _dispatch_locked(self, *, force: bool = False) -> list[tuple[int, int]]:
        """An idle, enabled, online agent whose capabilities meet a waiting job takes it,
        oldest job first, lowest agent id first."""
        if not (self.dispatcher or force):
            return []
        taken: list[tuple[int, int]] = []
        waiting = sorted(
            (j for j in self._jobs.values() if j.waiting),
            key=lambda j: (j.queue_time, j.request_id),
        )
        for job in waiting:
            pool = self._pools.get(job.pool_id)
            if pool is None:
                continue
            for agent_id in sorted(pool.agent_ids):
                agent = self._agents[agent_id]
                if (
                    agent.online
                    and agent.enabled
                    and agent.assigned_request_id is None
                    and demands_met(job.demands, agent.capabilities)
                ):
                    self._assign_locked(job, agent)
                    taken.append((job.request_id, agent.id))
                    break
        return taken


def _masked(subscription: Mapping[str, Any]) -> dict[str, Any]:
    """As the service answers: a subscription's password never comes back."""
    inputs = dict(subscription.get("consumerInputs") or {})
    if inputs.get("basicAuthPassword"):
        inputs["basicAuthPassword"] = "********"
    return {**subscription, "consumerInputs": inputs}


def _includes(q: Mapping[str, str]) -> tuple[bool, bool, bool]:
    return (
        q.get("includeassignedrequest", "false").lower() == "true",
        q.get("includelastcompletedrequest", "false").lower() == "true",
        q.get("includecapabilities", "false").lower() == "true",
    )


def _int(text: str, default: int) -> int:
    try:
        return max(0, int(text))
    except ValueError:
        return default


def main(argv: list[str] | None = None) -> None:
    """Serve a fake organisation until interrupted (the local demo's Azure DevOps)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--org", default=DEFAULT_ORG)
    parser.add_argument("--pat", default=DEFAULT_PAT, help="the PAT the fake accepts")
    parser.add_argument("--pool", action="append", default=[], help="pool to create (repeat)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument("--dispatcher", action="store_true", help="assign jobs to idle agents")
    args = parser.parse_args(argv)
    server = FakeAdoServer(
        pat=args.pat,
        org=args.org,
        port=args.port,
        latency_seconds=args.latency,
        dispatcher=args.dispatcher,
    )
    for name in args.pool:
        server.add_pool(name)
    with server:
        print(f"fake Azure DevOps at {server.base_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
