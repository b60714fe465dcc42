"""Agent profiles on EC2 capacity: what a stack with one fargate and one ec2 profile declares.

Besides the declared inputs, every create request is rebuilt the way the provider sends it
to AWS and checked against botocore's service models (member names, types, required
members, ranges and enum values), so a misspelt or misplaced argument fails here rather
than at ``pulumi up``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import botocore.session
import pytest
from botocore.model import Shape
from botocore.validate import ParamValidator

from adoscale.core import capacity
from adoscale.core.settings import load_settings
from components.config import StackConfigError, is_graviton
from components.ec2_capacity import AMI_PARAMETERS
from tests.infra.conftest import (
    ACCOUNT,
    EC2_PROFILE,
    ProgramRun,
    Registered,
    cached_run,
    config_values,
    run_program,
)
from tests.infra.test_security import role_statements

BUILDER = {
    "name": "builder",
    "capacity": "ec2",
    "cpu": 1024,
    "memory": 3072,
    "architecture": "ARM64",
    "instanceTypes": ["c7g.large", "m7g.large"],
    "rootVolumeGib": 40,
}
# The target: one fargate profile (default) and one ec2 profile, plus the shared
# FULL scenario's docker profile.
MIXED = {"adoscale:agentProfiles": [{"name": "default"}, BUILDER]}
EC2_PROFILES = {"builder": BUILDER, "docker": EC2_PROFILE}
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
GROUP = "aws:autoscaling/group:Group"
PROVIDER = "aws:ecs/capacityProvider:CapacityProvider"
ASSOCIATION = "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders"
LAMBDAS = ["workflow-launch", "workflow-verify", "workflow-reap", "poller"]


@pytest.fixture(scope="module", params=["mixed", "full"])
def run(request: pytest.FixtureRequest) -> ProgramRun:
    from tests.infra.conftest import SCENARIOS

    return cached_run(MIXED if request.param == "mixed" else SCENARIOS["nat"])


def ec2_profiles(run: ProgramRun) -> list[dict[str, Any]]:
    return [
        {**profile, **EC2_PROFILES[profile["name"]]}
        for profile in run.setting("agentProfiles", [])
        if profile.get("capacity") == "ec2"
    ]


def _of_profile(run: ProgramRun, typ: str, profile: str) -> Registered:
    return run.named(f"agents-ec2-{profile}", typ.rsplit(":", 1)[-1])


# --- botocore's models ----------------------------------------------------------------------

_SESSION = botocore.session.get_session()


def _enum_errors(value: Any, shape: Shape, path: str) -> list[str]:
    """ParamValidator checks types and names; this adds the enums it leaves out."""
    errors = []
    if shape.type_name == "string" and shape.enum and value not in shape.enum:
        errors.append(f"{path}: {value!r} not in {shape.enum}")
    elif shape.type_name == "structure" and isinstance(value, dict):
        for key, item in value.items():
            if key in shape.members:
                errors += _enum_errors(item, shape.members[key], f"{path}.{key}")
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            errors += _enum_errors(item, shape.member, f"{path}[{index}]")
    return errors


def _whole_numbers(value: Any) -> Any:
    """Pulumi's RPC carries every number as a float; the provider sends integers as such."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    return value


def validate_request(service: str, operation: str, params: dict[str, Any]) -> None:
    params = _whole_numbers(params)
    shape = _SESSION.get_service_model(service).operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    problems = [report.generate_report()] if report.has_errors() else []
    problems += _enum_errors(params, shape, operation)
    assert not problems, "\n".join(problems)


def _tag_list(tags: dict[str, str], key: str = "Key", value: str = "Value") -> list[dict]:
    return [{key: k, value: v} for k, v in sorted(tags.items())]


