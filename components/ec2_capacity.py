"""Ec2Capacity: EC2 instances for agent profiles with ``capacity: ec2``.

Fargate has no Docker daemon and no privileged mode, so a job that builds images needs an
instance. Per ec2 profile this declares:

- a launch template: the ECS-optimised Amazon Linux 2023 AMI, resolved from AWS's public
  SSM parameter at every launch (``resolve:ssm:``, so new instances get the current AMI
  without a stack update); IMDSv2 required with a hop limit of 1, so a container behind
  the instance's network namespace cannot reach the instance's credentials; an encrypted
  gp3 root volume; no SSH key (Session Manager instead); user data that joins the cluster;
- an Auto Scaling group over the agent subnets with a mixed instances policy (the
  profile's ``instanceTypes``, ``spotPercentage`` of them Spot), min 0, instances
  protected from scale-in so that only ECS decides which empty instance goes;
- an ECS capacity provider with managed scaling (target capacity 100: no idle headroom)
  and managed termination protection, so a RunTask on it brings an instance up and an
  instance with no agent left goes away. adoscale never stops an instance itself.

One instance role for all ec2 profiles carries only what the ECS agent and Session
Manager need, scoped to this cluster; its instance profile is used only by the launch
templates. Images are pulled and logs written with the task execution role, not this one.

``ec2_task`` turns a Fargate-shaped task definition into the EC2 one of a profile; the
agent runs as the image's non-root user 10001 whatever the profile. With ``docker: true``
the host's Docker socket is mounted into the agent container and the launch step starts
one agent per instance (see docs/ec2-capacity.md for what that exposes).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components import iam
from components.config import AgentProfile
from components.iam import AwsContext
from components.tagging import named

AGENT_USER = "10001:10001"  # the agent image's user and group (agent/Dockerfile)
DOCKER_SOCKET = "/var/run/docker.sock"
DOCKER_SOCKET_VOLUME = "docker-socket"
ROOT_DEVICE = "/dev/xvda"  # the root device of the Amazon Linux 2023 ECS-optimised AMIs
AMI_PARAMETERS = {
    "X86_64": "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id",
    "ARM64": "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id",
}
# In a VPC without internet (network mode endpoints) the instances reach ECS and Session
# Manager through these interface endpoints.
INTERFACE_ENDPOINTS = ("ecs", "ecs-agent", "ecs-telemetry", "ssm", "ssmmessages")
TARGET_CAPACITY = 100  # percent of the instances' capacity used by tasks: no spare instance
MAX_SCALING_STEP = 10
INSTANCE_WARMUP_SECONDS = 60
# What the ECS container agent and Session Manager call (AmazonEC2ContainerServiceforEC2Role
# and AmazonSSMManagedInstanceCore cut down to this cluster and to sessions). Image pulls and
# logs use the task execution role, so the instances need no ECR or CloudWatch Logs rights.
ECS_AGENT_CLUSTER_ACTIONS = (
    "ecs:DeregisterContainerInstance",
    "ecs:RegisterContainerInstance",
    "ecs:SubmitAttachmentStateChanges",
    "ecs:SubmitContainerStateChange",
    "ecs:SubmitTaskStateChange",
)
ECS_AGENT_INSTANCE_ACTIONS = (
    "ecs:Poll",
    "ecs:StartTelemetrySession",
    "ecs:UpdateContainerInstancesState",
)
ECS_AGENT_UNSCOPED_ACTIONS = ("ecs:DiscoverPollEndpoint",)  # AWS offers no resource for it
SESSION_MANAGER_ACTIONS = (
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
)


def image_id(architecture: str) -> str:
    """The launch template's AMI: AWS's public parameter, resolved when an instance starts."""
    return f"resolve:ssm:{AMI_PARAMETERS[architecture]}"


def user_data(cluster_name: str, docker: bool) -> str:
    """Join the cluster; tasks may not be privileged nor reach the instance metadata.

    With ``docker``, the daemon's socket group becomes the agent's group (10001), so the
    non-root agent can use the socket without any container running as root.
    """
    lines = [
        "#!/bin/bash",
        "set -euo pipefail",
        "cat >>/etc/ecs/ecs.config <<'EOF'",
        f"ECS_CLUSTER={cluster_name}",
        "ECS_DISABLE_PRIVILEGED=true",
        "ECS_AWSVPC_BLOCK_IMDS=true",
        "ECS_ENABLE_TASK_IAM_ROLE=true",
        "ECS_ENABLE_SPOT_INSTANCE_DRAINING=true",
        "ECS_IMAGE_PULL_BEHAVIOR=prefer-cached",
        "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION=1m",
        "EOF",
    ]
    if docker:
        lines += [
            "groupmod --gid 10001 docker",
            "systemctl try-restart docker.socket docker.service",
        ]
    return "\n".join(lines) + "\n"


def ec2_task(
    profile: AgentProfile,
    containers: list[dict[str, Any]],
    options: dict[str, Any],
    agent_container: str,
) -> None:
    """Make a profile's Fargate-shaped task definition (changed in place) one for EC2.

    ECS rejects ephemeral storage outside Fargate: the instance's root volume
    (``rootVolumeGib``) holds the task's files.
    """
    options["requires_compatibilities"] = ["EC2"]
    options.pop("ephemeral_storage", None)
    (agent,) = [container for container in containers if container["name"] == agent_container]
    agent["user"] = AGENT_USER
    agent["privileged"] = False
    if profile.docker:
        options["volumes"] = [
            *options.get("volumes", []),
            aws.ecs.TaskDefinitionVolumeArgs(name=DOCKER_SOCKET_VOLUME, host_path=DOCKER_SOCKET),
        ]
        agent["mountPoints"] = [
            *agent.get("mountPoints", []),
            {
                "sourceVolume": DOCKER_SOCKET_VOLUME,
                "containerPath": DOCKER_SOCKET,
                "readOnly": False,
            },
        ]


@dataclass
class Ec2CapacityArgs:
    context: AwsContext
    resource_prefix: str  # capacity providers are named <prefix>-<profile>
    cluster_name: pulumi.Input[str]
    cluster_arn: pulumi.Input[str]
    profiles: Sequence[AgentProfile]  # the ec2 ones
    subnet_ids: pulumi.Input[Sequence[str]]
    security_group_ids: pulumi.Input[Sequence[str]]
    tags: Mapping[str, str]


class Ec2Capacity(pulumi.ComponentResource):
    instance_role: aws.iam.Role
    instance_profile: aws.iam.InstanceProfile
    launch_templates: dict[str, aws.ec2.LaunchTemplate]
    groups: dict[str, aws.autoscaling.Group]
    providers: dict[str, aws.ecs.CapacityProvider]
    provider_names: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: Ec2CapacityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("adoscale:ec2_capacity:Ec2Capacity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        self.instance_role = aws.iam.Role(
            f"{name}-instance",
            description="adoscale agent instances: the ECS agent and Session Manager only",
            assume_role_policy=iam.assume_role_policy(
                "ec2.amazonaws.com", source_account=args.context.account_id
            ),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-instance",
            role=self.instance_role.id,
            policy=self.instance_policy(args),
            opts=child,
        )
        self.instance_profile = aws.iam.InstanceProfile(
            f"{name}-instance", role=self.instance_role.name, tags=tags, opts=child
        )
        self.launch_templates, self.groups, self.providers = {}, {}, {}
        for profile in args.profiles:
            self._profile(name, profile, args, tags)
        self.provider_names = {
            profile: provider.name for profile, provider in self.providers.items()
        }
        self.register_outputs(
            {
                "instance_role_arn": self.instance_role.arn,
                "capacity_providers": pulumi.Output.all(**self.provider_names),
            }
        )

    @staticmethod
    def instance_policy(args: Ec2CapacityArgs) -> pulumi.Output[str]:
        instances = args.context.arn(
            "ecs", pulumi.Output.concat("container-instance/", args.cluster_name, "/*")
        )
        return iam.document(
            [
                iam.allow(list(ECS_AGENT_CLUSTER_ACTIONS), [args.cluster_arn]),
                iam.allow(
                    list(ECS_AGENT_INSTANCE_ACTIONS),
                    [instances],
                    condition={"ArnEquals": {"ecs:cluster": args.cluster_arn}},
                ),
                iam.allow(list(ECS_AGENT_UNSCOPED_ACTIONS), ["*"]),
                # Session Manager's channel actions have no resources; the instance's own
                # registration is the narrowest form there is.
                iam.allow(list(SESSION_MANAGER_ACTIONS), ["*"]),
            ]
        )

    def _profile(
        self, name: str, profile: AgentProfile, args: Ec2CapacityArgs, tags: dict[str, str]
    ) -> None:
        child = pulumi.ResourceOptions(parent=self)
        label = f"{name}-{profile.name}"
        instance_tags = named({**tags, "adoscale:profile": profile.name}, label)
        template = aws.ec2.LaunchTemplate(
            label,
            description=f"adoscale agents of profile {profile.name}",
            image_id=image_id(profile.architecture),
            iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(
                arn=self.instance_profile.arn
            ),
            vpc_security_group_ids=args.security_group_ids,
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=1,
                instance_metadata_tags="disabled",
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name=ROOT_DEVICE,
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=profile.root_volume_gib,
                        volume_type="gp3",
                        encrypted=True,
                        delete_on_termination=True,
                    ),
                )
            ],
            monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=False),
            user_data=pulumi.Output.from_input(args.cluster_name).apply(
                lambda cluster: base64.b64encode(
                    user_data(cluster, profile.docker).encode()
                ).decode()
            ),
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=instance_tags)
                for kind in ("instance", "volume", "network-interface")
            ],
            update_default_version=True,
            tags=tags,
            opts=child,
        )
        on_demand = 100 - profile.spot_percentage
        group = aws.autoscaling.Group(
            label,
            min_size=0,
            max_size=profile.max_instances,
            vpc_zone_identifiers=args.subnet_ids,
            protect_from_scale_in=True,  # managed termination protection needs it
            capacity_rebalance=profile.spot_percentage > 0,
            mixed_instances_policy=aws.autoscaling.GroupMixedInstancesPolicyArgs(
                launch_template=aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateArgs(
                    launch_template_specification=aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateLaunchTemplateSpecificationArgs(
                        launch_template_id=template.id, version="$Default"
                    ),
                    overrides=[
                        aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateOverrideArgs(
                            instance_type=instance_type
                        )
                        for instance_type in profile.instance_types
                    ],
                ),
                instances_distribution=aws.autoscaling.GroupMixedInstancesPolicyInstancesDistributionArgs(
                    on_demand_base_capacity=0,
                    on_demand_percentage_above_base_capacity=on_demand,
                    on_demand_allocation_strategy="prioritized",
                    spot_allocation_strategy="price-capacity-optimized",
                ),
            ),
            tags=[
                # the launch template tags instances; ECS expects its marker on them too
                aws.autoscaling.GroupTagArgs(
                    key=key, value=value, propagate_at_launch=key == "AmazonECSManaged"
                )
                for key, value in sorted({**tags, "AmazonECSManaged": "true"}.items())
            ],
            # ECS's managed scaling owns the desired count from here on.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desiredCapacity"]),
        )
        provider = aws.ecs.CapacityProvider(
            label,
            name=f"{args.resource_prefix}-{profile.name}",
            auto_scaling_group_provider=aws.ecs.CapacityProviderAutoScalingGroupProviderArgs(
                auto_scaling_group_arn=group.arn,
                managed_termination_protection="ENABLED",
                managed_draining="ENABLED",
                managed_scaling=aws.ecs.CapacityProviderAutoScalingGroupProviderManagedScalingArgs(
                    status="ENABLED",
                    target_capacity=TARGET_CAPACITY,
                    minimum_scaling_step_size=1,
                    maximum_scaling_step_size=MAX_SCALING_STEP,
                    instance_warmup_period=INSTANCE_WARMUP_SECONDS,
                ),
            ),
            tags=tags,
            opts=child,
        )
        self.launch_templates[profile.name] = template
        self.groups[profile.name] = group
        self.providers[profile.name] = provider
