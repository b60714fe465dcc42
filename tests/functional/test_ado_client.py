"""The Azure DevOps client against the fake organisation over real HTTP: every failure mode."""

from __future__ import annotations

import base64
import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from adoscale.ado.client import API_PREVIEW, API_VERSION, AdoClient, RateLimit
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
from adoscale.core.models import Headroom
from adoscale.local.ado_server import FakeAdoServer

READ_TIMEOUT = 2.0  # generous: the normal paths must not flake on a loaded machine
SHORT_READ_TIMEOUT = 0.3  # for the slow-response cases (the fake waits 1 s)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_client(server: FakeAdoServer, **overrides: Any) -> AdoClient:
    options: dict[str, Any] = {
        "connect_timeout": 0.5,
        "read_timeout": READ_TIMEOUT,
        "backoff_factor": 0.01,
        "time_left": lambda: 60.0,
    }
    options.update(overrides)
    return AdoClient(server.base_url, options.pop("pat", server.pat), **options)


@pytest.fixture
def org(fake_ado: FakeAdoServer) -> dict[str, int]:
    """One pool with a busy agent, an idle agent, a running and a waiting job."""
    pool = fake_ado.add_pool("linux-docker")
    busy = fake_ado.register_agent(pool, "adoscale-linux-docker-5e1f0a9c2b7d")
    idle = fake_ado.register_agent(pool, "adoscale-linux-docker-9f8e7d6c5b4a")
    running = fake_ado.queue_job(pool, ["docker"])
    fake_ado.assign_job(running, busy)
    fake_ado.start_job(running)
    waiting = fake_ado.queue_job(pool, [])
    return {"pool": pool, "busy": busy, "idle": idle, "running": running, "waiting": waiting}


@pytest.fixture
def client(fake_ado: FakeAdoServer) -> AdoClient:
    return make_client(fake_ado)


# ---- happy paths and request budget ------------------------------------------------------


def test_reads_jobs_and_agents_with_the_right_api_versions(
    fake_ado: FakeAdoServer, client: AdoClient, org: dict[str, int]
) -> None:
    pool_id = client.pool_id("Linux-Docker")  # names compare case-insensitively

    jobs = {job.request_id: job for job in client.job_requests(pool_id)}
    agents = {agent.agent_id: agent for agent in client.agents(pool_id)}

    assert pool_id == org["pool"]
    assert jobs[org["running"]].taken
    assert jobs[org["waiting"]].waiting
    assert agents[org["busy"]].assigned_request_id == org["running"]
    assert not agents[org["idle"]].busy
    versions = {r.kind: r.query["api-version"] for r in fake_ado.requests}
    assert versions == {"pools": API_VERSION, "jobrequests": API_PREVIEW, "agents": API_VERSION}
    assert fake_ado.requests[1].query["completedRequestCount"] == "0"


def test_every_request_carries_basic_auth_and_the_no_redirect_header(
    fake_ado: FakeAdoServer, org: dict[str, int]
) -> None:
    seen: list[dict[str, str]] = []
    client = make_client(fake_ado)
    client._session.hooks["response"].append(
        lambda response, **_: seen.append(dict(response.request.headers))
    )

    client.agents(org["pool"])

    expected = base64.b64encode(f":{fake_ado.pat}".encode()).decode()
    assert seen[0]["Authorization"] == f"Basic {expected}"
    assert seen[0]["X-TFS-FedAuthRedirect"] == "Suppress"
    assert seen[0]["Accept"] == "application/json"
    assert seen[0]["User-Agent"].startswith("adoscale/")


def test_pool_ids_come_from_one_listing_for_all_queues(
    fake_ado: FakeAdoServer, client: AdoClient
) -> None:
    ids = {name: fake_ado.add_pool(name) for name in ("a", "b", "c")}

    resolved = {name: client.pool_id(name) for name in ("a", "b", "c", "a", "b")}

    assert resolved == ids
    assert fake_ado.count("pools") == 1
    assert client.requests_made == 1