def launch_template_request(template: dict[str, Any]) -> dict[str, Any]:
    """ec2:CreateLaunchTemplate as the provider builds it from the resource's inputs."""
    (device,) = template["blockDeviceMappings"]
    ebs = device["ebs"]
    return {
        "LaunchTemplateName": "t",
        "TagSpecifications": [
            {"ResourceType": "launch-template", "Tags": _tag_list(template["tags"])}
        ],
        "LaunchTemplateData": {
            "ImageId": template["imageId"],
            "IamInstanceProfile": {"Arn": template["iamInstanceProfile"]["arn"]},
            "SecurityGroupIds": template["vpcSecurityGroupIds"],
            "UserData": template["userData"],
            "Monitoring": {"Enabled": template["monitoring"]["enabled"]},
            "MetadataOptions": {
                "HttpEndpoint": template["metadataOptions"]["httpEndpoint"],
                "HttpTokens": template["metadataOptions"]["httpTokens"],
                "HttpPutResponseHopLimit": template["metadataOptions"]["httpPutResponseHopLimit"],
                "InstanceMetadataTags": template["metadataOptions"]["instanceMetadataTags"],
            },
            "BlockDeviceMappings": [
                {
                    "DeviceName": device["deviceName"],
                    "Ebs": {
                        "VolumeSize": ebs["volumeSize"],
                        "VolumeType": ebs["volumeType"],
                        "Encrypted": ebs["encrypted"],
                        "DeleteOnTermination": ebs["deleteOnTermination"],
                    },
                }
            ],
            "TagSpecifications": [
                {"ResourceType": spec["resourceType"], "Tags": _tag_list(spec["tags"])}
                for spec in template["tagSpecifications"]
            ],
        },
    }


def group_request(group: dict[str, Any], template_id: str) -> dict[str, Any]:
    """autoscaling:CreateAutoScalingGroup as the provider builds it."""
    policy = group["mixedInstancesPolicy"]
    spec = policy["launchTemplate"]["launchTemplateSpecification"]
    distribution = policy["instancesDistribution"]
    return {
        "AutoScalingGroupName": "g",
        "MinSize": group["minSize"],
        "MaxSize": group["maxSize"],
        "VPCZoneIdentifier": ",".join(group["vpcZoneIdentifiers"]),
        "NewInstancesProtectedFromScaleIn": group["protectFromScaleIn"],
        "CapacityRebalance": group["capacityRebalance"],
        "MixedInstancesPolicy": {
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {
                    "LaunchTemplateId": template_id,
                    "Version": spec["version"],
                },
                "Overrides": [
                    {"InstanceType": item["instanceType"]}
                    for item in policy["launchTemplate"]["overrides"]
                ],
            },
            "InstancesDistribution": {
                "OnDemandBaseCapacity": distribution["onDemandBaseCapacity"],
                "OnDemandPercentageAboveBaseCapacity": distribution[
                    "onDemandPercentageAboveBaseCapacity"
                ],
                "OnDemandAllocationStrategy": distribution["onDemandAllocationStrategy"],
                "SpotAllocationStrategy": distribution["spotAllocationStrategy"],
            },
        },
        "Tags": [
            {
                "Key": tag["key"],
                "Value": tag["value"],
                "PropagateAtLaunch": tag["propagateAtLaunch"],
                "ResourceId": "g",
                "ResourceType": "auto-scaling-group",
            }
            for tag in group["tags"]
        ],
    }


def task_definition_request(definition: dict[str, Any]) -> dict[str, Any]:
    """ecs:RegisterTaskDefinition (the ECS API is camelCase like the inputs)."""
    request = {
        key: definition[key]
        for key in (
            "family",
            "networkMode",
            "requiresCompatibilities",
            "cpu",
            "memory",
            "executionRoleArn",
            "taskRoleArn",
            "runtimePlatform",
        )
        if key in definition
    }
    if "ephemeralStorage" in definition:  # the provider's sizeInGib is the API's sizeInGiB
        request["ephemeralStorage"] = {"sizeInGiB": definition["ephemeralStorage"]["sizeInGib"]}
    request["containerDefinitions"] = json.loads(definition["containerDefinitions"])
    request["tags"] = _tag_list(definition["tags"], "key", "value")
    if definition.get("volumes"):
        request["volumes"] = [
            {"name": volume["name"], "host": {"sourcePath": volume["hostPath"]}}
            if "hostPath" in volume
            else {"name": volume["name"]}  # task-scoped (the PAT hand-over)
            for volume in definition["volumes"]
        ]
    return request


# --- the launch template ----------------------------------------------------------------------


