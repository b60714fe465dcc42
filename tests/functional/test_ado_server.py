"""The fake Azure DevOps server: real response shapes (pinned by fixtures) and real rules."""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from adoscale.local.ado_server import FakeAdoError, FakeAdoServer
from adoscale.local.ado_shapes import iso

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ado"
DEMANDS = ["docker", "Agent.OS -equals Linux", "Agent.Version -gtVersion 2.182.1"]


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def shape(value: Any) -> Any:
    """Keys and value types, recursively; a list is the set of its items' shapes."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        shapes: list[Any] = []
        for item in value:
            if shape(item) not in shapes:
                shapes.append(shape(item))
        return ["list", *sorted(shapes, key=repr)]
    return type(value).__name__


def call(
    server: FakeAdoServer,
    method: str,
    path: str,
    *,
    pat: str | None = None,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> requests.Response:
    token = base64.b64encode(f":{server.pat if pat is None else pat}".encode()).decode()
    sent = {"Authorization": f"Basic {token}", "X-TFS-FedAuthRedirect": "Suppress"}
    sent.update(headers or {})
    return requests.request(
        method,
        f"{server.base_url}/_apis/distributedtask/{path}",
        headers=sent,
        timeout=5,
        allow_redirects=False,
        **kwargs,
    )


@pytest.fixture
def org(fake_ado: FakeAdoServer) -> dict[str, int]:
    """The state the fixtures describe: a busy agent, an idle one with a finished job,
    an offline placeholder, a running job and a waiting one."""
    pool = fake_ado.add_pool("linux-docker")
    fake_ado.add_pool("windows")
    caps = {"docker": ""}
    busy = fake_ado.register_agent(pool, "adoscale-linux-docker-5e1f0a9c2b7d", capabilities=caps)
    idle = fake_ado.register_agent(pool, "adoscale-linux-docker-9f8e7d6c5b4a", capabilities=caps)
    placeholder = fake_ado.register_agent(
        pool, "adoscale-placeholder-linux-docker", online=False, capabilities=caps
    )
    finished = fake_ado.queue_job(pool, ["docker", "Agent.Version -gtVersion 2.182.1"])
    fake_ado.assign_job(finished, idle)
    fake_ado.start_job(finished)
    fake_ado.finish_job(finished)
    running = fake_ado.queue_job(pool, ["docker", "Agent.Version -gtVersion 2.182.1"])
    fake_ado.assign_job(running, busy)
    fake_ado.start_job(running)
    waiting = fake_ado.queue_job(pool, DEMANDS)
    return {
        "pool": pool,
        "busy": busy,
        "idle": idle,
        "placeholder": placeholder,
        "finished": finished,
        "running": running,
        "waiting": waiting,
    }


SHAPES = [
    ("pools.json", "GET", "pools?api-version=7.1", 200),
    (
        "jobrequests.json",
        "GET",
        "pools/{pool}/jobrequests?completedRequestCount=0&api-version=7.1-preview.1",
        200,
    ),
    ("jobrequests_top.json", "GET", "pools/{pool}/jobrequests?$top=10", 200),
    (
        "agents.json",
        "GET",
        "pools/{pool}/agents?includeAssignedRequest=true&includeLastCompletedRequest=true",
        200,
    ),
    ("resourcelimits.json", "GET", "resourcelimits?api-version=7.1-preview.1", 200),
    (
        "resourceusage.json",
        "GET",
        "resourceusage?parallelismTag=Private&poolIsHosted=false&api-version=7.1-preview.1",
        200,
    ),
    ("error_agent_busy.json", "DELETE", "pools/{pool}/agents/{busy}?api-version=7.1", 400),
    ("error_pool_not_found.json", "GET", "pools/4242/jobrequests", 404),
    ("error_agent_not_found.json", "GET", "pools/{pool}/agents/4242", 404),
]


@pytest.mark.parametrize(
    ("name", "method", "path", "status"), SHAPES, ids=[s[0].removesuffix(".json") for s in SHAPES]
)
def test_fake_answers_with_the_fixture_shapes(
    fake_ado: FakeAdoServer, org: dict[str, int], name: str, method: str, path: str, status: int
) -> None:
    response = call(fake_ado, method, path.format(**org))

    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json")
    assert shape(response.json()) == shape(fixture(name))


def test_single_agent_has_the_fixture_shape(fake_ado: FakeAdoServer, org: dict[str, int]) -> None:
    fake_ado.set_agent_status(org["idle"], enabled=False)

    response = call(fake_ado, "GET", f"pools/{org['pool']}/agents/{org['idle']}")

    assert shape(response.json()) == shape(fixture("agent.json"))


@pytest.mark.parametrize(
    ("failure", "status", "fixture_name"),
    [("401", 401, "error_401.json"), ("203", 203, "signin_203.html")],
    ids=["401-json", "203-html"],
)
def test_wrong_pat_is_refused_like_azure_devops(
    fake_ado: FakeAdoServer, failure: str, status: int, fixture_name: str
) -> None:
    fake_ado.auth_failure = failure

    response = call(fake_ado, "GET", "pools", pat="wrong")

    assert response.status_code == status
    if fixture_name.endswith(".json"):
        assert shape(response.json()) == shape(fixture(fixture_name))
        assert "Basic" in response.headers["WWW-Authenticate"]
    else:
        assert response.headers["Content-Type"].startswith("text/html")
        assert response.text == (FIXTURES / fixture_name).read_text()


def test_without_the_suppress_header_a_bad_pat_is_redirected(fake_ado: FakeAdoServer) -> None:
    response = call(fake_ado, "GET", "pools", pat="wrong", headers={"X-TFS-FedAuthRedirect": ""})

    assert response.status_code == 302
    assert "_signin" in response.headers["Location"]


def test_timestamps_are_iso_with_z(fake_ado: FakeAdoServer, org: dict[str, int]) -> None:
    jobs = call(fake_ado, "GET", f"pools/{org['pool']}/jobrequests").json()["value"]

    times = [job[key] for job in jobs for key in job if key.endswith("Time")]
    assert times
    assert all(t.endswith("Z") and "+" not in t for t in times)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2024-09-28T11:20:29.503333+00:00", "2024-09-28T11:20:29.503333Z"),
        ("2024-09-28T11:19:49.890000+00:00", "2024-09-28T11:19:49.89Z"),
        ("2024-09-28T11:19:49+00:00", "2024-09-28T11:19:49Z"),
    ],
    ids=["micro", "trimmed", "whole-second"],
)
def test_iso_format_matches_dotnet(moment: str, expected: str) -> None:
    from datetime import datetime

    assert iso(datetime.fromisoformat(moment)) == expected


def test_pending_jobs_only_unless_top(fake_ado: FakeAdoServer, org: dict[str, int]) -> None:
    pending = call(fake_ado, "GET", f"pools/{org['pool']}/jobrequests?completedRequestCount=0")
    top = call(fake_ado, "GET", f"pools/{org['pool']}/jobrequests?$top=50")

    pending_ids = [job["requestId"] for job in pending.json()["value"]]
    top_jobs = top.json()["value"]
    assert pending_ids == [org["running"], org["waiting"]]
    assert [job["requestId"] for job in top_jobs] == [
        org["finished"],
        org["running"],
        org["waiting"],
    ]
    assert all("matchedAgents" not in job for job in top_jobs)
    waiting = pending.json()["value"][1]
    assert [a["id"] for a in waiting["matchedAgents"]] == [
        org["busy"],
        org["idle"],
        org["placeholder"],
    ]


@pytest.mark.parametrize(
    "path",
    [
        "pools/{pool}/jobrequests?api-version=7.1",
        "resourceusage?api-version=7.1",
        "resourcelimits?api-version=7.1",
    ],
    ids=["jobrequests", "resourceusage", "resourcelimits"],
)
def test_preview_endpoints_need_the_preview_flag(
    fake_ado: FakeAdoServer, org: dict[str, int], path: str
) -> None:
    response = call(fake_ado, "GET", path.format(**org))

    assert response.status_code == 400
    assert response.json()["typeKey"] == "VssInvalidPreviewVersionException"


def test_patch_and_delete_follow_the_service_rules(
    fake_ado: FakeAdoServer, org: dict[str, int]
) -> None:
    base = f"pools/{org['pool']}/agents"
    mismatched = call(fake_ado, "PATCH", f"{base}/{org['idle']}", json={"id": 1, "enabled": 0})
    disabled = call(
        fake_ado, "PATCH", f"{base}/{org['idle']}", json={"id": org["idle"], "enabled": False}
    )
    deleted = call(fake_ado, "DELETE", f"{base}/{org['idle']}")
    gone = call(fake_ado, "DELETE", f"{base}/{org['idle']}")

    assert mismatched.status_code == 400
    assert disabled.status_code == 200
    assert disabled.json()["enabled"] is False
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert gone.status_code == 404
    assert fake_ado.agent(org["idle"]) is None


def test_post_registers_an_agent_once(fake_ado: FakeAdoServer, org: dict[str, int]) -> None:
    body = {"name": "adoscale-linux-docker-000000000001", "version": "4.255.0"}

    first = call(fake_ado, "POST", f"pools/{org['pool']}/agents", json=body)
    second = call(fake_ado, "POST", f"pools/{org['pool']}/agents", json=body)

    assert first.status_code == 200
    assert first.json()["status"] == "offline"  # registered, not yet running
    assert second.status_code == 409
    assert second.json()["typeKey"] == "TaskAgentExistsException"


def test_dispatcher_gives_jobs_to_idle_matching_agents(fake_ado: FakeAdoServer) -> None:
    # GIVEN agents unable to take a docker job (busy, offline, disabled, no docker), one able
    pool = fake_ado.add_pool("p")
    blocker = fake_ado.queue_job(pool)
    busy = fake_ado.register_agent(pool, "busy", capabilities={"docker": ""})
    fake_ado.assign_job(blocker, busy)
    fake_ado.register_agent(pool, "offline", online=False, capabilities={"docker": ""})
    fake_ado.register_agent(pool, "disabled", enabled=False, capabilities={"docker": ""})
    fake_ado.register_agent(pool, "plain")
    able = fake_ado.register_agent(pool, "able", capabilities={"Docker": "1"})
    # WHEN the dispatcher runs with a docker job and a java job waiting
    fake_ado.dispatcher = True
    docker_job = fake_ado.queue_job(pool, ["docker", "Agent.Version -gtVersion 9.9.9"])
    java_job = fake_ado.queue_job(pool, ["java"])
    # THEN only the able agent took the docker job; the java job still waits
    assert fake_ado.job(docker_job)["reservedAgent"]["id"] == able
    assert fake_ado.agent(able)["assignedRequest"]["requestId"] == docker_job  # type: ignore[index]
    assert "reservedAgent" not in fake_ado.job(java_job)


def test_dispatcher_reassigns_when_an_agent_frees_up(fake_ado: FakeAdoServer) -> None:
    fake_ado.dispatcher = True
    pool = fake_ado.add_pool("p")
    agent = fake_ado.register_agent(pool, "a")
    first, second = fake_ado.queue_job(pool), fake_ado.queue_job(pool)

    fake_ado.finish_job(first)

    assert fake_ado.job(first)["result"] == "succeeded"
    assert fake_ado.job(second)["reservedAgent"]["id"] == agent
    assert fake_ado.agent(agent)["lastCompletedRequest"]["requestId"] == first  # type: ignore[index]


def test_jobs_nobody_could_run_fail_at_once_when_asked(fake_ado: FakeAdoServer) -> None:
    fake_ado.fail_unmatched_jobs = True
    pool = fake_ado.add_pool("p")
    fake_ado.register_agent(pool, "placeholder", online=False, capabilities={"docker": ""})

    unmatched = fake_ado.queue_job(pool, ["gpu"])
    matched = fake_ado.queue_job(pool, ["docker"])

    assert fake_ado.job(unmatched)["result"] == "failed"
    assert "result" not in fake_ado.job(matched)


def test_remove_agent_refuses_a_busy_agent_unless_forced(fake_ado: FakeAdoServer) -> None:
    pool = fake_ado.add_pool("p")
    agent = fake_ado.register_agent(pool, "a")
    job = fake_ado.queue_job(pool)
    fake_ado.assign_job(job, agent)

    with pytest.raises(FakeAdoError, match="running a job"):
        fake_ado.remove_agent(agent)
    fake_ado.remove_agent(agent, force=True)

    assert fake_ado.agent(agent) is None
    assert fake_ado.job(job)["result"] == "abandoned"


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (lambda ado, ids: ado.queue_job("nope"), "no pool"),
        (lambda ado, ids: ado.assign_job(ids["running"], ids["idle"]), "not waiting"),
        (lambda ado, ids: ado.start_job(ids["waiting"]), "not assigned"),
        (lambda ado, ids: ado.finish_job(ids["finished"]), "already finished"),
        (lambda ado, ids: ado.add_pool("LINUX-docker"), "already exists"),
        (
            lambda ado, ids: ado.register_agent(ids["pool"], "ADOSCALE-placeholder-linux-docker"),
            "already contains",
        ),
    ],
    ids=["unknown-pool", "assign-taken", "start-waiting", "finish-twice", "dup-pool", "dup-agent"],
)
def test_state_api_rejects_impossible_transitions(
    fake_ado: FakeAdoServer, org: dict[str, int], action: Any, message: str
) -> None:
    with pytest.raises(FakeAdoError, match=message):
        action(fake_ado, org)


def test_faults_match_kind_or_path_and_run_out(
    fake_ado: FakeAdoServer, org: dict[str, int]
) -> None:
    fake_ado.inject(r"/agents/\d+$", "status_500", times=2)
    fake_ado.inject("pools", "unknown_pool", times=1)

    statuses = [
        call(fake_ado, "GET", f"pools/{org['pool']}/agents/{org['idle']}").status_code
        for _ in range(3)
    ]
    listings = [len(call(fake_ado, "GET", "pools").json()["value"]) for _ in range(2)]

    assert statuses == [500, 500, 200]
    assert listings == [0, 2]
    assert fake_ado.count("agent", status=500) == 2
    assert fake_ado.counts() == {"agent": 3, "pools": 2}
    assert [r.fault for r in fake_ado.requests[:2]] == ["status_500", "status_500"]


def test_inject_rejects_unknown_modes(fake_ado: FakeAdoServer) -> None:
    with pytest.raises(ValueError, match="mode: unknown 'teapot'"):
        fake_ado.inject("*", "teapot")


def test_clock_can_be_compressed(fake_ado: FakeAdoServer) -> None:
    from datetime import UTC, datetime, timedelta

    start = datetime(2030, 1, 1, tzinfo=UTC)
    offset = [timedelta(0)]
    fake_ado.now = lambda: start + offset[0]
    pool = fake_ado.add_pool("p")
    job = fake_ado.queue_job(pool)
    offset[0] = timedelta(hours=3)
    agent = fake_ado.register_agent(pool, "a")
    fake_ado.assign_job(job, agent)

    assert fake_ado.job(job)["queueTime"] == "2030-01-01T00:00:00Z"
    assert fake_ado.job(job)["assignTime"] == "2030-01-01T03:00:00Z"


def test_requests_are_served_concurrently_with_latency(fake_ado: FakeAdoServer) -> None:
    # GIVEN 100 ms per request, as in the benchmark
    fake_ado.latency_seconds = 0.1
    pool = fake_ado.add_pool("p")
    session = requests.Session()
    token = base64.b64encode(f":{fake_ado.pat}".encode()).decode()
    session.headers["Authorization"] = f"Basic {token}"
    url = f"{fake_ado.base_url}/_apis/distributedtask/pools/{pool}/agents"
    started = time.monotonic()

    # WHEN 64 requests arrive from 32 threads
    with ThreadPoolExecutor(max_workers=32) as workers:
        statuses = list(workers.map(lambda _: session.get(url, timeout=5).status_code, range(64)))

    # THEN they overlap: two rounds of 100 ms, far from 6.4 s in series
    elapsed = time.monotonic() - started
    assert statuses == [200] * 64
    assert 0.2 <= elapsed < 1.5