def test_unknown_pool_relists_at_most_once_per_minute(fake_ado: FakeAdoServer) -> None:
    # GIVEN a warm client whose listing did not have the pool
    clock = Clock()
    client = make_client(fake_ado, monotonic=clock)
    fake_ado.add_pool("known")
    client.pool_id("known")
    # WHEN the missing pool is asked for repeatedly within the minute
    for _ in range(3):
        with pytest.raises(AdoPoolNotFoundError, match="no agent pool named 'late'"):
            client.pool_id("late")
    # THEN nothing was re-listed (the first listing is under a minute old)
    assert fake_ado.count("pools") == 1
    # WHEN the pool appears and a minute has passed
    fake_ado.add_pool("late")
    clock.now += 60
    late = client.pool_id("late")
    client.pool_id("late")
    # THEN exactly one more listing found it, and it is cached
    assert late == fake_ado.pool_id("late")
    assert fake_ado.count("pools") == 2


def test_a_failed_listing_is_not_repeated_by_every_queue(fake_ado: FakeAdoServer) -> None:
    # GIVEN a cold client and a pool listing that keeps failing
    clock = Clock()
    client = make_client(fake_ado, monotonic=clock, max_retries=1)
    fake_ado.add_pool("a")
    fake_ado.inject("pools", "status_500")
    # WHEN 20 queues look their pool up
    errors = []
    for _ in range(20):
        with pytest.raises(AdoUnavailableError) as raised:
            client.pool_id("a")
        errors.append(raised.value)
    # THEN one listing (and its retry) went out, and every queue got the same error kind
    assert fake_ado.count("pools") == 2
    assert {type(e) for e in errors} == {AdoUnavailableError}
    assert {e.status for e in errors} == {500}
    # WHEN the service recovers and the hold has passed
    fake_ado.clear_faults()
    clock.now += 10
    # THEN the next lookup lists again
    assert client.pool_id("a") == fake_ado.pool_id("a")
    assert fake_ado.count("pools") == 3


def test_concurrent_cold_lookups_list_pools_once(fake_ado: FakeAdoServer) -> None:
    # GIVEN 50 pools with a job each and a cold client shared by 32 threads
    names = [f"pool-{i:02d}" for i in range(50)]
    for name in names:
        fake_ado.queue_job(fake_ado.add_pool(name))
    client = make_client(fake_ado, read_timeout=5.0)

    def poll(name: str) -> int:
        return len(client.job_requests(client.pool_id(name)))

    # WHEN every queue is polled at once
    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(poll, names))

    # THEN one listing served all threads and every request was counted
    assert results == [1] * 50
    assert fake_ado.count("pools") == 1
    assert client.requests_made == fake_ado.count() == 51


def test_disable_and_enable_send_the_patch_body(
    fake_ado: FakeAdoServer, client: AdoClient, org: dict[str, int]
) -> None:
    client.set_agent_enabled(org["pool"], org["idle"], False)
    disabled = fake_ado.agent(org["idle"])
    client.set_agent_enabled(org["pool"], org["idle"], True)

    assert disabled is not None
    assert disabled["enabled"] is False
    assert fake_ado.agent(org["idle"])["enabled"] is True  # type: ignore[index]
    assert fake_ado.count("agent", method="PATCH") == 2


def test_agent_reads_one_agent_and_none_when_gone(client: AdoClient, org: dict[str, int]) -> None:
    busy = client.agent(org["pool"], org["busy"])

    assert busy is not None
    assert busy.assigned_request_id == org["running"]
    assert client.agent(org["pool"], 4242) is None


@pytest.mark.parametrize(
    ("agent_key", "expected"),
    [("idle", True), ("missing", False)],
    ids=["idle-agent-deleted", "already-gone"],
)
def test_delete_agent(
    fake_ado: FakeAdoServer,
    client: AdoClient,
    org: dict[str, int],
    agent_key: str,
    expected: bool,
) -> None:
    agent_id = org.get(agent_key, 4242)

    assert client.delete_agent(org["pool"], agent_id) is expected
    assert fake_ado.agent(agent_id) is None


def test_delete_busy_agent_is_refused(
    fake_ado: FakeAdoServer, client: AdoClient, org: dict[str, int]
) -> None:
    with pytest.raises(AdoAgentBusyError, match="running a job") as raised:
        client.delete_agent(org["pool"], org["busy"])

    assert raised.value.status == 400
    assert raised.value.kind == "ado_agent_busy"
    assert fake_ado.agent(org["busy"]) is not None


def test_patch_of_a_vanished_agent_says_agent_not_found(
    client: AdoClient, org: dict[str, int]
) -> None:
    with pytest.raises(AdoAgentNotFoundError) as raised:
        client.set_agent_enabled(org["pool"], 4242, False)

    assert isinstance(raised.value, AdoPoolNotFoundError)  # ADO's 404 covers both
    assert raised.value.status == 404