def test_launch_template_requires_imdsv2_hop_1_encrypted_root_and_no_key(run: ProgramRun) -> None:
    (cluster,) = run.of_type("aws:ecs/cluster:Cluster")
    (instance_profile,) = run.of_type("aws:iam/instanceProfile:InstanceProfile")
    profiles = ec2_profiles(run)
    assert len(run.of_type(LAUNCH_TEMPLATE)) == len(profiles) >= 1
    for profile in profiles:
        template = _of_profile(run, LAUNCH_TEMPLATE, profile["name"])
        inputs = template.inputs
        assert inputs["metadataOptions"] == {
            "httpEndpoint": "enabled",
            "httpTokens": "required",
            "httpPutResponseHopLimit": 1,
            "instanceMetadataTags": "disabled",
        }
        (device,) = inputs["blockDeviceMappings"]
        assert device["deviceName"] == "/dev/xvda"
        assert device["ebs"] == {
            "volumeSize": profile.get("rootVolumeGib", 30),
            "volumeType": "gp3",
            "encrypted": True,
            "deleteOnTermination": True,
        }
        assert "keyName" not in inputs
        architecture = profile.get("architecture", "X86_64")
        assert inputs["imageId"] == f"resolve:ssm:{AMI_PARAMETERS[architecture]}"
        assert inputs["iamInstanceProfile"] == {"arn": instance_profile.arn}
        script = base64.b64decode(inputs["userData"]).decode()
        assert f"ECS_CLUSTER={cluster.state['name']}\n" in script
        assert "ECS_DISABLE_PRIVILEGED=true\n" in script
        assert "ECS_AWSVPC_BLOCK_IMDS=true\n" in script
        assert ("groupmod --gid 10001 docker" in script) is profile.get("docker", False)
        validate_request("ec2", "CreateLaunchTemplate", launch_template_request(inputs))


def test_the_ssm_parameters_are_aws_public_ecs_optimised_amis() -> None:
    for architecture, parameter in AMI_PARAMETERS.items():
        assert parameter.startswith("/aws/service/ecs/optimized-ami/amazon-linux-2023/")
        assert ("/arm64/" in parameter) is (architecture == "ARM64")


# --- Auto Scaling group and capacity provider ---------------------------------------------------


def test_the_group_starts_at_zero_over_the_agent_subnets_with_mixed_instances(
    run: ProgramRun,
) -> None:
    launch = _lambda_env(run, "workflow-launch")["ADOSCALE_SUBNETS"].split(",")
    for profile in ec2_profiles(run):
        group = _of_profile(run, GROUP, profile["name"]).inputs
        template = _of_profile(run, LAUNCH_TEMPLATE, profile["name"])
        assert group["minSize"] == 0
        assert group["maxSize"] == profile.get("maxInstances", 10)
        assert "desiredCapacity" not in group  # ECS managed scaling owns it
        assert group["protectFromScaleIn"] is True
        assert group["vpcZoneIdentifiers"] == launch
        policy = group["mixedInstancesPolicy"]
        # new instances take the template's current version ("$Default" follows updates)
        assert policy["launchTemplate"]["launchTemplateSpecification"]["version"] == "$Default"
        assert policy["launchTemplate"]["launchTemplateSpecification"]["launchTemplateId"] == (
            template.id
        )
        assert [o["instanceType"] for o in policy["launchTemplate"]["overrides"]] == profile[
            "instanceTypes"
        ]
        spot = profile.get("spotPercentage", 0)
        distribution = policy["instancesDistribution"]
        assert distribution["onDemandBaseCapacity"] == 0
        assert distribution["onDemandPercentageAboveBaseCapacity"] == 100 - spot
        assert group["capacityRebalance"] is (spot > 0)
        assert {"key": "AmazonECSManaged", "value": "true", "propagateAtLaunch": True} in group[
            "tags"
        ]
        validate_request("autoscaling", "CreateAutoScalingGroup", group_request(group, template.id))


