"""Launching agents of an ec2 profile: RunTask on the profile's capacity provider, in moto.

The cluster gets what the stack declares for an ec2 profile (launch template, Auto Scaling
group, capacity provider, the cluster association) and one registered container
instance, standing in for the instance that managed scaling would start. The launch step's
own functions build the request from the Lambda environment (``ADOSCALE_PROFILE_LAUNCH``),
and botocore validates every RunTask request against the ECS model before moto sees it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from adoscale.aws.ecs import LaunchFailure
from adoscale.core import capacity
from adoscale.core.capacity import ProfileLaunch
from adoscale.core.schema import Queue
from adoscale.core.settings import Settings, load_settings
from adoscale.workflow.reaper import placeholder_launcher
from adoscale.workflow.scale_out import launch_spec
from tests.functional.test_workflow_ecs import record_run_task
from tests.support.workflow import EcsWorld, ecs_world, session_for_tests

PROVIDER = "adoscale-test-docker"
AMI = "ami-12c6146b"


@pytest.fixture
def world() -> Iterator[tuple[EcsWorld, Settings]]:
    """An ECS cluster with FARGATE, FARGATE_SPOT and one EC2 capacity provider."""
    with ecs_world() as w:
        session = session_for_tests()
        ec2, autoscaling = session.client("ec2"), session.client("autoscaling")
        subnet = w.spec.subnets[0]
        template = ec2.create_launch_template(
            LaunchTemplateName="docker",
            LaunchTemplateData={
                "ImageId": AMI,
                "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 1},
            },
        )["LaunchTemplate"]["LaunchTemplateId"]
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName="docker",
            MinSize=0,
            MaxSize=3,
            VPCZoneIdentifier=subnet,
            NewInstancesProtectedFromScaleIn=True,
            MixedInstancesPolicy={
                "LaunchTemplate": {
                    "LaunchTemplateSpecification": {
                        "LaunchTemplateId": template,
                        "Version": "$Default",
                    },
                    "Overrides": [{"InstanceType": "m7i.large"}, {"InstanceType": "m6i.large"}],
                }
            },
        )
        (group,) = autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
        w.ecs.create_capacity_provider(
            name=PROVIDER,
            autoScalingGroupProvider={
                "autoScalingGroupArn": group["AutoScalingGroupARN"],
                "managedScaling": {"status": "ENABLED", "targetCapacity": 100},
                "managedTerminationProtection": "ENABLED",
            },
        )
        w.ecs.put_cluster_capacity_providers(
            cluster="agents",
            capacityProviders=["FARGATE", "FARGATE_SPOT", PROVIDER],
            defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
        )
        (instance,) = ec2.run_instances(
            ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="m7i.large", SubnetId=subnet
        )["Instances"]
        w.ecs.register_container_instance(
            cluster="agents",
            instanceIdentityDocument=json.dumps({"instanceId": instance["InstanceId"]}),
        )
        docker = w.ecs.register_task_definition(
            family="adoscale-test-docker",
            networkMode="awsvpc",
            requiresCompatibilities=["EC2"],
            cpu="1024",
            memory="2048",
            containerDefinitions=[
                {"name": "agent", "image": "agent:1", "memory": 2048, "user": "10001:10001"}
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        settings = load_settings(
            {
                "ADOSCALE_CLUSTER": "agents",
                "ADOSCALE_ORG_URL": "https://dev.azure.com/acme",
                "ADOSCALE_SUBNETS": subnet,
                "ADOSCALE_SECURITY_GROUPS": ",".join(w.spec.security_groups),
                "ADOSCALE_ASSIGN_PUBLIC_IP": "true",
                "ADOSCALE_TASK_DEFINITIONS": json.dumps(
                    {"default": w.spec.task_definition, "docker": docker}
                ),
                "ADOSCALE_PROFILE_LAUNCH": capacity.dumps(
                    {
                        "default": ProfileLaunch(),
                        "docker": ProfileLaunch(PROVIDER, 480, one_per_instance=True),
                    }
                ),
            }
        )
        yield w, settings


def _queue(profile: str, *, spot: bool) -> Queue:
    return Queue(queue="build", pool="linux", max_agents=5, agent_profile=profile, spot=spot)


@pytest.mark.parametrize("spot", [False, True], ids=["on-demand-queue", "spot-queue"])
def test_an_ec2_profile_starts_on_its_capacity_provider_one_per_instance(
    world: tuple[EcsWorld, Settings], spot: bool
) -> None:
    w, settings = world
    calls = record_run_task(w.ecs)
    # WHEN two agents of the ec2 profile are launched
    spec = launch_spec(_queue("docker", spot=spot), settings)
    launched, failed = w.tasks.run_agents(spec, "build", ["adoscale-build-a", "adoscale-build-b"])
    # THEN each is one RunTask on the profile's provider, never with a launch type
    assert failed == []
    assert len(calls) == 2
    for body in calls:
        assert body["capacityProviderStrategy"] == [
            {"capacityProvider": PROVIDER, "weight": 1, "base": 0}
        ]
        assert "launchType" not in body
        assert body["placementConstraints"] == [{"type": "distinctInstance"}]
        # awsvpc tasks on EC2 never get a public address, whatever the stack says for Fargate
        assert body["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"
    # AND ECS reports the tasks on that provider (the queue's spot flag does not apply)
    assert {item.capacity_provider for item in launched} == {PROVIDER}
    described = w.ecs.describe_tasks(cluster="agents", tasks=[i.task_arn for i in launched])
    assert {task["capacityProviderName"] for task in described["tasks"]} == {PROVIDER}
    assert settings.boot_timeout_for("docker") == 480


@pytest.mark.parametrize("spot", [False, True], ids=["on-demand", "spot"])
def test_fargate_profiles_launch_as_before_beside_an_ec2_profile(
    world: tuple[EcsWorld, Settings], spot: bool
) -> None:
    w, settings = world
    calls = record_run_task(w.ecs)
    spec = launch_spec(_queue("default", spot=spot), settings)
    launched, failed = w.tasks.run_agents(spec, "build", ["adoscale-build-c"])
    assert failed == []
    assert [item.capacity_provider for item in launched] == ["FARGATE_SPOT" if spot else "FARGATE"]
    (body,) = calls
    if spot:
        assert body["capacityProviderStrategy"] == [
            {"capacityProvider": "FARGATE_SPOT", "weight": 1}
        ]
        assert "launchType" not in body
    else:
        assert body["launchType"] == "FARGATE"
        assert "capacityProviderStrategy" not in body
    assert "placementConstraints" not in body
    assert body["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "ENABLED"
    assert settings.boot_timeout_for("default") == settings.boot_timeout_seconds


def test_a_refusing_ec2_provider_is_one_failure_with_no_fargate_fallback(
    world: tuple[EcsWorld, Settings],
) -> None:
    w, settings = world

    def refuse(body: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return _Http(200), {
            "tasks": [],
            "failures": [{"reason": "RESOURCE:MEMORY", "detail": "no capacity"}],
        }

    calls = record_run_task(w.ecs, refuse)
    spec = launch_spec(_queue("docker", spot=True), settings)
    launched, failed = w.tasks.run_agents(spec, "build", ["adoscale-build-d"])
    assert launched == []
    assert failed == [LaunchFailure("adoscale-build-d", f"{PROVIDER}: RESOURCE:MEMORY no capacity")]
    assert len(calls) == 1  # no FARGATE_SPOT, no FARGATE: the task definition requires EC2


class _Http:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}


def test_the_placeholder_of_an_ec2_queue_registers_from_fargate_without_an_instance(
    world: tuple[EcsWorld, Settings],
) -> None:
    w, settings = world
    calls = record_run_task(w.ecs)
    # WHEN the reaper launches the placeholder agent of a queue on the ec2 profile
    launch = placeholder_launcher(_queue("docker", spot=True), settings, w.tasks)
    outcome = launch("adoscale-placeholder-build")
    # THEN it runs the default profile's task on Fargate: no instance boots for it
    assert outcome.capacity_provider == "FARGATE"
    (body,) = calls
    assert body["taskDefinition"] == settings.task_definitions["default"]
    assert body["launchType"] == "FARGATE"
    assert "capacityProviderStrategy" not in body
    assert "placementConstraints" not in body
    overrides = {o["name"]: o for o in body["overrides"]["containerOverrides"]}
    assert {"name": "AZP_PLACEHOLDER", "value": "1"} in overrides["agent"]["environment"]