# ---- headroom ------------------------------------------------------------------------------


def test_headroom_from_one_resourceusage_request(
    fake_ado: FakeAdoServer, client: AdoClient, org: dict[str, int]
) -> None:
    fake_ado.parallel_jobs = 3

    headroom = client.headroom()

    assert headroom == Headroom(total=3, used=1)
    assert fake_ado.count("resourceusage") == 1
    assert fake_ado.count("resourcelimits") == 0
    query = fake_ado.requests[-1].query
    assert query["parallelismTag"] == "Private"
    assert query["poolIsHosted"] == "false"


def test_headroom_falls_back_to_resourcelimits(
    fake_ado: FakeAdoServer, client: AdoClient, org: dict[str, int]
) -> None:
    fake_ado.parallel_jobs = 5
    fake_ado.usage_includes_limit = False

    assert client.headroom() == Headroom(total=5, used=1)
    assert fake_ado.count("resourcelimits") == 1


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        (lambda ado: setattr(ado, "parallel_jobs", None), None),
        (lambda ado: ado.inject("resourceusage", "status_401_json"), AdoAuthError),
        (lambda ado: ado.inject("resourceusage", "malformed_json"), AdoBadResponseError),
        (lambda ado: ado.inject("resourceusage", "status_500"), AdoUnavailableError),
    ],
    ids=["no-count-limit", "auth", "malformed", "unavailable"],
)
def test_headroom_is_none_when_it_cannot_be_read(
    fake_ado: FakeAdoServer,
    client: AdoClient,
    setup: Callable[[FakeAdoServer], object],
    error: type[AdoError] | None,
) -> None:
    setup(fake_ado)

    assert client.headroom() is None
    if error is None:
        assert client.last_headroom_error is None
    else:
        assert isinstance(client.last_headroom_error, error)


# ---- failure modes -------------------------------------------------------------------------

FAILURES = [
    ("status_401_json", AdoAuthError, 401),
    ("status_203_html", AdoAuthError, 203),
    ("html_200", AdoAuthError, 200),
    ("malformed_json", AdoBadResponseError, 200),
    ("missing_fields", AdoBadResponseError, None),
    ("unknown_pool", AdoPoolNotFoundError, 404),
    ("status_500", AdoUnavailableError, 500),
    ("status_503", AdoUnavailableError, 503),
    ("slow", AdoUnavailableError, None),
]
CALLS: dict[str, Callable[[AdoClient, int], object]] = {
    "job_requests": lambda c, pool: c.job_requests(pool),
    "agents": lambda c, pool: c.agents(pool),
}


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize(("mode", "error", "status"), FAILURES, ids=[f[0] for f in FAILURES])
def test_failure_modes_raise_typed_errors(
    fake_ado: FakeAdoServer,
    org: dict[str, int],
    call: str,
    mode: str,
    error: type[AdoError],
    status: int | None,
) -> None:
    client = make_client(fake_ado, read_timeout=SHORT_READ_TIMEOUT, max_retries=1)
    fake_ado.inject("jobrequests" if call == "job_requests" else "agents", mode, delay=1.0)

    with pytest.raises(error) as raised:
        CALLS[call](client, org["pool"])

    if status is not None:
        assert raised.value.status == status
    assert raised.value.kind == error.kind


@pytest.mark.parametrize("failure", ["401", "203"], ids=["401-json", "203-sign-in-page"])
def test_wrong_pat_is_an_auth_error(fake_ado: FakeAdoServer, failure: str) -> None:
    fake_ado.auth_failure = failure
    client = make_client(fake_ado, pat="not-the-pat")

    with pytest.raises(AdoAuthError, match=f"HTTP {failure}"):
        client.pool_id("any")


def test_server_error_is_retried_then_succeeds(
    fake_ado: FakeAdoServer, client: AdoClient, org: dict[str, int]
) -> None:
    fake_ado.inject("jobrequests", "status_500", times=2)

    jobs = client.job_requests(org["pool"])

    assert len(jobs) == 2
    assert fake_ado.count("jobrequests") == 3
    assert client.requests_made == 3  # retries are counted


def test_persistent_server_error_gives_up_after_max_retries(
    fake_ado: FakeAdoServer, org: dict[str, int]
) -> None:
    client = make_client(fake_ado, max_retries=2)
    fake_ado.inject("agents", "status_503")

    with pytest.raises(AdoUnavailableError, match="HTTP 503"):
        client.agents(org["pool"])

    assert fake_ado.count("agents") == 3
    assert client.requests_made == 3