def test_capacity_provider_scales_to_target_100_with_termination_protection(
    run: ProgramRun,
) -> None:
    for profile in ec2_profiles(run):
        provider = _of_profile(run, PROVIDER, profile["name"]).inputs
        group = _of_profile(run, GROUP, profile["name"])
        assert provider["name"] == f"adoscale-test-{profile['name']}"
        settings = provider["autoScalingGroupProvider"]
        assert settings["autoScalingGroupArn"] == group.arn
        assert settings["managedTerminationProtection"] == "ENABLED"
        assert settings["managedScaling"]["status"] == "ENABLED"
        assert settings["managedScaling"]["targetCapacity"] == 100
        request = {
            "name": provider["name"],
            "autoScalingGroupProvider": settings,
            "tags": _tag_list(provider["tags"], "key", "value"),
        }
        validate_request("ecs", "CreateCapacityProvider", request)


def test_the_cluster_offers_fargate_spot_and_every_ec2_provider(run: ProgramRun) -> None:
    (association,) = run.of_type(ASSOCIATION)
    names = [_of_profile(run, PROVIDER, p["name"]).inputs["name"] for p in ec2_profiles(run)]
    assert association.inputs["capacityProviders"] == ["FARGATE", "FARGATE_SPOT", *names]
    # the default strategy stays Fargate: a RunTask without a strategy never boots an instance
    assert association.inputs["defaultCapacityProviderStrategies"] == [
        {"capacityProvider": "FARGATE", "weight": 1, "base": 0}
    ]
    validate_request(
        "ecs",
        "PutClusterCapacityProviders",
        {
            "cluster": association.inputs["clusterName"],
            "capacityProviders": association.inputs["capacityProviders"],
            "defaultCapacityProviderStrategy": association.inputs[
                "defaultCapacityProviderStrategies"
            ],
        },
    )


def test_a_fargate_only_stack_declares_no_instances() -> None:
    run = cached_run({})
    for typ in (LAUNCH_TEMPLATE, GROUP, PROVIDER, "aws:iam/instanceProfile:InstanceProfile"):
        assert run.of_type(typ) == [], typ
    (association,) = run.of_type(ASSOCIATION)
    assert association.inputs["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    assert capacity.loads(_lambda_env(run, "workflow-launch")["ADOSCALE_PROFILE_LAUNCH"]) == {}


# --- task definitions ------------------------------------------------------------------------


def test_ec2_task_definitions_require_ec2_and_run_the_agent_as_non_root(run: ProgramRun) -> None:
    for profile in ec2_profiles(run):
        definition = run.named(f"agents-{profile['name']}", "TaskDefinition").inputs
        assert definition["requiresCompatibilities"] == ["EC2"]
        assert definition["networkMode"] == "awsvpc"
        assert "ephemeralStorage" not in definition  # Fargate only
        containers = json.loads(definition["containerDefinitions"])
        (agent,) = [c for c in containers if c["name"] == "agent"]
        uid, gid = agent["user"].split(":")
        assert int(uid) != 0
        assert int(gid) != 0
        assert agent["privileged"] is False
        for container in containers:
            assert not container.get("privileged"), container["name"]
        socket = {
            "sourceVolume": "docker-socket",
            "containerPath": "/var/run/docker.sock",
            "readOnly": False,
        }
        handover = {"sourceVolume": "pat-handover", "containerPath": "/run/adoscale"}
        if profile.get("docker"):
            assert agent["mountPoints"] == [handover, socket]
            assert definition["volumes"] == [
                {"name": "pat-handover"},
                {"name": "docker-socket", "hostPath": "/var/run/docker.sock"},
            ]
        else:
            assert socket not in agent.get("mountPoints", [])
            assert definition["volumes"] == [{"name": "pat-handover"}]
        validate_request("ecs", "RegisterTaskDefinition", task_definition_request(definition))


def test_fargate_task_definitions_are_unchanged_by_ec2_profiles(run: ProgramRun) -> None:
    definition = run.named("agents-default", "TaskDefinition").inputs
    assert definition["requiresCompatibilities"] == ["FARGATE"]
    assert definition["ephemeralStorage"] == {"sizeInGib": 21}
    (agent,) = [c for c in json.loads(definition["containerDefinitions"]) if c["name"] == "agent"]
    assert "user" not in agent
    assert agent["mountPoints"] == [
        {"sourceVolume": "pat-handover", "containerPath": "/run/adoscale"}
    ]
    validate_request("ecs", "RegisterTaskDefinition", task_definition_request(definition))


# --- IAM ---------------------------------------------------------------------------------------

INSTANCE_ACTIONS = {
    "ecs:DeregisterContainerInstance",
    "ecs:RegisterContainerInstance",
    "ecs:SubmitAttachmentStateChanges",
    "ecs:SubmitContainerStateChange",
    "ecs:SubmitTaskStateChange",
    "ecs:Poll",
    "ecs:StartTelemetrySession",
    "ecs:UpdateContainerInstancesState",
    "ecs:DiscoverPollEndpoint",
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
}


def test_the_instance_role_has_only_what_the_ecs_agent_and_sessions_need(run: ProgramRun) -> None:
    role = run.named("agents-ec2-instance", "Role")
    (cluster,) = run.of_type("aws:ecs/cluster:Cluster")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    ]
    statements = [s for name, s in role_statements(run) if name == "agents-ec2-instance"]
    actions = {action for s in statements for action in s["Action"]}
    assert actions == INSTANCE_ACTIONS
    for statement in statements:
        ecs_cluster_bound = [a for a in statement["Action"] if a.startswith("ecs:")] and (
            statement["Action"] != ["ecs:DiscoverPollEndpoint"]
        )
        if ecs_cluster_bound:
            scoped_to_cluster = statement["Resource"] == [cluster.arn] or statement.get(
                "Condition"
            ) == {"ArnEquals": {"ecs:cluster": cluster.arn}}
            assert scoped_to_cluster, statement
    attachments = [
        a
        for a in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.inputs["role"] == role.state["name"]
    ]
    assert attachments == []  # no managed policy: nothing beyond the statements above


