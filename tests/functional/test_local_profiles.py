"""Local mode: each agent profile of a scenario starts up in its own time (an ec2 profile
boots an instance first), through the real launch path into moto and the Fargate stand-in."""

from __future__ import annotations

from dataclasses import replace

import pytest

from adoscale.core.exceptions import InputError
from adoscale.local.clock import SimClock
from adoscale.local.fargate import BOOTING, LocalFargate
from adoscale.local.organisation import SimulatedOrganisation
from adoscale.local.scenario import parse_scenario
from adoscale.workflow.scale_out import agent_environment
from tests.functional.test_local_fargate import Hand
from tests.support.workflow import ecs_world

SCENARIO = """\
name: profiles
boot_delay: 30s
profiles:
  docker: {boot_delay: 3m30s}
queues:
  - {queue: ci, pool: Build, max_agents: 4}
  - {queue: img, pool: Images, max_agents: 4, agent_profile: docker}
"""


def test_agents_boot_for_their_profiles_start_up(monkeypatch) -> None:
    for name, value in (("AWS_ACCESS_KEY_ID", "t"), ("AWS_SECRET_ACCESS_KEY", "t")):
        monkeypatch.setenv(name, value)
    scenario = parse_scenario(SCENARIO, "profiles.yaml")
    assert scenario.profiles == {"docker": (210.0, 210.0)}
    with ecs_world() as cluster:
        hand = Hand()
        clock = SimClock(1.0, monotonic=hand)
        org = SimulatedOrganisation(scenario, clock).start()
        try:
            queues = {queue.queue: queue for queue in scenario.queues}
            fargate = LocalFargate(cluster.ecs, "agents", org, clock, queues)
            # GIVEN one agent launched for each queue at the same moment
            for queue in scenario.queues:
                spec = replace(cluster.spec, environment=agent_environment(queue))
                cluster.tasks.run_agent(spec, queue.queue, f"adoscale-{queue.queue}-000000000001")
            fargate.tick()
            by_queue = {agent.queue: agent for agent in fargate.agents.values()}
            # THEN the default profile's agent boots in 30 s, the ec2-like one in 210 s
            assert by_queue["ci"].boot_at == 30.0
            assert by_queue["img"].boot_at == 210.0
            hand.now = 60.0
            fargate.tick()
            assert by_queue["ci"].state != BOOTING
            assert by_queue["img"].state == BOOTING
            assert fargate.starting("img") == 1
            hand.now = 210.0
            fargate.tick()
            assert by_queue["img"].state != BOOTING
        finally:
            org.stop()


def test_a_queue_on_a_profile_the_scenario_does_not_know_is_refused() -> None:
    text = SCENARIO.replace("agent_profile: docker", "agent_profile: gpu")
    with pytest.raises(InputError) as caught:
        parse_scenario(text, "profiles.yaml")
    assert caught.value.problems == [
        "profiles.yaml: queues: img: agent_profile: 'gpu' is not default nor one of the "
        "scenario's profiles"
    ]


def test_a_bad_profile_boot_delay_names_the_field() -> None:
    text = SCENARIO.replace("{boot_delay: 3m30s}", "{boot_delay: soon}")
    with pytest.raises(InputError) as caught:
        parse_scenario(text, "profiles.yaml")
    (line,) = caught.value.problems
    assert "profiles" in line
    assert "docker" in line
    assert "boot_delay" in line