def test_retries_stop_when_the_lambda_has_no_time_left(
    fake_ado: FakeAdoServer, org: dict[str, int]
) -> None:
    # connect 0.5 + read 2 + 1 s margin > 1.5 s left: no second attempt fits
    client = make_client(fake_ado, time_left=lambda: 1.5)
    fake_ado.inject("agents", "status_500")

    with pytest.raises(AdoUnavailableError):
        client.agents(org["pool"])

    assert fake_ado.count("agents") == 1


def test_slow_response_times_out(fake_ado: FakeAdoServer, org: dict[str, int]) -> None:
    client = make_client(fake_ado, read_timeout=SHORT_READ_TIMEOUT, max_retries=1)
    fake_ado.inject("agents", "slow", delay=1.0)
    started = time.monotonic()

    with pytest.raises(AdoUnavailableError, match="agents"):
        client.agents(org["pool"])

    assert time.monotonic() - started < 1.5  # two read timeouts, not two full delays
    assert client.requests_made == 2


def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = AdoClient(
        f"http://127.0.0.1:{port}/org", "pat", connect_timeout=0.2, backoff_factor=0.01
    )

    with pytest.raises(AdoUnavailableError, match="ConnectionError"):
        client.agents(1)

    assert client.requests_made == 4  # the first try and three retries


# ---- rate limits ---------------------------------------------------------------------------


def test_429_within_time_left_is_waited_out(fake_ado: FakeAdoServer, org: dict[str, int]) -> None:
    waits: list[float] = []
    client = make_client(fake_ado, sleep=waits.append)
    fake_ado.inject("jobrequests", "status_429", times=1, retry_after=2)

    jobs = client.job_requests(org["pool"])

    assert len(jobs) == 2
    assert len(waits) == 1
    assert 1.9 < waits[0] <= 2.0
    assert fake_ado.count("jobrequests") == 2
    assert client.rate_limit is not None
    assert client.rate_limit.remaining == 0


def test_429_beyond_time_left_raises_at_once(fake_ado: FakeAdoServer, org: dict[str, int]) -> None:
    waits: list[float] = []
    client = make_client(fake_ado, sleep=waits.append, time_left=lambda: 20.0)
    fake_ado.inject("jobrequests", "status_429", retry_after=30)

    with pytest.raises(AdoRateLimitedError) as raised:
        client.job_requests(org["pool"])

    assert raised.value.retry_after == 30
    assert raised.value.kind == "ado_rate_limited"
    assert waits == []
    assert fake_ado.count("jobrequests") == 1


def test_persistent_429_stops_after_max_retries(
    fake_ado: FakeAdoServer, org: dict[str, int]
) -> None:
    waits: list[float] = []
    client = make_client(fake_ado, sleep=waits.append, max_retries=2)
    fake_ado.inject("jobrequests", "status_429", retry_after=1)

    with pytest.raises(AdoRateLimitedError):
        client.job_requests(org["pool"])

    assert fake_ado.count("jobrequests") == 3
    assert len(waits) == 2


def test_rate_limit_headers_on_success_are_captured_not_slept(
    fake_ado: FakeAdoServer, org: dict[str, int]
) -> None:
    waits: list[float] = []
    client = make_client(fake_ado, sleep=waits.append)
    fake_ado.rate_limit_headers = {
        "X-RateLimit-Resource": "ATCPU",
        "X-RateLimit-Delay": "0.250",
        "X-RateLimit-Limit": "200",
        "X-RateLimit-Remaining": "37.5",
        "X-RateLimit-Reset": "1767225600",
    }

    client.agents(org["pool"])
    client.agents(org["pool"])

    assert client.rate_limit == RateLimit(
        remaining=37.5, limit=200.0, delay=0.25, reset=1767225600.0, retry_after=None
    )
    assert waits == []  # the delay was already served by Azure DevOps


def test_retry_after_on_success_paces_the_next_request(
    fake_ado: FakeAdoServer, org: dict[str, int]
) -> None:
    waits: list[float] = []
    client = make_client(fake_ado, sleep=waits.append)
    fake_ado.rate_limit_headers = {"Retry-After": "3", "X-RateLimit-Remaining": "0"}

    client.agents(org["pool"])
    client.agents(org["pool"])

    assert len(waits) == 1
    assert 2.5 < waits[0] <= 3.0