def test_the_instance_profile_is_used_only_by_the_launch_templates(run: ProgramRun) -> None:
    (instance_profile,) = run.of_type("aws:iam/instanceProfile:InstanceProfile")
    role = run.named("agents-ec2-instance", "Role")
    assert instance_profile.inputs["role"] == role.state["name"]
    users = {
        resource.typ
        for resource in run.resources
        if resource is not instance_profile
        and (
            instance_profile.arn in json.dumps(resource.inputs)
            or role.arn in json.dumps(resource.inputs)
        )
    }
    assert users == {LAUNCH_TEMPLATE}  # no Lambda may pass it, no other resource holds it


# --- what the Lambdas are told ------------------------------------------------------------------


def _lambda_env(run: ProgramRun, name: str) -> dict[str, str]:
    function = run.named(f"{name}-function", "Function")
    variables: dict[str, str] = function.inputs["environment"]["variables"]
    return variables


@pytest.mark.parametrize("function", LAMBDAS)
def test_the_lambdas_learn_each_profiles_capacity_provider_and_boot_timeout(
    run: ProgramRun, function: str
) -> None:
    variables = _lambda_env(run, function)
    settings = load_settings(variables)
    for profile in ec2_profiles(run):
        launch = settings.launch_of(profile["name"])
        provider = _of_profile(run, PROVIDER, profile["name"]).inputs["name"]
        assert launch.capacity_provider == provider
        assert launch.one_per_instance is profile.get("docker", False)
        assert settings.boot_timeout_for(profile["name"]) == profile.get("bootTimeoutSeconds", 600)
    assert settings.launch_of("default").capacity_provider is None
    assert settings.boot_timeout_for("default") == settings.boot_timeout_seconds


# --- config -----------------------------------------------------------------------------------


def _problems(profiles: list[dict[str, Any]], **extra: Any) -> list[str]:
    overrides = {"adoscale:agentProfiles": [{"name": "default"}, *profiles], **extra}
    with pytest.raises(StackConfigError) as caught:
        run_program(config_values(overrides))
    return caught.value.problems


