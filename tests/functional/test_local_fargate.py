"""The local Fargate stand-in and simulated organisation: moto ECS in process, the fake
Azure DevOps' state API, and a clock the test moves by hand."""

from __future__ import annotations

from dataclasses import replace

import pytest
import requests

from adoscale.local.clock import SimClock
from adoscale.local.fargate import LocalFargate
from adoscale.local.organisation import SimulatedOrganisation
from adoscale.local.scenario import load_scenario, parse_scenario
from adoscale.workflow.scale_out import agent_environment
from tests.support.workflow import ecs_world

BOOT = 30.0
SCENARIO = """\
name: unit
boot_delay: 30s
queues:
  - {queue: ci, pool: Build, max_agents: 4, capabilities: {docker: ""}}
jobs:
  - {kind: burst, at: 1m, count: 2, duration: 2m, demands: [docker]}
faults:
  - {from: 2m, to: 3m, target: jobrequests, mode: status_500}
"""


class Hand:
    """A monotonic clock that moves only when told (speed 1: simulated = real seconds)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world(monkeypatch):
    for name, value in (("AWS_ACCESS_KEY_ID", "t"), ("AWS_SECRET_ACCESS_KEY", "t")):
        monkeypatch.setenv(name, value)
    with ecs_world() as cluster:
        scenario = parse_scenario(SCENARIO, "unit.yaml")
        hand = Hand()
        clock = SimClock(1.0, monotonic=hand)
        org = SimulatedOrganisation(scenario, clock).start()
        queue = scenario.queues[0]
        fargate = LocalFargate(
            cluster.ecs, "agents", org, clock, {queue.queue: queue}, boot_delay=lambda: BOOT
        )

        def launch(name: str, *, placeholder: bool = False) -> str:
            environment = agent_environment(queue, placeholder=placeholder)
            spec = replace(cluster.spec, environment=environment)
            return cluster.tasks.run_agent(spec, queue.queue, name, placeholder).task_arn

        yield {
            "ecs": cluster.ecs,
            "org": org,
            "ado": org.ado,
            "fargate": fargate,
            "hand": hand,
            "launch": launch,
            "cluster": cluster,
            "queue": queue,
        }
        org.stop()


def at(world, seconds: float) -> None:
    world["hand"].now = seconds
    world["fargate"].tick()


def with_placeholder(ado) -> None:
    """Without any agent that meets its demands, Azure DevOps fails a job at once."""
    ado.register_agent(
        "Build", "adoscale-placeholder-ci", online=False, capabilities={"docker": ""}
    )


def agents(ado) -> list[dict]:
    return [a for a in ado.agents("Build") if a["name"] != "adoscale-placeholder-ci"]


def task_status(world, arn: str) -> tuple[str, str]:
    task = world["ecs"].describe_tasks(cluster="agents", tasks=[arn])["tasks"][0]
    return task["desiredStatus"], task.get("stoppedReason", "")


def test_a_task_boots_registers_runs_one_job_then_leaves_and_its_task_stops(world):
    # GIVEN a waiting job that demands docker, and a task launched for the docker queue
    ado = world["ado"]
    with_placeholder(ado)
    first = ado.queue_job("Build", ["docker"])
    second = ado.queue_job("Build", ["docker"])
    arn = world["launch"]("adoscale-ci-00000000000a")

    # WHEN time passes: boot, then the job's duration (60 s: the default of unknown jobs)
    at(world, 0)
    assert agents(ado) == []
    at(world, BOOT - 1)
    assert agents(ado) == []
    at(world, BOOT)
    (agent,) = agents(ado)
    assert agent["name"] == "adoscale-ci-00000000000a"
    assert agent["systemCapabilities"]["docker"] == ""
    assert ado.job(first)["receiveTime"]
    at(world, BOOT + 59)
    assert "result" not in ado.job(first)
    at(world, BOOT + 60)

    # THEN the job succeeded, the agent left the pool, its task stopped, and it never
    # took the second job (one job per agent)
    assert ado.job(first)["result"] == "succeeded"
    assert agents(ado) == []
    assert "reservedAgent" not in ado.job(second)
    desired, reason = task_status(world, arn)
    assert desired == "STOPPED"
    assert "Essential container in task exited" in reason
    assert world["fargate"].stats.busy_stops == []
    assert world["fargate"].agent_seconds(until=1000) == BOOT + 60


def test_stopping_the_task_of_a_busy_agent_is_recorded_and_the_job_is_lost(world):
    # GIVEN an agent running a job
    ado = world["ado"]
    with_placeholder(ado)
    job = ado.queue_job("Build", ["docker"])
    arn = world["launch"]("adoscale-ci-00000000000b")
    at(world, 0)
    at(world, BOOT)
    assert ado.job(job)["reservedAgent"]["name"] == "adoscale-ci-00000000000b"

    # WHEN the control plane stops its task
    world["ecs"].stop_task(cluster="agents", task=arn, reason="scale-in")
    at(world, BOOT + 5)

    # THEN that is a busy agent stopped, the job is cancelled and the agent offline
    (stop,) = world["fargate"].stats.busy_stops
    assert (stop.agent, stop.queue, stop.job_id, stop.at) == (
        "adoscale-ci-00000000000b",
        "ci",
        job,
        BOOT + 5,
    )
    assert ado.job(job)["result"] == "canceled"
    (agent,) = agents(ado)
    assert agent["status"] == "offline"


def test_stopping_an_idle_agent_leaves_it_offline_for_the_reaper(world):
    ado = world["ado"]
    arn = world["launch"]("adoscale-ci-00000000000c")
    at(world, 0)
    at(world, BOOT)

    world["ecs"].stop_task(cluster="agents", task=arn, reason="stale")
    at(world, BOOT + 1)

    assert world["fargate"].stats.busy_stops == []
    assert world["fargate"].stats.idle_kills == 1
    (agent,) = ado.agents("Build")
    assert agent["status"] == "offline"


def test_an_agent_deleted_in_azure_devops_exits_and_its_task_stops(world):
    # GIVEN an idle agent WHEN scale-in deletes it in Azure DevOps (before any StopTask)
    ado = world["ado"]
    arn = world["launch"]("adoscale-ci-00000000000d")
    at(world, 0)
    at(world, BOOT)
    ado.remove_agent(ado.agents("Build")[0]["id"])
    at(world, BOOT + 1)

    # THEN the container exits on its own: no busy agent, no offline leftover
    assert task_status(world, arn)[0] == "STOPPED"
    assert world["fargate"].stats.busy_stops == []
    assert world["fargate"].stats.idle_kills == 0


def test_a_placeholder_task_registers_an_offline_agent_and_exits(world):
    ado = world["ado"]
    arn = world["launch"]("adoscale-placeholder-ci", placeholder=True)
    at(world, 0)
    at(world, BOOT)

    (agent,) = ado.agents("Build")
    assert (agent["name"], agent["status"]) == ("adoscale-placeholder-ci", "offline")
    assert agent["systemCapabilities"]["docker"] == ""
    assert task_status(world, arn)[0] == "STOPPED"

    # a second placeholder task replaces the registration (config.sh --replace)
    world["launch"]("adoscale-placeholder-ci", placeholder=True)
    at(world, BOOT + 1)
    at(world, 2 * BOOT + 1)
    assert [a["name"] for a in ado.agents("Build")] == ["adoscale-placeholder-ci"]
    assert world["fargate"].stats.registration_errors == []


def test_jobs_and_faults_follow_the_scenario_from_its_time_zero(world):
    # GIVEN the unit scenario (2 jobs at 1m, ADO failing job listings from 2m to 3m)
    org, ado = world["org"], world["ado"]
    url = f"{ado.base_url}/_apis/distributedtask/pools/1/jobrequests"
    auth = ("", org.pat)

    # WHEN time passes before and after the scenario begins
    org.tick(500)
    assert ado.jobs("Build") == []  # not begun: the fleet is still warming up
    org.begin(100)
    org.tick(159)
    assert ado.jobs("Build") == []
    org.tick(160)
    queued = ado.jobs("Build")
    org.tick(220)
    during = requests.get(url, auth=auth, params={"api-version": "7.1-preview.1"}, timeout=5)
    org.tick(280)
    after = requests.get(url, auth=auth, params={"api-version": "7.1-preview.1"}, timeout=5)

    # THEN jobs arrive at begin + 1m and the fault window opens and closes on time
    assert len(queued) == 2
    assert {job["demands"][0] for job in queued} == {"docker"}
    assert during.status_code == 500
    assert after.status_code == 200
    assert org.faults_active() == []
    assert [text for _, text in org.fault_log] == [
        "fault on: jobrequests status_500",
        "fault off: jobrequests status_500",
    ]
    assert {o.queued_at for o in org.outcomes()} == {160.0}


def test_the_bundled_default_scenario_loads():
    loaded = load_scenario()

    assert loaded.name == "default"
    assert {q.queue for q in loaded.queues} == {"linux", "linux-docker"}
    assert len(loaded.jobs) == 15
    assert loaded.speed == 20


@pytest.mark.parametrize("max_jobs", [2, 3, 5])
def test_a_reusable_agent_runs_up_to_its_jobs_then_leaves(world, max_jobs):
    # GIVEN more waiting jobs than one agent may run, and a task launched for a queue
    # whose agents may run max_jobs jobs each (AZP_MAX_JOBS in the RunTask override)
    ado, cluster = world["ado"], world["cluster"]
    with_placeholder(ado)
    jobs = [ado.queue_job("Build", ["docker"]) for _ in range(max_jobs + 1)]
    reusable = replace(world["queue"], max_jobs_per_agent=max_jobs)
    spec = replace(cluster.spec, environment=agent_environment(reusable))
    arn = cluster.tasks.run_agent(spec, reusable.queue, "adoscale-ci-00000000000b", False).task_arn

    # WHEN it boots and runs one job after the other (60 s each)
    at(world, 0)
    at(world, BOOT)
    for done in range(1, max_jobs):
        at(world, BOOT + 60 * done)
        # THEN after each job but the last it stays registered, with its task running,
        # and takes the next job at once
        (agent,) = agents(ado)
        assert agent["status"] == "online"
        assert agent["assignedRequest"]["requestId"] == jobs[done]
        assert ado.job(jobs[done - 1])["result"] == "succeeded"
        assert task_status(world, arn)[0] == "RUNNING"
    at(world, BOOT + 60 * max_jobs)

    # AND after its last job it leaves; the job beyond its share was never its own
    assert ado.job(jobs[max_jobs - 1])["result"] == "succeeded"
    assert agents(ado) == []
    assert "reservedAgent" not in ado.job(jobs[max_jobs])
    assert task_status(world, arn)[0] == "STOPPED"
    assert world["fargate"].agents[arn].jobs_run == max_jobs


def test_an_idle_reusable_agent_waits_registered_for_its_next_job(world):
    ado, cluster = world["ado"], world["cluster"]
    with_placeholder(ado)
    first = ado.queue_job("Build", ["docker"])
    reusable = replace(world["queue"], max_jobs_per_agent=4)
    spec = replace(cluster.spec, environment=agent_environment(reusable))
    arn = cluster.tasks.run_agent(spec, reusable.queue, "adoscale-ci-00000000000c", False).task_arn
    at(world, 0)
    at(world, BOOT)
    at(world, BOOT + 60)
    assert ado.job(first)["result"] == "succeeded"

    # WHEN nothing waits for a while, then a job comes
    at(world, BOOT + 600)
    (agent,) = agents(ado)
    assert "assignedRequest" not in agent
    assert agent["lastCompletedRequest"]["requestId"] == first
    later = ado.queue_job("Build", ["docker"])
    at(world, BOOT + 601)

    # THEN the same agent takes it
    assert ado.job(later)["reservedAgent"]["name"] == "adoscale-ci-00000000000c"
    assert task_status(world, arn)[0] == "RUNNING"