# ---- the PAT never leaks -------------------------------------------------------------------

LEAK_MODES = ["status_401_json", "status_203_html", "html_200", "malformed_json", "status_500"]


def test_pat_never_appears_in_errors_reprs_or_logs(
    fake_ado: FakeAdoServer, org: dict[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a known PAT and debug logging everywhere (urllib3 included)
    caplog.set_level(logging.DEBUG)
    secrets = [fake_ado.pat, base64.b64encode(f":{fake_ado.pat}".encode()).decode()]
    client = make_client(fake_ado)
    texts = [repr(client), str(client)]
    # WHEN every failure mode is met, plus a busy delete, a wrong pool and a refused connection
    for mode in LEAK_MODES:
        fake_ado.clear_faults()
        fake_ado.inject("agents", mode)
        with pytest.raises(AdoError) as raised:
            client.agents(org["pool"])
        texts += [str(raised.value), repr(raised.value), repr(raised.value.args)]
    for attempt in (
        lambda: client.delete_agent(org["pool"], org["busy"]),
        lambda: client.pool_id("nope"),
        lambda: AdoClient(
            "http://127.0.0.1:9/x", fake_ado.pat, connect_timeout=0.1, backoff_factor=0.01
        ).agents(1),
        lambda: make_client(fake_ado, pat=fake_ado.pat + "-wrong").agents(org["pool"]),
    ):
        with pytest.raises(AdoError) as raised:
            attempt()
        texts += [str(raised.value), repr(raised.value), str(raised.value.__cause__)]
    texts += [record.getMessage() for record in caplog.records]
    # THEN no text contains the PAT or its Basic-auth encoding
    assert len(caplog.records) > 0
    leaks = [text for text in texts for secret in secrets if secret in text]
    assert leaks == []


def test_client_is_safe_to_share_between_threads(
    fake_ado: FakeAdoServer, org: dict[str, int]
) -> None:
    client = make_client(fake_ado, read_timeout=5.0)
    barrier = threading.Barrier(16)

    def work(_: int) -> int:
        barrier.wait()
        return len(client.agents(org["pool"]))

    with ThreadPoolExecutor(max_workers=16) as pool:
        sizes = list(pool.map(work, range(16)))

    assert sizes == [2] * 16
    assert client.requests_made == fake_ado.count("agents") == 16


def test_job_history_includes_finished_jobs(fake_ado):
    pool = fake_ado.add_pool("history")
    agent = fake_ado.register_agent(pool, "adoscale-history-0123456789ab")
    done, waiting = fake_ado.queue_job(pool), fake_ado.queue_job(pool, ["docker"])
    fake_ado.assign_job(done, agent)
    fake_ado.start_job(done)
    fake_ado.finish_job(done)
    client = AdoClient(fake_ado.base_url, fake_ado.pat)

    history = {job.request_id: job for job in client.job_history(pool, top=50)}
    pending = {job.request_id for job in client.job_requests(pool)}

    assert history[done].finished
    assert history[done].result == "succeeded"
    assert history[waiting].waiting
    assert done not in pending
    assert fake_ado.requests[-2].query["$top"] == "50"


def test_agents_report_when_their_last_job_ended(
    fake_ado: FakeAdoServer, client: AdoClient, org: dict[str, int]
) -> None:
    # GIVEN the idle agent ran a job that ended, and the busy agent never finished one
    done = fake_ado.queue_job(org["pool"], [])
    fake_ado.assign_job(done, org["idle"])
    fake_ado.start_job(done)
    fake_ado.finish_job(done)
    finished = fake_ado.job(done)["finishTime"]

    # WHEN the agents are listed (includeLastCompletedRequest=true)
    agents = {agent.agent_id: agent for agent in client.agents(org["pool"])}

    # THEN the reusable agent's idle time counts from its last job's end
    idle = agents[org["idle"]]
    assert idle.last_job_finished is not None
    assert idle.last_job_finished.isoformat().startswith(finished[:19])
    assert idle.idle_since == idle.last_job_finished
    assert agents[org["busy"]].last_job_finished is None
    assert agents[org["busy"]].idle_since == agents[org["busy"]].created_on
    listing = [r for r in fake_ado.requests if r.path.endswith("/agents")]
    query = {key.lower(): value for key, value in listing[-1].query.items()}
    assert query["includelastcompletedrequest"] == "true"