@pytest.mark.parametrize(
    ("profile", "line"),
    [
        (
            {"name": "b", "capacity": "ec2"},
            "adoscale:agentProfiles[1].instanceTypes: required when capacity is ec2",
        ),
        (
            {"name": "b", "capacity": "ec2", "instanceTypes": ["m7g.large"]},
            "adoscale:agentProfiles[1].instanceTypes: not X86_64 instance types: m7g.large",
        ),
        (
            {
                "name": "b",
                "capacity": "ec2",
                "architecture": "ARM64",
                "instanceTypes": ["m7i.large"],
            },
            "adoscale:agentProfiles[1].instanceTypes: not ARM64 instance types: m7i.large",
        ),
        (
            {"name": "b", "capacity": "ec2", "instanceTypes": ["large"]},
            "adoscale:agentProfiles[1].instanceTypes[0]: not an EC2 instance type",
        ),
        (
            {"name": "b", "capacity": "vm"},
            "adoscale:agentProfiles[1].capacity: Must be one of: fargate, ec2",
        ),
        ({"name": "b", "docker": True}, "adoscale:agentProfiles[1].docker: only for capacity ec2"),
        (
            {**BUILDER, "name": "b", "ephemeralStorageGib": 50},
            "adoscale:agentProfiles[1].ephemeralStorageGib: only for capacity fargate",
        ),
        (
            {"name": "b", "capacity": "ec2", "instanceTypes": ["m7i.large"], "rootVolumeGib": 8},
            "adoscale:agentProfiles[1].rootVolumeGib: Must be greater than or equal to 30",
        ),
        (
            {"name": "b", "capacity": "ec2", "instanceTypes": ["m7i.large"], "spotPercentage": 101},
            "adoscale:agentProfiles[1].spotPercentage: Must be greater than or equal to 0",
        ),
        (
            {"name": "b", "capacity": "ec2", "instanceTypes": ["m5.large"], "cpu": 64},
            "adoscale:agentProfiles[1].cpu: must be 128..196608 cpu units for capacity ec2",
        ),
    ],
    ids=[
        "no-types",
        "arm-type-on-x86",
        "x86-type-on-arm",
        "not-a-type",
        "unknown-capacity",
        "docker-on-fargate",
        "ephemeral-storage-on-ec2",
        "small-root",
        "spot-over-100",
        "tiny-cpu",
    ],
)
def test_a_bad_ec2_profile_fails_naming_the_field(profile: dict[str, Any], line: str) -> None:
    problems = _problems([profile])
    assert len(problems) == 1, problems
    assert problems[0].startswith(line), problems


def test_ec2_profiles_refuse_public_addresses() -> None:
    problems = _problems(
        [BUILDER],
        **{
            "adoscale:network": {
                "mode": "existing",
                "subnetIds": ["subnet-0aaaaaaaaaaaaaaa1"],
                "securityGroupIds": ["sg-0bbbbbbbbbbbbbbb1"],
                "assignPublicIp": True,
            }
        },
    )
    assert len(problems) == 1
    assert problems[0].startswith("adoscale:network: assignPublicIp")
    assert "builder" in problems[0]


@pytest.mark.parametrize(
    ("instance_type", "graviton"),
    [
        ("m7g.large", True),
        ("c6gn.xlarge", True),
        ("t4g.micro", True),
        ("a1.medium", True),
        ("r8g.2xlarge", True),
        ("m7i.large", False),
        ("m5.large", False),
        ("c7a.large", False),
        ("g5.xlarge", False),
        ("m7i-flex.large", False),
    ],
)
def test_graviton_instance_types_are_told_apart(instance_type: str, graviton: bool) -> None:
    assert is_graviton(instance_type) is graviton


def test_endpoints_for_the_instances_only_when_a_profile_is_on_ec2() -> None:
    endpoints = {"network": {"mode": "endpoints", "vpcCidr": "10.20.0.0/16"}}
    fargate = cached_run({"adoscale:network": endpoints["network"]})
    mixed = cached_run({**MIXED, "adoscale:network": endpoints["network"]})

    def services(run: ProgramRun) -> set[str]:
        return {
            e.inputs["serviceName"].rsplit(".", 1)[-1]
            for e in run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        }

    instance_services = {"ecs", "ecs-agent", "ecs-telemetry", "ssm", "ssmmessages"}
    assert not services(fargate) & instance_services
    assert services(mixed) - services(fargate) == instance_services
